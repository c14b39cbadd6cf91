import type { Obligations } from '../../core/policy/document';
import { durationMs } from '../../core/policy/document';
import { PgError, SqlState } from './protocol/errors';
import { Msg, decodeErrorFields, errorResponse } from './protocol/messages';
import { Writer } from 'pg-protocol/dist/buffer-writer';

/** Obligations of one executing statement (a Query, or an Execute of the extended protocol). */
interface Tracked {
  obligations: Obligations;
  rule: string;
  cycle: number;
  extended: boolean;
  rows: number;
  timer?: NodeJS.Timeout;
  /** Why the proxy cancelled the upstream statement, if it did: its 57014 error is replaced by this. */
  cancelled?: 'timeout' | 'rows';
}

export type BackendVerdict = 'pass' | 'drop' | Buffer[];

/**
 * Enforces a decision's obligations on the backend stream: at most `maxRows` rows per result (extra
 * DataRow/CopyData dropped; the client is told by a notice, or the statement fails with 54000), and a
 * statement timeout (the upstream statement is cancelled, and its cancellation error says why).
 * Statements are matched to their results by order, as the protocol guarantees.
 */
export class ObligationTracker {
  private queue: Tracked[] = [];
  private cyclesSent = 0;
  private cyclesDone = 0;

  constructor(private readonly cancelUpstream: () => void) {}

  get active(): boolean {
    return this.queue.length > 0;
  }

  /** A Query or Execute was forwarded under these obligations. */
  started(obligations: Obligations, rule: string, extended: boolean): void {
    if (obligations.maxRows === undefined && !obligations.statementTimeout) return;
    const t: Tracked = { obligations, rule, cycle: this.cyclesSent + 1, extended, rows: 0 };
    if (obligations.statementTimeout) {
      const ms = durationMs(obligations.statementTimeout);
      t.timer = setTimeout(() => this.timeout(t), ms);
      t.timer.unref();
    }
    this.queue.push(t);
  }

  /** The client sent a message the server answers with ReadyForQuery (Query, Sync, FunctionCall). */
  cycleSent(): void {
    this.cyclesSent++;
  }

  /** Cancels the statement upstream, only while nothing is queued behind it: a late cancel must not hit another. */
  private cancel(t: Tracked, why: 'timeout' | 'rows'): void {
    if (t.cancelled || this.queue[0] !== t || this.cyclesSent !== t.cycle) return;
    t.cancelled = why;
    this.cancelUpstream();
  }

  private timeout(t: Tracked): void {
    this.cancel(t, 'timeout');
  }

  private current(): Tracked | undefined {
    const t = this.queue[0];
    return t && t.cycle === this.cyclesDone + 1 ? t : undefined;
  }

  private finish(t: Tracked): void {
    clearTimeout(t.timer);
    this.queue.shift();
  }

  backend(type: number, message: Buffer): BackendVerdict {
    const t = this.current();
    switch (type) {
      case Msg.readyForQuery:
        this.cyclesDone++;
        while (this.queue.length && this.queue[0].cycle <= this.cyclesDone) this.finish(this.queue[0]);
        return 'pass';
      case Msg.rowDescription:
      case Msg.copyOutResponse:
        if (t && !t.extended) t.rows = 0; // each result of a multi-statement Query has its own limit
        return 'pass';
      case Msg.dataRow:
      case Msg.copyData: {
        if (!t || t.obligations.maxRows === undefined) return 'pass';
        t.rows++;
        if (t.rows <= t.obligations.maxRows) return 'pass';
        // Failing the statement is the server's to do, so that it aborts the transaction and skips the
        // rest of the request exactly as for any error: cancel it, and explain the cancellation.
        if (t.obligations.onExceed === 'error') this.cancel(t, 'rows');
        return 'drop';
      }
      case Msg.commandComplete:
      case Msg.portalSuspended:
      case Msg.emptyQueryResponse: {
        if (!t) return 'pass';
        const verdict = this.completed(t, type, message);
        if (t.extended) this.finish(t);
        return verdict;
      }
      case Msg.errorResponse:
        if (t?.cancelled && decodeErrorFields(message).C === SqlState.queryCanceled) {
          return [errorResponse(t.cancelled === 'rows' ? tooManyRows(t, t.rows) : timedOut(t))];
        }
        return 'pass';
      default:
        return 'pass';
    }
  }

  private completed(t: Tracked, type: number, message: Buffer): BackendVerdict {
    const max = t.obligations.maxRows;
    if (max === undefined || t.rows <= max || type !== Msg.commandComplete) return 'pass';
    const total = t.rows;
    t.rows = 0;
    // The statement finished before the cancellation could stop it: it can only be reported.
    if (t.obligations.onExceed === 'error') return [errorResponse(tooManyRows(t, total))];
    const notice = errorResponse(
      new PgError('01000', `airlock: result truncated to ${max} of ${total} rows by the policy's limit`, {
        severity: 'NOTICE',
        detail: `Rule: ${t.rule}`,
        hint: 'Add a LIMIT or narrower filters to see the rows you need.',
      }),
      true,
    );
    const tag = message.toString('utf8', 5, message.length - 1).replace(/\d+$/, String(max));
    return [notice, new Writer().addCString(tag).flush(Msg.commandComplete)];
  }

  /** The session ended: stop every timer. */
  clear(): void {
    for (const t of this.queue) clearTimeout(t.timer);
    this.queue = [];
  }
}

function tooManyRows(t: Tracked, seen: number): PgError {
  return new PgError(
    SqlState.programLimitExceeded,
    `airlock: the result exceeds the policy's limit of ${t.obligations.maxRows} rows (${seen} seen)`,
    { detail: `Rule: ${t.rule}`, hint: 'Add a LIMIT or narrower filters.' },
  );
}

function timedOut(t: Tracked): PgError {
  return new PgError(
    SqlState.queryCanceled,
    `airlock: statement exceeded the policy's timeout of ${t.obligations.statementTimeout}`,
    { detail: `Rule: ${t.rule}`, hint: 'Narrow the query (filters, LIMIT) so it finishes in time.' },
  );
}
