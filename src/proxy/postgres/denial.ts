import { randomBytes } from 'node:crypto';
import { PgError, SqlState } from './protocol/errors';
import { decodeErrorFields } from './protocol/decode';
import { errorResponse, parse, query } from './protocol/encode';
import type { Decision } from '../../core/gate/decision';
import type { InFlightRequest } from './in-flight-queue';

type Denied = Extract<Decision, { effect: 'deny' }>;

/**
 * The error a client gets for a denial. It is built from the decision alone — the policy's rule, reason
 * and hint — never from anything the upstream sent, so it carries no row data and is never masked.
 */
export function denialError(decision: Denied): PgError {
  return new PgError(SqlState.insufficientPrivilege, `airlock: denied: ${decision.reason}`, {
    detail: `Rule: ${decision.rule}`,
    hint: decision.hint,
  });
}

/** Where denial markers come from: random, replaceable only to inject faults in tests. */
export const denialMarkers = {
  next: (): string => `airlock-denied-${randomBytes(8).toString('hex')}`,
};

/** Markers go into a quoted identifier: nothing that could end it. */
const MARKER = /^[a-z0-9-]{8,63}$/;

/**
 * A denied statement is replaced, in place, by one that fails upstream with an error unique to it. The
 * server then does exactly what it does for any failed statement — aborts the transaction block, skips
 * the rest of an extended-protocol batch until Sync, reports the right ReadyForQuery status — and the
 * proxy swaps that error for the denial on its way back, before any other stage sees it. No protocol or
 * transaction state is faked.
 */
export function replaceDenied(
  request: InFlightRequest,
  protocol: 'simple' | 'extended',
  statementName: string,
  decision: Denied,
): Buffer {
  const marker = denialMarkers.next();
  if (!MARKER.test(marker)) throw new Error(`invalid denial marker ${JSON.stringify(marker)}`);
  (request.denials ??= []).push({ marker, error: errorResponse(denialError(decision)) });
  // Selecting an unknown column fails at parse analysis, both for Query and for Parse.
  const sql = `SELECT "${marker}"`;
  return protocol === 'simple' ? query(sql) : parse(statementName, sql);
}

/**
 * For an upstream ErrorResponse answering `request`: the denial to send instead, or null when it is a
 * real error. A denial the server skipped (after an earlier error) is dropped with its request.
 */
export function answerDenied(request: InFlightRequest, message: Buffer): Buffer | null {
  const denials = request.denials;
  if (!denials) return null;
  const text = decodeErrorFields(message).M ?? '';
  const i = denials.findIndex((d) => text.includes(d.marker));
  if (i < 0) return null;
  return denials.splice(i, 1)[0].error;
}
