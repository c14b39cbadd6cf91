import { randomBytes, randomUUID } from 'node:crypto';
import type { ApprovalBroker } from '../approvals/broker';
import { qualifiedName } from '../sql/facts';
import type { Logger } from '../log';
import { durationMs, type MaskingPolicy, type PolicyDocument } from '../policy/document';
import { MaskIndex } from '../masking/mask-index';
import { buildResultMasking, scansContent, type ResultMasking } from '../masking/result-masking';
import { undecodableCopyOption } from '../masking/copy-format';
import { describeFinding, lineageFindings } from '../masking/lineage';
import { evaluateAnalysis, type PolicyDecision } from '../policy/evaluate';
import type { Actor } from '../identity/actor';
import type { Decision, FactsSummary, ReviewRecord } from './decision';
import { allowsWrites } from '../policy/presets';
import type { PolicySource } from '../policy/source';
import type { AnalysisCache } from '../sql/analysis-cache';
import type { SqlAnalysis, StatementFacts } from '../sql/facts';
import { applyCatalog, type CatalogFacts } from '../sql/catalog';
import { quoteIdent, quoteLiteral } from '../sql/quote';

/**
 * The gate: the single place every protocol adapter (Postgres wire, SSH, LM tools, MCP) hands each
 * operation to before it may reach an upstream. Analysis, policy, review and obligations hang off it.
 */

/** One operation a client asked for, as the wire adapter saw it. */
export type StatementRequest =
  | { protocol: 'simple'; sql: string }
  | { protocol: 'extended'; sql: string; statementName: string }
  /** A named prepared statement, decided again when it is executed (the policy may have changed). */
  | { protocol: 'execute'; sql: string; statementName: string }
  /** A setting in the startup packet: PostgreSQL applies it like SET. */
  | { protocol: 'startup'; setting: string; value: string }
  | { protocol: 'fastpath'; functionOid: number };

export interface GateContext {
  connection: string;
  sessionId: string;
  actor: Actor;
  /** Plans a statement without running it (plain EXPLAIN) and returns the rows it would affect. */
  estimateRows?: (sql: string) => Promise<number | null>;
}

export interface Gate {
  /** Synchronous where it can be (the hot path); a Promise when a decision must wait (e.g. for review). */
  decide(context: GateContext, request: StatementRequest): Decision | Promise<Decision>;
  /** Whether the upstream session itself should be read-only (defence in depth). */
  readOnlyUpstream(connection: string): boolean;
  /** The session ended: forget what it prepared. */
  endSession(sessionId: string): void;
  /** Whether the adapter should (re)load the upstream catalog facts before relaying (see catalog.ts). */
  catalogNeeded?(connection: string): boolean;
  setCatalog?(connection: string, catalog: CatalogFacts): void;
  /** How results on the connection are masked (null: not at all). */
  resultMasking?(connection: string): ResultMasking | null;
  /** What recordings cite as the policy in force, and whether they may keep bind parameter values. */
  recordingPolicy?(): { policy?: string; parameters: 'none' | 'all' };
}

const DEFAULT_REVIEW_TIMEOUT_MS = 5 * 60_000;

/** The gate that decides by policy: analysis (cached) → evaluation → review → obligations. */
export class PolicyGate implements Gate {
  /** SQL-level PREPAREd statements per session, so EXECUTE is decided by what it runs. */
  private readonly prepared = new Map<string, Map<string, StatementFacts>>();
  private readonly catalogs = new Map<string, CatalogFacts>();
  /** The last decision taken for each (cached, shared) analysis, with what it depended on. */
  private readonly decisions = new WeakMap<
    SqlAnalysis,
    { policy: PolicyDocument; catalog: CatalogFacts | undefined; contextKey: string; decision: Decision }
  >();
  private readonly contextKeys = new WeakMap<GateContext, string>();
  private readonly resultMaskings = new Map<string, { index: MaskIndex; masking: ResultMasking }>();
  private readonly maskIndexes = new Map<
    string,
    { policy: PolicyDocument; catalog: CatalogFacts | undefined; index: MaskIndex }
  >();

  constructor(
    private readonly source: PolicySource,
    private readonly cache: AnalysisCache,
    private readonly approvals: ApprovalBroker | null,
    private readonly log: Logger,
    /** Hash masks' key when the policy names none: the installation's (hash-key.ts), else this process's. */
    private readonly hashKey: Buffer = randomBytes(32),
  ) {}

  /** Statement texts a reviewer approved for the rest of a session. */
  private readonly sessionApprovals = new Map<string, Map<string, string>>();

  decide(context: GateContext, request: StatementRequest): Decision | Promise<Decision> {
    const state = this.source.state();
    if (!state.ok) {
      return {
        effect: 'deny',
        rule: 'policy-unavailable',
        reason: `no policy is in force: ${state.reason}`,
        hint: 'Airlock fails closed without a valid policy; restore the control plane or the policy bundle.',
      };
    }
    const analyzed = this.analyze(request);
    const catalog = this.catalogs.get(context.connection);
    const contextKey = this.contextKey(context);
    // The hot path: the same statement shape, policy, catalog facts and actor as last time.
    const hit = this.decisions.get(analyzed);
    if (
      hit &&
      hit.policy === state.active.policy &&
      hit.catalog === catalog &&
      hit.contextKey === contextKey
    ) {
      return hit.decision;
    }
    let analysis = this.resolvePrepared(context.sessionId, analyzed);
    analysis = applyCatalog(analysis, catalog);
    const evaluated = this.withMaskingLineage(
      evaluateAnalysis(state.active.policy, analysis, context),
      analysis,
      state.active.policy,
      context.connection,
    );
    const described = {
      facts: factsSummary(analysis),
      ...(hasUnseenEffects(analysis) && { unseenEffects: true }),
    };
    if (evaluated.effect === 'review')
      return this.review(context, request, analysis, evaluated).then((d) => ({ ...d, ...described }));
    if (evaluated.effect === 'allow' && analysis.ok)
      this.rememberPrepared(context.sessionId, analysis.statements);
    const decision: Decision = { ...toDecision(evaluated), ...described };
    // PREPARE/EXECUTE/DEALLOCATE depend on the session's prepared statements: decided afresh each time.
    if (!analyzed.ok || !analyzed.statements.some((s) => s.details.prepared !== undefined)) {
      this.decisions.set(analyzed, { policy: state.active.policy, catalog, contextKey, decision });
    }
    return decision;
  }

  /**
   * Masked columns may only be read plainly (the wire masks them); a statement that computes, filters
   * or writes with one gets the lineage action: denied, or sent to review.
   */
  private withMaskingLineage(
    decision: PolicyDecision,
    analysis: SqlAnalysis,
    policy: PolicyDocument,
    connection: string,
  ): PolicyDecision & { redactLiterals?: boolean } {
    if (!policy.masking) return decision;
    // Text that does not parse may hold anything: under a masking policy it is not recorded.
    if (!analysis.ok) return { ...decision, redactLiterals: true };
    const index = this.maskIndex(connection, policy);
    const findings = analysis.statements.flatMap((s) =>
      lineageFindings(s, index, policy.masking as MaskingPolicy),
    );
    // A write into a table with masked columns may carry such values as literals (not a leak of stored
    // data, so not a lineage finding, but nothing a recording should keep).
    const writesMasked = analysis.statements.some((s) => {
      const w = s.details.writes;
      return w !== undefined && w.columns.some((c) => index.isMasked([w.relation], c, [w.relation]));
    });
    // COPY data is masked only in a format the masker decodes exactly (copy-format.ts).
    const copyProblem = scansContent(policy.masking, connection)
      ? analysis.statements.map((s) => s.details.copy && undecodableCopyOption(s.details.copy)).find(Boolean)
      : undefined;
    const copyDenial: PolicyDecision | null =
      copyProblem && decision.effect !== 'deny'
        ? {
            effect: 'deny',
            rule: 'masking',
            reason: copyProblem,
            hint: 'Use COPY … TO STDOUT without options (the default text format: tab delimiter, backslash escapes, UTF-8), or SELECT.',
            statements: decision.statements,
          }
        : null;
    if (findings.length === 0)
      return copyDenial ?? (writesMasked ? { ...decision, redactLiterals: true } : decision);
    // Denied anyway, but its literals may be the values the masking hides.
    if (decision.effect === 'deny') return { ...decision, redactLiterals: true };
    const denied = findings.find((f) => f.action === 'deny');
    if (denied) {
      return {
        effect: 'deny',
        redactLiterals: true,
        rule: 'masking',
        reason: describeFinding(denied),
        hint: 'Select the column itself (it arrives masked), or leave it out; or ask for review if the policy offers it.',
        statements: decision.statements,
      };
    }
    if (copyDenial) return { ...copyDenial, redactLiterals: true };
    if (decision.effect === 'review') return { ...decision, redactLiterals: true };
    return {
      effect: 'review',
      redactLiterals: true,
      rule: 'masking',
      review: { approvers: ['self'] },
      obligations: decision.obligations,
      statements: decision.statements,
    };
  }

  /**
   * How results on a connection are masked, or null when the policy masks nothing. While no policy is in
   * force, the last one's masking stays (every new statement is denied anyway).
   */
  resultMasking(connection: string): ResultMasking | null {
    const state = this.source.state();
    const policy = state.ok ? state.active.policy : this.maskIndexes.get(connection)?.policy;
    if (!policy?.masking) return null;
    const index = this.maskIndex(connection, policy);
    const cached = this.resultMaskings.get(connection);
    if (cached?.index === index) return cached.masking;
    const masking = buildResultMasking(policy.masking, index, connection, this.hashKey);
    this.resultMaskings.set(connection, { index, masking });
    return masking;
  }

  /** The masked columns of a connection under a policy, resolved against the catalog (cached). */
  maskIndex(connection: string, policy: PolicyDocument): MaskIndex {
    const catalog = this.catalogs.get(connection);
    const cached = this.maskIndexes.get(connection);
    if (cached && cached.policy === policy && cached.catalog === catalog) return cached.index;
    const index = new MaskIndex(policy.masking ?? {}, catalog);
    this.maskIndexes.set(connection, { policy, catalog, index });
    return index;
  }

  /** Everything about the asker that a rule can match on, as one string (computed once per session). */
  private contextKey(context: GateContext): string {
    let key = this.contextKeys.get(context);
    if (key === undefined) {
      const a = context.actor;
      key = JSON.stringify([context.connection, a.user, a.groups, a.agent ?? null, a.channel ?? null]);
      this.contextKeys.set(context, key);
    }
    return key;
  }

  readOnlyUpstream(connection: string): boolean {
    const state = this.source.state();
    return !state.ok || !allowsWrites(state.active.policy, connection);
  }

  endSession(sessionId: string): void {
    this.prepared.delete(sessionId);
    this.sessionApprovals.delete(sessionId);
  }

  catalogNeeded(): boolean {
    // Every new session reads it afresh (one small query): a function created a moment ago by someone
    // else must not pass for a built-in.
    return true;
  }

  setCatalog(connection: string, catalog: CatalogFacts): void {
    this.catalogs.set(connection, catalog);
  }

  recordingPolicy(): { policy?: string; parameters: 'none' | 'all' } {
    const state = this.source.state();
    if (!state.ok) return { parameters: 'none' };
    return { policy: state.active.id, parameters: state.active.policy.recording?.parameters ?? 'none' };
  }

  private ruleDescription(rule: string): string | undefined {
    const state = this.source.state();
    return state.ok ? state.active.policy.rules.find((r) => r.name === rule)?.description : undefined;
  }

  /**
   * For the reviewer: how many rows a single plain write would touch. Only statements the analysis fully
   * sees (no opaque code, no writable CTE, no server files) are planned; planning never runs them.
   */
  private estimate(
    context: GateContext,
    sql: string,
    statements: StatementFacts[],
  ): Promise<number | null> | undefined {
    if (!context.estimateRows || statements.length !== 1) return undefined;
    const [s] = statements;
    if (
      s.kind !== 'write' ||
      s.flags.length > 0 ||
      !['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(s.command)
    )
      return undefined;
    return context.estimateRows(s.text).catch(() => null);
  }

  /** The current policy, for explanations and recordings. */
  policyState() {
    return this.source.state();
  }

  private analyze(request: StatementRequest): SqlAnalysis {
    switch (request.protocol) {
      case 'simple':
      case 'extended':
      case 'execute':
        return this.cache.analyze(request.sql);
      case 'startup':
        return this.cache.analyze(`SET ${quoteIdent(request.setting)} = ${quoteLiteral(request.value)}`);
      case 'fastpath':
        // The fast-path interface names a function by OID only; it is decided as opaque code.
        return {
          ok: true,
          numbersMatter: true,
          statements: [
            {
              text: `-- fast-path call of function OID ${request.functionOid}`,
              command: 'FUNCTION CALL',
              kind: 'utility',
              flags: ['opaque-code'],
              relations: [],
              functions: [{ name: `oid:${request.functionOid}`, classification: { class: 'unknown' } }],
              columns: [],
              operators: [],
              details: {},
              problems: [],
            },
          ],
        };
    }
  }

  /** EXECUTE name is decided as the statement PREPAREd under that name (earlier, or in this request). */
  private resolvePrepared(sessionId: string, analysis: SqlAnalysis): SqlAnalysis {
    if (!analysis.ok || !analysis.statements.some((s) => s.flags.includes('executes-prepared')))
      return analysis;
    const known = new Map(this.prepared.get(sessionId));
    const statements = analysis.statements.map((s) => {
      const name = s.details.prepared;
      if (s.command.startsWith('PREPARE') && name) known.set(name, s);
      if (!s.flags.includes('executes-prepared') || !name) return s;
      const target = known.get(name);
      if (!target) {
        return {
          ...s,
          problems: [...s.problems, `EXECUTE of "${name}", which was not prepared through Airlock`],
        };
      }
      return {
        ...target,
        text: s.text,
        command: target.command.replace(/^PREPARE/, 'EXECUTE'),
        functions: [...target.functions, ...s.functions],
        flags: target.flags,
      };
    });
    return { ...analysis, statements };
  }

  private rememberPrepared(sessionId: string, statements: StatementFacts[]): void {
    for (const s of statements) {
      const name = s.details.prepared;
      if (!name) continue;
      if (s.command.startsWith('PREPARE')) {
        let m = this.prepared.get(sessionId);
        if (!m) this.prepared.set(sessionId, (m = new Map()));
        m.set(name, s);
      } else if (s.command === 'DEALLOCATE') {
        if (name === 'all') this.prepared.delete(sessionId);
        else this.prepared.get(sessionId)?.delete(name);
      }
    }
  }

  private async review(
    context: GateContext,
    request: StatementRequest,
    analysis: SqlAnalysis,
    decision: Extract<PolicyDecision, { effect: 'review' }> & { redactLiterals?: boolean },
  ): Promise<Decision> {
    const who = decision.review.approvers.join(', ');
    const sql = 'sql' in request ? request.sql : '';
    const statements = analysis.ok ? analysis.statements : [];
    const { rule, obligations, redactLiterals } = decision;
    const allow = (review: ReviewRecord): Decision => {
      this.rememberPrepared(context.sessionId, statements);
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
    const approvedBefore = this.sessionApprovals.get(context.sessionId)?.get(sql);
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
            sql,
            statements,
            rule,
            ruleDescription: this.ruleDescription(rule),
            review: decision.review,
            estimatedRows: this.estimate(context, sql, statements),
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
        return deny(
          { outcome: 'denied', approver: outcome.approver, waitMs, reason: outcome.reason },
          `a reviewer${outcome.approver ? ` (${outcome.approver})` : ''} denied it: ${outcome.reason}`,
          'Change the statement as the reviewer asked, or ask them directly.',
        );
      }
      const scope = outcome.scope ?? 'once';
      this.log.info(
        `[${context.connection}] approved by ${outcome.approver} (rule ${rule}${scope === 'session' ? ', for the session' : ''})`,
      );
      if (scope === 'session' && sql) {
        const approved = this.sessionApprovals.get(context.sessionId) ?? new Map<string, string>();
        this.sessionApprovals.set(context.sessionId, approved.set(sql, outcome.approver));
      }
      return allow({ outcome: 'approved', approver: outcome.approver, scope, waitMs });
    } catch (err) {
      const message = (err as Error).message;
      return deny(
        { outcome: 'failed', waitMs: Date.now() - requestedAt, reason: message },
        `the review failed: ${message}`,
        'See the Airlock log.',
      );
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }
}

function factsSummary(analysis: SqlAnalysis): FactsSummary[] | undefined {
  if (!analysis.ok) return undefined;
  return analysis.statements.map((s) => ({
    command: s.command,
    kind: s.kind,
    relations: [...new Set(s.relations.map(qualifiedName))],
  }));
}

/** Settings whose change alters how later statements are decoded (RESET ALL and DISCARD ALL reset them). */
const DECODING_SETTINGS = new Set(['client_encoding', 'all']);

function hasUnseenEffects(analysis: SqlAnalysis): boolean {
  return (
    !analysis.ok ||
    analysis.statements.some(
      (s) =>
        s.flags.includes('opaque-code') ||
        s.command === 'DISCARD' ||
        DECODING_SETTINGS.has(s.details.setting ?? '') ||
        s.functions.some((f) => f.classification.class !== 'safe' || f.name === 'set_config'),
    )
  );
}

function toDecision(
  d: Exclude<PolicyDecision, { effect: 'review' }> & { redactLiterals?: boolean },
): Decision {
  const redact = d.redactLiterals ? { redactLiterals: true } : {};
  if (d.effect === 'deny') return { effect: 'deny', rule: d.rule, reason: d.reason, hint: d.hint, ...redact };
  return { effect: 'allow', rule: d.rule, obligations: d.obligations, ...redact };
}
