import { randomUUID } from 'node:crypto';
import type { ApprovalBroker } from '../approvals/broker';
import type { Logger } from '../log';
import { durationMs } from '../policy/document';
import type { PolicyDecision } from '../policy/evaluate';
import type { Decision, ReviewRecord } from './decision';
import type { DecisionContext } from './operation';
import type { Evaluation } from './operation-kind';

const DEFAULT_REVIEW_TIMEOUT_MS = 5 * 60_000;

type ReviewDecision = Extract<PolicyDecision, { effect: 'review' }> & { redactLiterals?: boolean };

/**
 * Review orchestration, the same for every kind of operation: ask the broker, enforce the timeout,
 * remember what a reviewer approved for the rest of a session, and turn the outcome into a decision.
 */
export class Reviews {
  /** Operation texts a reviewer approved for the rest of a session, with the approver. */
  private readonly sessionApprovals = new Map<string, Map<string, string>>();

  constructor(
    private readonly approvals: ApprovalBroker | null,
    private readonly log: Logger,
    private readonly ruleDescription: (rule: string) => string | undefined,
  ) {}

  /** Who approved this operation for the rest of its session, if anyone did. */
  approvedForSession(context: DecisionContext, evaluation: Evaluation): string | undefined {
    return this.sessionApprovals.get(context.sessionId)?.get(evaluation.subject.text);
  }

  endSession(sessionId: string): void {
    this.sessionApprovals.delete(sessionId);
  }

  async run(context: DecisionContext, evaluation: Evaluation, decision: ReviewDecision): Promise<Decision> {
    const who = decision.review.approvers.join(', ');
    const { text, statements } = evaluation.subject;
    const { rule, obligations, redactLiterals } = decision;
    const allow = (review: ReviewRecord): Decision => {
      evaluation.allowed?.();
      return { effect: 'allow', rule, obligations, redactLiterals, review };
    };
    const deny = (review: ReviewRecord, reason: string, hint: string): Decision => ({
      effect: 'deny',
      rule,
      reason,
      hint,
      redactLiterals,
      review,
    });
    const approvedBefore = this.approvedForSession(context, evaluation);
    if (approvedBefore !== undefined)
      return allow({ outcome: 'approved', approver: approvedBefore, scope: 'session', waitMs: 0 });
    if (!this.approvals) {
      return deny(
        { outcome: 'unreachable', waitMs: 0 },
        `this statement needs review by ${who} (rule "${rule}"), and no reviewer is reachable`,
        'Run Airlock in VS Code, where the approval panel can ask the person at the keyboard, or ask for a policy change.',
      );
    }
    const timeoutMs = decision.review.timeout
      ? durationMs(decision.review.timeout)
      : DEFAULT_REVIEW_TIMEOUT_MS;
    const abort = new AbortController();
    const requestedAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const outcome = await Promise.race([
        this.approvals.request(
          {
            id: randomUUID(),
            connection: context.connection,
            sessionId: context.sessionId,
            actor: context.actor,
            sql: text,
            statements,
            rule,
            ruleDescription: this.ruleDescription(rule),
            review: decision.review,
            estimatedRows: evaluation.estimateRows?.(),
            requestedAt,
            timeoutMs,
          },
          abort.signal,
        ),
        timedOut,
      ]);
      const waitMs = Date.now() - requestedAt;
      if (outcome === 'timeout') {
        return deny(
          { outcome: 'timeout', waitMs },
          `review by ${who} timed out after ${decision.review.timeout ?? '5m'} (rule "${rule}")`,
          'Send the statement again when a reviewer is at hand.',
        );
      }
      if (!outcome.approved) {
        const reviewer = `a reviewer${outcome.approver ? ` (${outcome.approver})` : ''}`;
        const record: ReviewRecord = {
          outcome: 'denied',
          approver: outcome.approver,
          waitMs,
          ...(outcome.reason ? { reason: outcome.reason } : {}),
        };
        if (outcome.reason) {
          return deny(
            record,
            `${reviewer} denied it: ${outcome.reason}`,
            'Change the statement as the reviewer asked, or ask them directly.',
          );
        }
        // Without a reason there is nothing to change it by: the agent must not retry it unchanged.
        return deny(
          record,
          `${reviewer} denied it without giving a reason`,
          `Do not send it again unchanged: ask ${outcome.approver ?? 'the reviewer'} what they need, or send a narrower statement (for example one whose WHERE clause names the rows).`,
        );
      }
      const scope = outcome.scope ?? 'once';
      this.log.info(
        `[${context.connection}] approved by ${outcome.approver} (rule ${rule}${scope === 'session' ? ', for the session' : ''})`,
      );
      if (scope === 'session') {
        const approved = this.sessionApprovals.get(context.sessionId) ?? new Map<string, string>();
        this.sessionApprovals.set(context.sessionId, approved.set(text, outcome.approver));
      }
      return allow({ outcome: 'approved', approver: outcome.approver, scope, waitMs });
    } catch (err) {
      // The broker's error text may quote anything: the client gets a fixed reason, the log the detail.
      const message = (err as Error).message;
      this.log.error(`[${context.connection}] the review of a statement failed: ${message}`);
      return deny(
        { outcome: 'failed', waitMs: Date.now() - requestedAt, reason: message },
        'the review failed, so the statement is denied',
        'See the Airlock log for why; send the statement again when review works.',
      );
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }
}
