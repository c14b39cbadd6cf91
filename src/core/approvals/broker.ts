import type { StatementFacts } from '../sql/facts';
import type { Actor } from '../policy/evaluate';
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
  review: ReviewSettings;
  requestedAt: number;
  timeoutMs: number;
}

export type ApprovalOutcome =
  { approved: true; approver: string } | { approved: false; approver?: string; reason: string };

/**
 * Where review requests go: the VS Code approval panel, a remote reviewer service. The gate enforces the
 * timeout and aborts the signal when it passes; a broker must settle (or ignore) aborted requests.
 */
export interface ApprovalBroker {
  request(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome>;
}
