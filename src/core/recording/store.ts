import { createHash, type Hash, type KeyObject } from 'node:crypto';
import {
  closeSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import initSqlJs, { type Database, type SqlValue } from 'sql.js';
import type { RecordedEvent, SessionIntegrity, SessionSummary } from './events';
import { scanEvents } from './event-reader';
import { JOURNAL_FILE, type JournalDamage } from './journal';
import { liveWriter } from './writer-lock';
import { chainAfter, chainProblems, type ChainPosition, type ChainedEvent } from './chain';
import { verificationKey } from './checkpoint';
import { checkpointCoverage } from './verify';
import type { AgentChannel } from '../identity/actor';

export type { SessionSummary } from './events';

export interface SessionFilter {
  connection?: string;
  /** Matches the human (user) or the agent / application, exactly. */
  actor?: string;
  /** ISO times or anything Date parses; sessions that started in [since, until). */
  since?: string;
  until?: string;
  /** `deny`: sessions with a denied statement; `allow`: sessions without one. */
  decision?: 'allow' | 'deny';
  live?: boolean;
  limit?: number;
}

export interface Follower {
  close(): void;
}

const INDEX_FILE = 'index.sqlite';
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, connection TEXT NOT NULL DEFAULT '', user TEXT NOT NULL DEFAULT '',
  agent TEXT, channel TEXT, application TEXT, client TEXT NOT NULL DEFAULT '', policy TEXT,
  started TEXT NOT NULL, ended TEXT, end_reason TEXT, interrupted INTEGER NOT NULL DEFAULT 0,
  events INTEGER NOT NULL DEFAULT 0, statements INTEGER NOT NULL DEFAULT 0,
  denials INTEGER NOT NULL DEFAULT 0, approvals INTEGER NOT NULL DEFAULT 0,
  checkpoint INTEGER NOT NULL DEFAULT 0, first_offset INTEGER NOT NULL, last_offset INTEGER NOT NULL,
  chain_seq INTEGER NOT NULL DEFAULT 0, chain_hash TEXT NOT NULL DEFAULT '', integrity_problem TEXT);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (started);
`;

let sqlJs: ReturnType<typeof initSqlJs> | null = null;

/**
 * The recordings index and the replay API. The journal is the record; the index (sql.js, saved as
 * index.sqlite) holds one row per session with where its events lie in the journal, so listing and
 * filtering never read the whole journal and a session is read from its byte range. The index is a
 * cache: it catches up from the journal's end on every refresh and is rebuilt if it does not match.
 */
export class RecordingStore {
  private offset = 0;
  private changed = false;
  /** sha256 of the journal's bytes the index describes, [0, offset): a cache never outlives an edit. */
  private digest = createHash('sha256');
  /**
   * Lines the index skipped since the store was opened: unreadable, or not events of the schema (a
   * garbled or tampered journal). `airlock verify` names them too.
   */
  readonly damaged: JournalDamage[] = [];

  /** The installation key that signs checkpoints, read once (its absence is itself a finding). */
  private readonly key: KeyObject | null;

  private constructor(
    readonly dir: string,
    private db: Database,
  ) {
    this.key = verificationKey(dir);
  }

  /** Opens the folder's index (creating or rebuilding it as needed) and catches up with the journal. */
  static async open(dir: string): Promise<RecordingStore> {
    const SQL = await (sqlJs ??= initSqlJs());
    let db: Database;
    try {
      db = new SQL.Database(readFileSync(path.join(dir, INDEX_FILE)));
      db.exec(SCHEMA);
      // An index from before a column was added is rebuilt from the journal (it is only a cache).
      db.exec('SELECT channel, integrity_problem FROM sessions LIMIT 0');
    } catch {
      db = new SQL.Database();
      db.exec(SCHEMA);
    }
    const store = new RecordingStore(dir, db);
    store.offset = Number(store.meta('offset') ?? 0);
    // The index is trusted only for the very bytes it was built from: an edit in place keeps size and head.
    if (!store.matchesJournal() || hashRange(dir, store.digest, 0, store.offset) !== store.meta('digest'))
      store.reset();
    store.refresh();
    return store;
  }

  private meta(key: string): string | undefined {
    const r = this.db.exec('SELECT value FROM meta WHERE key = ?', [key]);
    return r[0]?.values[0]?.[0] as string | undefined;
  }

  private setMeta(key: string, value: string): void {
    this.db.run('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', [key, value]);
  }

  /** The index describes this journal: its first line is the same, and the journal reaches the indexed offset. */
  private matchesJournal(): boolean {
    if (this.offset === 0) return true;
    return this.meta('head') === journalHead(this.dir) && journalSize(this.dir) >= this.offset;
  }

  private reset(): void {
    this.db.exec('DELETE FROM sessions; DELETE FROM meta;');
    this.offset = 0;
    this.digest = createHash('sha256');
    this.damaged.length = 0;
    this.changed = true;
  }

  /** Indexes what the journal gained since the last refresh; true when something was new. */
  refresh(): boolean {
    if (!this.matchesJournal()) this.reset();
    const start = this.offset;
    const upsert = this.db.prepare(
      `INSERT INTO sessions (id, started, first_offset, last_offset) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO NOTHING`,
    );
    const counts = this.db.prepare(
      `UPDATE sessions SET events = events + 1, last_offset = ?,
         statements = statements + ?, denials = denials + ?, approvals = approvals + ? WHERE id = ?`,
    );
    this.db.exec('BEGIN');
    try {
      this.offset = scanEvents(this.dir, this.offset, {
        event: (e, offset) => {
          upsert.run([e.sessionId, e.time, offset, offset]);
          this.checkIntegrity(e);
          const statement = e.type === 'statement';
          const denied = statement && e.data.decision === 'deny' ? 1 : 0;
          const approved = statement && e.data.review?.outcome === 'approved' ? 1 : 0;
          counts.run([offset, statement ? 1 : 0, denied, approved, e.sessionId]);
          this.indexEvent(e);
        },
        damaged: (d) => this.damaged.push(d),
      });
      if (start === 0 && this.offset > 0) this.setMeta('head', journalHead(this.dir));
      this.setMeta('offset', String(this.offset));
      this.setMeta('digest', hashRange(this.dir, this.digest, start, this.offset));
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    } finally {
      upsert.free();
      counts.free();
    }
    if (this.offset !== start) this.changed = true;
    return this.offset !== start;
  }

  /**
   * The same checks as `airlock verify`, kept per session as the journal is indexed (so every reader of
   * sessions sees them): the hash chain, the signed checkpoint, and nothing after it. The first problem
   * found stays the session's.
   */
  private checkIntegrity(e: RecordedEvent): void {
    const row = this.db.exec(
      'SELECT chain_seq, chain_hash, checkpoint, integrity_problem FROM sessions WHERE id = ?',
      [e.sessionId],
    )[0]?.values[0];
    const before: ChainPosition = { seq: Number(row?.[0] ?? 0), hash: String(row?.[1] ?? '') };
    const problems = recordProblems(this.key, e, before, row?.[2] === 1);
    const first = row?.[3] ?? (problems.length ? `event ${e.seq}: ${problems[0]}` : null);
    const after = chainAfter(chained(e), before);
    this.db.run('UPDATE sessions SET chain_seq = ?, chain_hash = ?, integrity_problem = ? WHERE id = ?', [
      after.seq,
      after.hash,
      first,
      e.sessionId,
    ]);
  }

  /**
   * A session with its events and the verdict those very events carry, checked as they are read: what
   * a replay shows is what was verified, even when the journal was edited in place after it was indexed.
   */
  record(id: string): { session: SessionSummary; events: RecordedEvent[] } | undefined {
    const indexed = this.session(id);
    if (!indexed) return undefined;
    const events = this.events(indexed.id);
    let before: ChainPosition = { seq: 0, hash: '' };
    let checkpointed = false;
    let problem: string | undefined;
    for (const e of events) {
      const [first] = recordProblems(this.key, e, before, checkpointed);
      problem ??= first && `event ${e.seq}: ${first}`;
      before = chainAfter(chained(e), before);
      checkpointed ||= e.type === 'checkpoint';
    }
    const session: SessionSummary = {
      ...indexed,
      integrityProblem: undefined,
      integrity: problem ? 'tampered' : checkpointed ? 'verified' : indexed.live ? 'live' : 'incomplete',
      ...(problem ? { integrityProblem: problem } : {}),
    };
    return { session, events };
  }

  /** Drops the index and reads the whole journal again (after a full verification: one verdict everywhere). */
  reindex(): void {
    this.reset();
    this.refresh();
  }

  private indexEvent(e: RecordedEvent): void {
    switch (e.type) {
      case 'session-start': {
        const d = e.data;
        this.db.run(
          `UPDATE sessions SET connection = ?, user = ?, agent = ?, channel = ?, application = ?, client = ?,
             policy = ?, started = ? WHERE id = ?`,
          [
            d.connection,
            d.actor.user,
            d.actor.agent || null,
            d.actor.channel ?? null,
            d.application || null,
            d.client,
            d.policy || null,
            e.time,
            e.sessionId,
          ],
        );
        break;
      }
      case 'session-end':
        this.db.run('UPDATE sessions SET ended = ?, end_reason = ?, interrupted = ? WHERE id = ?', [
          e.time,
          e.data.reason,
          e.data.interrupted === true ? 1 : 0,
          e.sessionId,
        ]);
        break;
      case 'checkpoint':
        this.db.run('UPDATE sessions SET checkpoint = 1 WHERE id = ?', [e.sessionId]);
        break;
    }
  }

  /** Saves the index beside the journal (atomically: a reader never sees half a file). */
  save(): void {
    if (!this.changed) return;
    const file = path.join(this.dir, INDEX_FILE);
    writeFileSync(`${file}.tmp`, this.db.export(), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    this.changed = false;
  }

  sessions(filter: SessionFilter = {}): SessionSummary[] {
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (filter.connection) {
      where.push('connection = ?');
      args.push(filter.connection);
    }
    if (filter.actor) {
      where.push('(user = ? OR agent = ? OR application = ?)');
      args.push(filter.actor, filter.actor, filter.actor);
    }
    if (filter.since) {
      where.push('started >= ?');
      args.push(isoTime(filter.since, 'since'));
    }
    if (filter.until) {
      where.push('started < ?');
      args.push(isoTime(filter.until, 'until'));
    }
    if (filter.decision === 'deny') where.push('denials > 0');
    if (filter.decision === 'allow') where.push('denials = 0');
    const writer = liveWriter(this.dir) !== null;
    const sql = `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY started DESC, id ${filter.limit ? `LIMIT ${Math.max(1, Math.floor(filter.limit))}` : ''}`;
    const out: SessionSummary[] = [];
    const stmt = this.db.prepare(sql, args);
    try {
      while (stmt.step()) out.push(summary(stmt.getAsObject(), writer));
    } finally {
      stmt.free();
    }
    return filter.live === undefined ? out : out.filter((s) => s.live === filter.live);
  }

  /** A session by id or by an unambiguous prefix of it (as `sessions list` shows them shortened). */
  session(idOrPrefix: string): SessionSummary | undefined {
    const like = idOrPrefix.replace(/[%_\\]/g, '\\$&') + '%';
    const r = this.db.exec(`SELECT * FROM sessions WHERE id LIKE ? ESCAPE '\\' LIMIT 2`, [like]);
    const rows = r[0]?.values ?? [];
    if (rows.length !== 1) {
      if (rows.length > 1)
        throw new Error(`"${idOrPrefix}" matches more than one session: give more of the id`);
      return undefined;
    }
    const cols = r[0].columns;
    return summary(Object.fromEntries(cols.map((c, i) => [c, rows[0][i]])), liveWriter(this.dir) !== null);
  }

  /** A session's events in order, read from its byte range of the journal. */
  events(id: string): RecordedEvent[] {
    const r = this.db.exec('SELECT first_offset, last_offset FROM sessions WHERE id = ?', [id]);
    const range = r[0]?.values[0] as [number, number] | undefined;
    if (!range) return [];
    const events: RecordedEvent[] = [];
    scanEvents(this.dir, range[0], { event: (e) => e.sessionId === id && events.push(e) }, range[1] + 1);
    return events;
  }

  /**
   * Follows a session as it is recorded: `onEvents` gets the events after `afterSeq` in order, now and
   * whenever the journal grows, until `close()` (or the session's checkpoint, its last event).
   */
  follow(id: string, afterSeq: number, onEvents: (events: RecordedEvent[]) => void): Follower {
    let last = afterSeq;
    let closed = false;
    // Each delivery reads on from where the previous one stopped (a long live session is not re-read).
    const r = this.db.exec('SELECT first_offset FROM sessions WHERE id = ?', [id]);
    let position = (r[0]?.values[0]?.[0] as number | undefined) ?? this.offset;
    const deliver = () => {
      if (closed) return;
      this.refresh();
      const fresh: RecordedEvent[] = [];
      position = scanEvents(this.dir, position, {
        event: (e) => e.sessionId === id && e.seq > last && fresh.push(e),
      });
      if (fresh.length === 0) return;
      last = fresh[fresh.length - 1].seq;
      onEvents(fresh);
      if (fresh[fresh.length - 1].type === 'checkpoint') stop();
    };
    // inotify where it works; the poll catches what a watcher misses (renames, network filesystems).
    let watcher: ReturnType<typeof watch> | null = null;
    try {
      watcher = watch(path.join(this.dir, JOURNAL_FILE), () => deliver());
      watcher.on('error', () => undefined);
    } catch {
      watcher = null;
    }
    const poll = setInterval(deliver, 1000);
    poll.unref();
    const stop = () => {
      closed = true;
      watcher?.close();
      clearInterval(poll);
    };
    deliver();
    return { close: stop };
  }

  close(): void {
    this.db.close();
  }
}

function summary(row: Record<string, unknown>, writerAlive: boolean): SessionSummary {
  const s: SessionSummary = {
    id: String(row.id),
    connection: String(row.connection ?? ''),
    user: String(row.user ?? ''),
    client: String(row.client ?? ''),
    started: String(row.started),
    interrupted: row.interrupted === 1,
    live: row.ended == null && writerAlive,
    events: Number(row.events),
    statements: Number(row.statements),
    denials: Number(row.denials),
    approvals: Number(row.approvals),
    checkpoint: row.checkpoint === 1,
    integrity: integrityOf(row, writerAlive),
  };
  if (row.integrity_problem != null) s.integrityProblem = String(row.integrity_problem);
  if (row.agent != null) s.agent = String(row.agent);
  if (row.channel != null) s.channel = row.channel as AgentChannel;
  if (row.application != null) s.application = String(row.application);
  if (row.policy != null) s.policy = String(row.policy);
  if (row.ended != null) s.ended = String(row.ended);
  if (row.end_reason != null) s.endReason = String(row.end_reason);
  return s;
}

const chained = (e: RecordedEvent) => e as unknown as ChainedEvent;

/**
 * `airlock verify`'s checks of one event, given its session's chain before it: the hash chain, the signed
 * checkpoint, and nothing recorded after the checkpoint.
 */
function recordProblems(
  key: KeyObject | null,
  e: RecordedEvent,
  before: ChainPosition,
  checkpointed: boolean,
): string[] {
  const problems = chainProblems(chained(e), before);
  if (checkpointed && e.type !== 'checkpoint') problems.push("recorded after the session's checkpoint");
  if (e.type === 'checkpoint') {
    const bad = checkpointCoverage(key, chained(e), before.seq ? before : undefined);
    if (bad) problems.push(bad);
  }
  return problems;
}

/**
 * Tampered: a check failed. Verified: its signed checkpoint closes an unbroken chain. Live: still being
 * written. Incomplete: it has no checkpoint and nothing is writing it (the end was cut off, or the
 * proxy was killed and has not run since, which closes such sessions).
 */
function integrityOf(row: Record<string, unknown>, writerAlive: boolean): SessionIntegrity {
  if (row.integrity_problem != null) return 'tampered';
  if (row.checkpoint === 1) return 'verified';
  return row.ended == null && writerAlive ? 'live' : 'incomplete';
}

function isoTime(text: string, what: string): string {
  const t = new Date(text);
  if (Number.isNaN(t.getTime()))
    throw new Error(`--${what} "${text}" is not a time (try 2026-11-28 or 2026-11-28T10:00:00Z)`);
  return t.toISOString();
}

function journalSize(dir: string): number {
  try {
    return statSync(path.join(dir, JOURNAL_FILE)).size;
  } catch {
    return 0;
  }
}

/** Adds the journal's bytes [from, to) to `hash`; returns the digest so far (hex), `hash` still open. */
function hashRange(dir: string, hash: Hash, from: number, to: number): string {
  if (to > from) {
    const fd = openSync(path.join(dir, JOURNAL_FILE), 'r');
    try {
      const buf = Buffer.alloc(Math.min(1 << 20, to - from));
      for (let at = from; at < to;) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, to - at), at);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
        at += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  return hash.copy().digest('hex');
}

/** sha256 of the journal's first line: tells a rewritten (compacted) journal from the indexed one. */
function journalHead(dir: string): string {
  let fd: number;
  try {
    fd = openSync(path.join(dir, JOURNAL_FILE), 'r');
  } catch {
    return '';
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const nl = buf.subarray(0, n).indexOf(0x0a);
    return createHash('sha256')
      .update(buf.subarray(0, nl < 0 ? n : nl))
      .digest('hex');
  } finally {
    closeSync(fd);
  }
}
