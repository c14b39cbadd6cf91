import type { PolicyDocument } from '../policy/document';
import type { PolicyDecision } from '../policy/evaluate';
import type { StatementFacts } from '../sql/facts';
import type { FactsSummary } from './decision';
import type { DecisionContext, Operation } from './operation';

/** What a kind's evaluator concluded about one operation, before review. */
export interface Evaluation {
  /** `redactLiterals`: the recording must not keep the operation's literals (they may be masked values). */
  decision: PolicyDecision & { redactLiterals?: boolean };
  facts?: FactsSummary[];
  /** The operation may change the session where no analysis sees it (see Decision.unseenEffects). */
  unseenEffects?: boolean;
  /** Whether the decision holds for every later operation with the same cache key (see cacheKey). */
  cacheable: boolean;
  /** What a reviewer is shown. */
  subject: { text: string; statements: StatementFacts[] };
  /** For a reviewer, how much a write would touch; undefined when it cannot be said without running it. */
  estimateRows?(): Promise<number | null> | undefined;
  /** The operation is allowed (also after review): the session state it changes, e.g. what it PREPAREs. */
  allowed?(): void;
  /** What Airlock saw and which rule decided, one line each, for a person (explain). */
  trace(policyLabel: string): string[];
}

/**
 * How the gate decides one kind of operation: its analyzer and evaluator. The gate keeps what every kind
 * shares (policy state, decision cache, review, obligations).
 */
export interface OperationKind<O extends Operation> {
  /**
   * The key a decision for the operation is cached under (the same object for the same operation: its
   * cached analysis) and what else the decision depends on (compared by identity); null: never cached.
   */
  cacheKey(op: O, context: DecisionContext): { key: object; depends: unknown } | null;
  evaluate(policy: PolicyDocument, op: O, context: DecisionContext): Evaluation;
}
