import type { ApprovalBroker } from '../approvals/broker';
import type { Logger } from '../log';
import type { PolicyDocument } from '../policy/document';
import type { PolicyState } from '../policy/source';
import type { Decision } from './decision';
import type { DecisionContext, Operation } from './operation';
import type { Evaluation, OperationKind } from './operation-kind';
import { Reviews } from './reviews';
import { SqlOperations } from './sql-operations';

/**
 * The gate: the single place every protocol adapter (Postgres wire, SSH, LM tools, MCP) hands each
 * operation to before it may reach an upstream. It keeps what every protocol shares — the policy in
 * force (fail closed), the decision cache, review, obligations — and hands each kind of operation to
 * that kind's analyzer and evaluator.
 */
export interface Gate {
  /** Synchronous where it can be (the hot path); a Promise when a decision must wait (e.g. for review). */
  decide(context: DecisionContext, operation: Operation): Decision | Promise<Decision>;
  /** The session ended: forget what was approved for it. */
  endSession?(sessionId: string): void;
}

/** Where the gate reads the policy in force (a PolicySource, or a fixed document for explain). */
export interface PolicyView {
  state(): PolicyState;
}

/** How the gate decided, for a person: the same pipeline as `decide`, without waiting for a reviewer. */
export interface Explanation {
  /** `review`: it would wait for a reviewer (decide asks one; explain does not). */
  effect: 'allow' | 'review' | 'deny';
  rule: string;
  /** What Airlock sees in the operation, which rule decides, what masking adds: one line each. */
  text: string;
}

type Kinds = { [K in Operation['kind']]: OperationKind<Extract<Operation, { kind: K }>> };

/** The gate that decides by policy: analysis (cached) → evaluation → review → obligations. */
export class PolicyGate implements Gate {
  /** The last decision taken for each cache key (a cached analysis), with what it depended on. */
  private readonly decisions = new WeakMap<
    object,
    { policy: PolicyDocument; depends: unknown; contextKey: string; decision: Decision }
  >();
  private readonly contextKeys = new WeakMap<DecisionContext, string>();
  private readonly kinds: Kinds;
  private readonly reviews: Reviews;

  constructor(
    private readonly source: PolicyView,
    approvals: ApprovalBroker | null,
    log: Logger,
    kinds: Kinds = { sql: new SqlOperations() },
  ) {
    this.kinds = kinds;
    this.reviews = new Reviews(approvals, log, (rule) => this.ruleDescription(rule));
  }

  decide(context: DecisionContext, operation: Operation): Decision | Promise<Decision> {
    const state = this.source.state();
    if (!state.ok) return policyUnavailable(state.reason);
    const kind = this.kinds[operation.kind];
    const cached = kind.cacheKey(operation, context);
    const contextKey = this.contextKey(context);
    // The hot path: the same operation, policy, environment and actor as last time.
    const hit = cached && this.decisions.get(cached.key);
    if (
      hit &&
      hit.policy === state.active.policy &&
      hit.depends === cached.depends &&
      hit.contextKey === contextKey
    ) {
      return hit.decision;
    }
    const evaluation = kind.evaluate(state.active.policy, operation, context);
    const described = {
      facts: evaluation.facts,
      ...(evaluation.unseenEffects && { unseenEffects: true }),
    };
    const d = evaluation.decision;
    if (d.effect === 'review')
      return this.reviews.run(context, evaluation, d).then((r) => ({ ...r, ...described }));
    if (d.effect === 'allow') evaluation.allowed?.();
    const redact = d.redactLiterals ? { redactLiterals: true } : {};
    const decision: Decision =
      d.effect === 'deny'
        ? { effect: 'deny', rule: d.rule, reason: d.reason, hint: d.hint, ...redact, ...described }
        : { effect: 'allow', rule: d.rule, obligations: d.obligations, ...redact, ...described };
    if (cached && evaluation.cacheable) {
      this.decisions.set(cached.key, {
        policy: state.active.policy,
        depends: cached.depends,
        contextKey,
        decision,
      });
    }
    return decision;
  }

  /**
   * The decision `decide` would take, with what led to it, and nothing changed: no review is asked for
   * (its effect is `review`), nothing is remembered. The agents' explain tool, `airlock policy explain`
   * and the extension's Explain Statement all answer through this.
   */
  explain(context: DecisionContext, operation: Operation): Explanation {
    const state = this.source.state();
    if (!state.ok) {
      const denial = policyUnavailable(state.reason);
      return {
        effect: 'deny',
        rule: denial.rule,
        text: `${denial.reason}\nrequest: DENY (Airlock fails closed)`,
      };
    }
    const evaluation: Evaluation = this.kinds[operation.kind].evaluate(
      state.active.policy,
      operation,
      context,
    );
    const lines = evaluation.trace(state.active.id);
    const d = evaluation.decision;
    const approver = d.effect === 'review' ? this.reviews.approvedForSession(context, evaluation) : undefined;
    if (approver !== undefined) {
      lines.push(`approved for this session by ${approver}: ALLOW`);
      return { effect: 'allow', rule: d.rule, text: lines.join('\n') };
    }
    return { effect: d.effect, rule: d.rule, text: lines.join('\n') };
  }

  /** Everything about the asker that a rule can match on, as one string (computed once per session). */
  private contextKey(context: DecisionContext): string {
    let key = this.contextKeys.get(context);
    if (key === undefined) {
      const a = context.actor;
      key = JSON.stringify([context.connection, a.user, a.groups, a.agent ?? null, a.channel ?? null]);
      this.contextKeys.set(context, key);
    }
    return key;
  }

  endSession(sessionId: string): void {
    this.reviews.endSession(sessionId);
  }

  /** The policy in force, for explanations, masking and recordings. */
  policyState(): PolicyState {
    return this.source.state();
  }

  private ruleDescription(rule: string): string | undefined {
    const state = this.source.state();
    return state.ok ? state.active.policy.rules.find((r) => r.name === rule)?.description : undefined;
  }
}

function policyUnavailable(reason: string): Extract<Decision, { effect: 'deny' }> {
  return {
    effect: 'deny',
    rule: 'policy-unavailable',
    reason: `no policy is in force: ${reason}`,
    hint: 'Airlock fails closed without a valid policy; restore the control plane or the policy bundle.',
  };
}
