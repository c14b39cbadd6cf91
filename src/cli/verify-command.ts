import { loadConfig } from '../config/config';
import { verifyChain } from '../core/recording/chain';
import { Journal } from '../core/recording/journal';
import { UsageError } from './usage-error';

export const verifyUsage = `airlock verify --config FILE

Checks every recorded session in the config's recordings folder: each event's hash, and that no event
is missing or out of order. Exits 1 naming every problem.`;

export function verifyCommand(options: { config?: string }): number {
  if (!options.config) throw new UsageError('airlock verify needs --config FILE', verifyUsage);
  const config = loadConfig(options.config);
  if (!config.recordings) throw new UsageError(`${options.config} names no recordings folder`, verifyUsage);
  const { events, damaged } = Journal.read(config.recordings);
  const problems = verifyChain(events);
  const sessions = new Set(events.map((e) => e.sessionId));
  for (const d of damaged) process.stdout.write(`journal line ${d.line}: ${d.problem}\n`);
  for (const p of problems) process.stdout.write(`session ${p.sessionId}, event ${p.seq}: ${p.problem}\n`);
  const torn = damaged.filter((d) => d.problem.startsWith('torn last line')).length;
  const bad = problems.length + damaged.length - torn;
  process.stdout.write(
    `${sessions.size} session(s), ${events.length} event(s): ${bad === 0 ? 'verified' : `${bad} problem(s)`}\n`,
  );
  return bad === 0 ? 0 : 1;
}
