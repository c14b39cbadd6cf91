import type { StatementFacts } from '../sql/facts';
import type { Actor } from '../identity/actor';
import type { ReviewSettings } from '../policy/document';

/** A statement waiting for a person's decision. */
export interface ApprovalRequest {
  id: string;
  connection: string;
  sessionId: string;
  actor: Actor;
  sql: string;
  statements: StatementFacts[];
  rule: string;
  ruleDescription?: string;
  review: ReviewSettings;
  /**
   * Rows a write would affect, from a plain EXPLAIN (which does not run it): a promise, as the panel can
   * show the request before the estimate arrives; null when it could not be estimated.
   */
  estimatedRows?: Promise<number | null>;
  requestedAt: number;
  timeoutMs: number;
}

export type ApprovalOutcome =
  /** `session`: identical statements in the same session need no further review. */
  | { approved: true; approver: string; scope?: 'once' | 'session' }
  | { approved: false; approver?: string; reason: string };

/**
 * Where review requests go: the VS Code approval panel, a remote reviewer service. The gate enforces the
 * timeout and aborts the signal when it passes; a broker must settle (or ignore) aborted requests.
 */
export interface ApprovalBroker {
  request(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome>;
}
