import type { PolicyGate } from '../core/gate/gate';
import { describeFinding, lineageFindings } from '../core/masking/lineage';
import type { MaskingPolicy, PolicyDocument } from '../core/policy/document';
import { anyGlob } from '../core/policy/evaluate';
import type { Actor } from '../core/identity/actor';
import { explainSql } from '../core/policy/explain';
import { evaluateAnalysis } from '../core/policy/evaluate';
import { analyzeSql } from '../core/sql/analyze';
import { applyCatalog } from '../core/sql/catalog';
import type { AirlockServices, MaskingSummary, PolicyExplanation } from './backend';

type Effect = PolicyExplanation['effect'];
type Identity = { user: string; groups: string[] };

/**
 * The policy services of a running Airlock (explain a statement, list masked columns), computed from
 * the gate's policy in force and masking index: the same inputs the gate decides with. The SQL parser
 * must be loaded (it is once the gate exists).
 */
export function gateServices(
  gate: PolicyGate,
  /** The human the proxy acts for (a function when it can change, e.g. after sign-in). */
  identity: Identity | (() => Identity),
): Pick<AirlockServices, 'explain' | 'maskedColumns'> {
  const human = () => (typeof identity === 'function' ? identity() : identity);
  return {
    explain(connection, sql, agent) {
      const state = gate.policyState();
      if (!state.ok) {
        return {
          effect: 'deny',
          text: `no policy is in force: ${state.reason}\nrequest: DENY (Airlock fails closed)`,
        };
      }
      const policy = state.active.policy;
      const actor: Actor = { ...human(), agent: agent.name, channel: agent.channel };
      const context = { connection, actor };
      const explained = explainSql(policy, sql, context, state.active.id);
      const lineage = maskingLineage(gate, policy, connection, sql);
      const effect = strictest(explained.effect, lineage.effect);
      const lines = [explained.text];
      if (lineage.lines.length) lines.push(...lineage.lines, `request with masking: ${effect.toUpperCase()}`);
      lines.push('(Airlock decides again when the statement is sent; this explanation runs nothing.)');
      const plan = effect === 'deny' ? null : planStatement(gate, policy, connection, sql, actor);
      return { effect, text: lines.join('\n'), ...(plan ? { planStatement: plan } : {}) };
    },
    maskedColumns(connection): MaskingSummary {
      const state = gate.policyState();
      const masking = state.ok ? state.active.policy.masking : undefined;
      if (!state.ok || !masking) return { columns: [], contentDetectors: false };
      const index = gate.maskIndex(connection, state.active.policy);
      const content = masking.content;
      return {
        columns: [...index.maskedColumns()],
        contentDetectors: !!content && (!content.connections || anyGlob(content.connections, connection)),
      };
    },
  };
}

const ORDER: Effect[] = ['allow', 'review', 'deny'];
const strictest = (a: Effect, b: Effect): Effect => (ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b);

/** What the gate's masking lineage adds: computing on, filtering by or writing a masked column. */
function maskingLineage(
  gate: PolicyGate,
  policy: PolicyDocument,
  connection: string,
  sql: string,
): { effect: Effect; lines: string[] } {
  if (!policy.masking) return { effect: 'allow', lines: [] };
  const analysis = applyCatalog(analyzeSql(sql), undefined);
  if (!analysis.ok) return { effect: 'allow', lines: [] };
  const index = gate.maskIndex(connection, policy);
  const findings = analysis.statements.flatMap((s) =>
    lineageFindings(s, index, policy.masking as MaskingPolicy),
  );
  let effect: Effect = 'allow';
  const lines = findings.map((f) => {
    effect = strictest(effect, f.action);
    return `masking    ${f.action.toUpperCase()}: ${describeFinding(f)}`;
  });
  return { effect, lines };
}

/**
 * `EXPLAIN <sql>` when the policy allows it outright: only then does the explain tool fetch a plan
 * (through the proxy, where the gate decides it again). A single statement only: EXPLAIN takes one.
 */
function planStatement(
  gate: PolicyGate,
  policy: PolicyDocument,
  connection: string,
  sql: string,
  actor: Actor,
): string | null {
  const analysis = analyzeSql(sql);
  if (!analysis.ok || analysis.statements.length !== 1) return null;
  const text = sql.trim().replace(/;+\s*$/, '');
  if (!text) return null;
  const explain = `EXPLAIN ${text}`;
  const explained = analyzeSql(explain);
  if (!explained.ok || explained.statements.length !== 1) return null;
  if (evaluateAnalysis(policy, explained, { connection, actor }).effect !== 'allow') return null;
  return maskingLineage(gate, policy, connection, explain).effect === 'allow' ? explain : null;
}
