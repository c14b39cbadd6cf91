import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { loadConfig } from '../config/config';
import { EXPORT_FORMATS, type ExportFormat, type RecordedEvent } from '../core/recording/events';
import { OcsfConverter, writeExport } from '../core/recording/export';
import { RecordingStore, type SessionFilter, type SessionSummary } from '../core/recording/store';
import { UsageError } from './usage-error';
import { writeText } from './human-output';
import { actorLabel, attribution } from '../core/identity/actor';
import { printable } from '../core/text/printable';

export const sessionsUsage = `airlock sessions list|show|export --config FILE …

  list   [--connection NAME] [--actor USER|AGENT] [--since TIME] [--until TIME] [--decision allow|deny]
         [--live] [--limit N] [--json]
         the recorded sessions, newest first
  show   ID [--json]
         a session's events in order (ID may be shortened to any unique prefix)
  export (ID | --all [filters of list]) --format jsonl|ocsf [--out FILE]
         jsonl: the events exactly as recorded (each line verifiable); ocsf: OCSF 1.3 events
         (Datastore Activity, Authentication, Authorize Session) for a SIEM`;

export interface SessionsOptions {
  config?: string;
  connection?: string;
  actor?: string;
  since?: string;
  until?: string;
  decision?: string;
  live?: boolean;
  limit?: string;
  json?: boolean;
  all?: boolean;
  format?: string;
  out?: string;
}

export async function sessionsCommand(
  sub: string | undefined,
  args: string[],
  options: SessionsOptions,
  stdout: Writable = process.stdout,
): Promise<number> {
  if (!options.config) throw new UsageError('airlock sessions needs --config FILE', sessionsUsage);
  const config = loadConfig(options.config);
  if (!config.recordings) throw new UsageError(`${options.config} names no recordings folder`, sessionsUsage);
  const store = await RecordingStore.open(config.recordings);
  try {
    switch (sub) {
      case 'list':
        return list(store, filterOf(options), options.json === true, stdout);
      case 'show':
        return show(store, sessionArg(store, args), options.json === true, stdout);
      case 'export':
        return await exportSessions(store, args, options, stdout);
      default:
        throw new UsageError(
          sub ? `unknown sessions command "${sub}"` : 'which sessions command?',
          sessionsUsage,
        );
    }
  } finally {
    store.save();
    store.close();
  }
}

function filterOf(o: SessionsOptions): SessionFilter {
  if (o.decision !== undefined && o.decision !== 'allow' && o.decision !== 'deny')
    throw new UsageError(`--decision must be allow or deny, not "${o.decision}"`, sessionsUsage);
  const limit = o.limit === undefined ? undefined : Number(o.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0))
    throw new UsageError(`--limit must be a positive whole number`, sessionsUsage);
  return {
    connection: o.connection,
    actor: o.actor,
    since: o.since,
    until: o.until,
    decision: o.decision,
    live: o.live ? true : undefined,
    limit,
  };
}

function sessionArg(store: RecordingStore, args: string[]): SessionSummary {
  if (args.length !== 1) throw new UsageError('name one session ID', sessionsUsage);
  const s = store.session(args[0]);
  if (!s) throw new Error(`no recorded session "${args[0]}" (airlock sessions list shows them)`);
  return s;
}

function list(store: RecordingStore, filter: SessionFilter, json: boolean, out: Writable): number {
  const sessions = store.sessions(filter);
  if (json) {
    out.write(JSON.stringify(sessions, null, 2) + '\n');
    return 0;
  }
  if (sessions.length === 0) {
    writeText(out, 'no recorded sessions match\n');
    return 0;
  }
  const rows = sessions.map((s) => [
    s.id.slice(0, 8),
    s.started.replace('T', ' ').slice(0, 19),
    s.connection,
    s.user,
    s.agent ?? (s.channel ? '(no name)' : '-'),
    s.agent || s.channel ? attribution(s) : '-',
    String(s.statements),
    String(s.denials),
    s.live ? 'live' : s.interrupted ? 'interrupted' : 'ended',
    s.integrity === 'live' ? '-' : s.integrity,
  ]);
  writeText(
    out,
    table(
      [
        'ID',
        'STARTED (UTC)',
        'CONNECTION',
        'USER',
        'AGENT',
        'AGENT NAME IS',
        'STATEMENTS',
        'DENIED',
        'STATE',
        'RECORD',
      ],
      rows,
    ),
  );
  return 0;
}

function show(store: RecordingStore, indexed: SessionSummary, json: boolean, out: Writable): number {
  // The verdict of the events shown, checked as they are read.
  const { session: s, events } = store.record(indexed.id) ?? { session: indexed, events: [] };
  if (json) {
    out.write(JSON.stringify({ session: s, events }, null, 2) + '\n');
    return 0;
  }
  writeText(
    out,
    `session ${s.id}\n  connection ${s.connection}, ${actorLabel(s)}, from ${s.client}\n` +
      `  ${s.started} → ${s.ended ?? (s.live ? 'live' : 'not ended')}${s.endReason ? ` (${s.endReason})` : ''}\n` +
      `  ${s.statements} statement(s), ${s.denials} denied, ${s.approvals} approved on review` +
      `${s.policy ? `; policy ${s.policy}` : ''}\n` +
      `  record: ${s.integrity}${s.integrityProblem ? ` — ${s.integrityProblem}` : ''}\n` +
      (store.damaged.length
        ? `  ${store.damaged.length} line(s) of the journal are not readable events and were skipped (airlock verify names them)\n`
        : '') +
      '\n',
  );
  for (const e of events) writeText(out, describeEvent(e));
  return 0;
}

function describeEvent(e: RecordedEvent): string {
  const head = `#${e.seq} ${e.time.slice(11, 23)} `;
  switch (e.type) {
    case 'statement': {
      const d = e.data;
      const review = d.review;
      const lines = [
        `${head}${d.decision.toUpperCase()} (${d.rule})` +
          (d.durationMs !== undefined ? ` ${d.durationMs} ms` : '') +
          (d.tags?.length ? ` → ${d.tags.join(', ')}` : ''),
        `    ${d.sql.replace(/\n/g, '\n    ')}`,
      ];
      if (review)
        lines.push(
          `    review: ${review.outcome}${review.approver ? ` by ${review.approver}` : ''} after ${review.waitMs} ms` +
            (review.scope === 'session' ? ' (for the session)' : ''),
        );
      if (d.reason) lines.push(`    reason: ${d.reason}`);
      if (d.error) lines.push(`    error ${d.error.code}: ${d.error.message}`);
      const sample = d.sample;
      if (sample && sample.rows.length) {
        const t = table(
          sample.columns,
          sample.rows.map((r) => r.map((v) => v ?? 'NULL')),
        );
        lines.push(
          t.trimEnd().replace(/^/gm, '    ') + (sample.truncated ? '\n    … (sample truncated)' : ''),
        );
      }
      return lines.join('\n') + '\n';
    }
    case 'checkpoint':
      return `${head}checkpoint: signed (key ${e.data.key}) over event ${e.data.seq}\n`;
    default:
      return `${head}${e.type} ${JSON.stringify(e.data)}\n`;
  }
}

async function exportSessions(
  store: RecordingStore,
  args: string[],
  o: SessionsOptions,
  stdout: Writable,
): Promise<number> {
  const format = o.format as ExportFormat | undefined;
  if (!format || !EXPORT_FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}`, sessionsUsage);
  if (o.all === args.length > 0) throw new UsageError('give one session ID or --all', sessionsUsage);
  const sessions = o.all ? store.sessions(filterOf(o)).reverse() : [sessionArg(store, args)];
  const out = o.out ? createWriteStream(o.out, { mode: 0o600 }) : stdout;
  // One converter for all sessions: OCSF events repeat their session's context.
  const ocsf = new OcsfConverter();
  let count = 0;
  for (const s of sessions) count += await writeExport(out, store.events(s.id), format, ocsf);
  if (o.out) {
    out.end();
    await once(out, 'finish');
    process.stderr.write(
      `${count} ${format} event(s) from ${sessions.length} session(s) written to ${o.out}\n`,
    );
  }
  return 0;
}

/** Cells are made printable first: a hidden character never shifts a column. */
function table(header: string[], cells: string[][]): string {
  const rows = cells.map((r) => r.map((c) => printable(c)));
  const widths = header.map((h, i) =>
    Math.min(60, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c.length > widths[i] ? c.slice(0, widths[i] - 1) + '…' : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
