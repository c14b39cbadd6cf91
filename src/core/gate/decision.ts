import type { Obligations } from '../policy/obligations';

/** How a review ended: unreachable = no reviewer could be asked, failed = the review itself broke. */
export const REVIEW_OUTCOMES = ['approved', 'denied', 'timeout', 'unreachable', 'failed'] as const;
/** `session`: approved for identical statements for the rest of the session. */
export const REVIEW_SCOPES = ['once', 'session'] as const;

/** How a person's review of the statement went: recorded with it. */
export interface ReviewRecord {
  outcome: (typeof REVIEW_OUTCOMES)[number];
  approver?: string;
  scope?: (typeof REVIEW_SCOPES)[number];
  waitMs: number;
  reason?: string;
}

/** What a recording and an audit export say the statement was. */
export interface FactsSummary {
  command: string;
  kind: string;
  relations: string[];
  /** A write without WHERE (or TRUNCATE): it reaches every row. */
  everyRow?: true;
}

/**
 * `redactLiterals`: the statement computes, filters or writes with a masked column, so its literals may
 * be masked values. `facts`: absent when the text did not parse.
 */
export type Decision = (
  | { effect: 'allow'; rule: string; obligations: Obligations }
  | { effect: 'deny'; rule: string; reason: string; hint: string }
) & {
  redactLiterals?: boolean;
  review?: ReviewRecord;
  facts?: FactsSummary[];
  /**
   * The statement runs code whose effects the analysis cannot see (DO, CALL, a function not known to be
   * safe) or changes how later statements are decoded (client_encoding): nothing after it is decided
   * until the server has reported the session's state (see the Postgres adapter's lexical environment).
   */
  unseenEffects?: boolean;
};
