import { randomBytes } from 'node:crypto';
import { serialize } from 'pg-protocol';
import { PgError, SqlState } from './protocol/errors';
import { decodeErrorFields, errorResponse } from './protocol/messages';
import type { Decision } from '../../core/gate/decision';

type Denial = Extract<Decision, { effect: 'deny' }>;

export function denialError(decision: Denial): PgError {
  return new PgError(SqlState.insufficientPrivilege, `airlock: denied: ${decision.reason}`, {
    detail: `Rule: ${decision.rule}`,
    hint: decision.hint,
  });
}

/**
 * A denied statement is replaced, in place, by one that fails upstream with an error unique to it. The
 * server then does exactly what it does for any failed statement — aborts the transaction block, skips
 * the rest of an extended-protocol batch until Sync, reports the right ReadyForQuery status — and the
 * proxy swaps that error for the denial on its way back. No protocol or transaction state is faked.
 */
export class DenialSubstitution {
  /** Markers of denials sent upstream and not yet answered, with the query cycle that answers them. */
  private pending: Array<{ marker: string; error: Buffer; cycle: number }> = [];
  /** Cycles (Query, Sync, FunctionCall: each answered by one ReadyForQuery) sent and completed. */
  private cyclesSent = 0;
  private cyclesDone = 0;

  /** The message to send upstream instead of the denied one. */
  replace(protocol: 'simple' | 'extended', statementName: string, decision: Denial): Buffer {
    const marker = `airlock-denied-${randomBytes(8).toString('hex')}`;
    this.pending.push({ marker, error: errorResponse(denialError(decision)), cycle: this.cyclesSent + 1 });
    // Selecting an unknown column fails at parse analysis, both for Query and for Parse.
    const sql = `SELECT "${marker}"`;
    return protocol === 'simple' ? serialize.query(sql) : serialize.parse({ name: statementName, text: sql });
  }

  get active(): boolean {
    return this.pending.length > 0;
  }

  /** The client sent a message that the server answers with ReadyForQuery. */
  cycleSent(): void {
    this.cyclesSent++;
  }

  /** For an upstream ErrorResponse: the denial to send instead, or null when it is a real error. */
  substitute(message: Buffer): Buffer | null {
    const text = decodeErrorFields(message).M ?? '';
    const i = this.pending.findIndex((p) => text.includes(p.marker));
    if (i < 0) return null;
    const [hit] = this.pending.splice(i, 1);
    return hit.error;
  }

  /**
   * At ReadyForQuery every statement of that cycle has been answered; a marker still pending was skipped
   * by the server after an earlier error, just as the original statement would have been.
   */
  readyForQuery(): void {
    this.cyclesDone++;
    if (this.pending.length) this.pending = this.pending.filter((p) => p.cycle > this.cyclesDone);
  }
}
