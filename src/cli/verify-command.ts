import { loadConfig } from '../config/config';
import { verifyRecordings } from '../core/recording/verify';
import { UsageError } from './usage-error';
import { writeText } from './human-output';

export const verifyUsage = `airlock verify --config FILE [--public-key PEM]

Checks every recorded session in the config's recordings folder: each event's hash, that no event is
missing or out of order, that each is an event of the recording schema, and each session's signed
checkpoint (events cut off a session's end show).
--public-key pins the installation key to check signatures with (a copy kept elsewhere); without it
the folder's keys/installation-ed25519.pub.pem is used. Exits 1 naming every problem.`;

export function verifyCommand(options: { config?: string; 'public-key'?: string }): number {
  if (!options.config) throw new UsageError('airlock verify needs --config FILE', verifyUsage);
  const config = loadConfig(options.config);
  if (!config.recordings) throw new UsageError(`${options.config} names no recordings folder`, verifyUsage);
  const report = verifyRecordings(config.recordings, { publicKey: options['public-key'] });
  const out = (line: string) => writeText(process.stdout, line + '\n');
  for (const d of report.damaged) out(`journal line ${d.line}: ${d.problem}`);
  for (const d of report.torn)
    out(`journal line ${d.line}: ${d.problem} (not an error: nothing in it was acknowledged)`);
  for (const p of report.problems) out(`session ${p.sessionId}, event ${p.seq}: ${p.problem}`);
  for (const id of report.live)
    out(`session ${id}: live (still being recorded; its checkpoint comes at its end)`);
  const bad = report.problems.length + report.damaged.length;
  out(
    `${report.sessions} session(s), ${report.events} event(s): ${bad === 0 ? 'verified' : `${bad} problem(s)`}`,
  );
  return bad === 0 ? 0 : 1;
}
