import { durationMs } from '../../core/policy/document';
import { PgError, SqlState } from './protocol/errors';
import { decodeCommandTag, decodeErrorFields } from './protocol/decode';
import { commandComplete, errorResponse } from './protocol/encode';
import { Msg } from './protocol/messages';
import type { Execution, InFlightQueue, InFlightRequest } from './in-flight-queue';

export type BackendVerdict = 'pass' | 'drop' | Buffer[];

/**
 * Enforces a decision's obligations on the backend stream: at most `maxRows` rows per result (extra
 * DataRow/CopyData dropped; the client is told by a notice, or the statement fails with 54000), and a
 * statement timeout (the upstream statement is cancelled, and its cancellation error says why). The
 * in-flight queue says which statement a backend message belongs to.
 */
export class ObligationTracker {
  constructor(
    private readonly queue: InFlightQueue,
    private readonly cancelUpstream: () => void,
  ) {}

  /** An execution went upstream: its timeout starts. */
  started(request: InFlightRequest, e: Execution): void {
    const timeout = e.decision.obligations.statementTimeout;
    if (!timeout) return;
    e.timer = setTimeout(() => this.cancel(request, e, 'timeout'), durationMs(timeout));
    e.timer.unref();
  }

  /** Cancels the statement upstream, only while nothing is queued behind it: a late cancel must not hit another. */
  private cancel(request: InFlightRequest, e: Execution, why: 'timeout' | 'rows'): void {
    if (e.cancelled || this.queue.head !== request || request.execution !== e) return;
    if (!this.queue.isLastClosed(request)) return;
    e.cancelled = why;
    this.cancelUpstream();
  }

  backend(request: InFlightRequest, type: number, message: Buffer): BackendVerdict {
    const e = request.execution;
    if (!e) return 'pass';
    const max = e.decision.obligations.maxRows;
    switch (type) {
      case Msg.rowDescription:
      case Msg.copyOutResponse:
        if (e.kind !== 'execute') e.rows = 0; // each result of a multi-statement Query has its own limit
        return 'pass';
      case Msg.dataRow:
      case Msg.copyData: {
        if (max === undefined) return 'pass';
        e.rows++;
        if (e.rows <= max) return 'pass';
        // Failing the statement is the server's to do, so that it aborts the transaction and skips the
        // rest of the request exactly as for any error: cancel it, and explain the cancellation.
        if (e.decision.obligations.onExceed === 'error') this.cancel(request, e, 'rows');
        return 'drop';
      }
      case Msg.commandComplete:
        return max === undefined || e.rows <= max ? 'pass' : this.truncated(e, max, message);
      case Msg.errorResponse:
        if (e.cancelled && decodeErrorFields(message).C === SqlState.queryCanceled) {
          return [errorResponse(e.cancelled === 'rows' ? tooManyRows(e, e.rows) : timedOut(e))];
        }
        return 'pass';
      default:
        return 'pass';
    }
  }

  private truncated(e: Execution, max: number, message: Buffer): BackendVerdict {
    const total = e.rows;
    e.rows = 0;
    // The statement finished before the cancellation could stop it: it can only be reported.
    if (e.decision.obligations.onExceed === 'error') return [errorResponse(tooManyRows(e, total))];
    const notice = errorResponse(
      new PgError('01000', `airlock: result truncated to ${max} of ${total} rows by the policy's limit`, {
        severity: 'NOTICE',
        detail: `Rule: ${e.decision.rule}`,
        hint: 'Add a LIMIT or narrower filters to see the rows you need.',
      }),
      true,
    );
    return [notice, commandComplete(decodeCommandTag(message).replace(/\d+$/, String(max)))];
  }

  /** The execution ended (or the session did): its timer stops. */
  ended(e: Execution): void {
    if (e.timer) clearTimeout(e.timer);
  }
}

function tooManyRows(e: Execution, seen: number): PgError {
  return new PgError(
    SqlState.programLimitExceeded,
    `airlock: the result exceeds the policy's limit of ${e.decision.obligations.maxRows} rows (${seen} seen)`,
    { detail: `Rule: ${e.decision.rule}`, hint: 'Add a LIMIT or narrower filters.' },
  );
}

function timedOut(e: Execution): PgError {
  return new PgError(
    SqlState.queryCanceled,
    `airlock: statement exceeded the policy's timeout of ${e.decision.obligations.statementTimeout}`,
    { detail: `Rule: ${e.decision.rule}`, hint: 'Narrow the query (filters, LIMIT) so it finishes in time.' },
  );
}
