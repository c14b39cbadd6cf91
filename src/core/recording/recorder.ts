import { Journal, type JournalOptions } from './journal';
import { SessionChain } from './chain';

/** Who and what a recorded session is. */
export interface SessionStart {
  connection: string;
  actor: { user: string; groups: string[]; agent?: string };
  client: string;
  policy?: string;
}

/** One statement as it ended: what was asked, what was decided, what came back. */
export interface StatementRecord {
  protocol: string;
  sql: string;
  decision: 'allow' | 'deny';
  rule: string;
  reason?: string;
  durationMs?: number;
  /** Command tags of the results (e.g. "SELECT 5"), and the error if it failed. */
  tags?: string[];
  error?: { code: string; message: string };
  /** The first rows as the client received them (masked), bounded in count and size. */
  sample?: { columns: string[]; rows: Array<Array<string | null>>; truncated: boolean };
}

/**
 * Passwords in CREATE/ALTER ROLE … PASSWORD '…' (and ENCRYPTED PASSWORD) never reach a recording.
 * The statement text is otherwise kept verbatim.
 */
export function redactStatement(sql: string): string {
  if (!/password/i.test(sql)) return sql;
  return sql.replace(
    /(\bPASSWORD\s+)('(?:[^']|'')*'|\$[A-Za-z0-9_]*\$[\s\S]*?\$[A-Za-z0-9_]*\$)/gi,
    "$1'[REDACTED]'",
  );
}

/**
 * Records sessions into the journal: every event hash-chained per session, written before the client
 * is told its statement completed.
 */
export class Recorder {
  private constructor(
    private readonly journal: Journal,
    readonly strict: boolean,
  ) {}

  static open(dir: string, options: JournalOptions = {}): Recorder {
    return new Recorder(Journal.open(dir, options), options.sync === 'strict');
  }

  session(id: string, start: SessionStart): SessionRecorder {
    const rec = new SessionRecorder(this.journal, new SessionChain(id));
    rec.event('session-start', { ...start });
    return rec;
  }

  close(): void {
    this.journal.close();
  }
}

export class SessionRecorder {
  /** Resolves when every event so far is as durable as the journal's mode promises. */
  durable: Promise<void> = Promise.resolve();

  constructor(
    private readonly journal: Journal,
    private readonly chain: SessionChain,
  ) {}

  event(type: string, data: Record<string, unknown>): void {
    if (this.journal.isClosed) return; // after shutdown, a straggling session end has nowhere to go
    const synced = this.journal.append(this.chain.next(type, data).line);
    if (synced) this.durable = synced;
  }

  /** Puts every event recorded so far into the file (before the client is told anything about them). */
  write(): void {
    this.journal.write();
  }

  statement(s: StatementRecord): void {
    this.event('statement', { ...s, sql: redactStatement(s.sql) });
  }

  end(why: string): void {
    this.event('session-end', { reason: why });
  }
}
