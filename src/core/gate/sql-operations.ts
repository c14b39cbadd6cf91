import type { MaskingPolicy, PolicyDocument } from '../policy/document';
import { maskIndexFor, type MaskIndex } from '../masking/mask-index';
import { scansContent } from '../masking/result-masking';
import { undecodableCopyOption } from '../masking/copy-format';
import { describeFinding, lineageFindings, type LineageFinding } from '../masking/lineage';
import { describeFunction, evaluateAnalysis, type PolicyDecision } from '../policy/evaluate';
import { AnalysisCache } from '../sql/analysis-cache';
import { applyCatalog } from '../sql/catalog';
import { qualifiedName, type SqlAnalysis, type StatementFacts } from '../sql/facts';
import { resolvePrepared } from '../sql/prepared-statements';
import type { FactsSummary } from './decision';
import type { DecisionContext, SqlOperation } from './operation';
import type { Evaluation, OperationKind } from './operation-kind';

type MaskedDecision = PolicyDecision & { redactLiterals?: boolean };

/**
 * SQL operations: analysed on the real PostgreSQL parse tree (cached per text), resolved against what
 * the session prepared and the database's catalog, evaluated by the policy's rules, then by its masking
 * lineage (a masked column may only be read plainly, as the wire masks it).
 */
export class SqlOperations implements OperationKind<SqlOperation> {
  constructor(private readonly cache = new AnalysisCache()) {}

  cacheKey(op: SqlOperation, context: DecisionContext): { key: object; depends: unknown } | null {
    return 'text' in op ? { key: this.cache.analyze(op.text), depends: context.sql?.catalog } : null;
  }

  evaluate(policy: PolicyDocument, op: SqlOperation, context: DecisionContext): Evaluation {
    const env = context.sql;
    const analyzed = 'text' in op ? this.cache.analyze(op.text) : fastPathCall(op.functionOid);
    const resolved = env?.prepared ? env.prepared.resolve(analyzed) : resolvePrepared(analyzed);
    const analysis = applyCatalog(resolved, env?.catalog);
    const rules = evaluateAnalysis(policy, analysis, context);
    const index = policy.masking ? maskIndexFor(policy.masking, env?.catalog) : undefined;
    const lineage = maskingLineage(rules, analysis, policy, index, context.connection);
    const statements = analysis.ok ? analysis.statements : [];
    const text = 'text' in op ? op.text : statements[0].text;
    return {
      decision: lineage.decision,
      facts: factsSummary(analysis),
      ...(hasUnseenEffects(analysis) && { unseenEffects: true }),
      // PREPARE/EXECUTE/DEALLOCATE depend on the session's prepared statements: decided afresh each time.
      cacheable: !analyzed.ok || !analyzed.statements.some((s) => s.details.prepared !== undefined),
      subject: { text, statements },
      estimateRows: () => estimate(env?.estimateRows, statements),
      allowed: () => env?.prepared?.remember(statements),
      trace: (label) => trace(policy.name ?? label, analysis, rules, lineage, index),
    };
  }
}

/** The fast-path interface names a function by OID only: it is decided as opaque code. */
function fastPathCall(functionOid: number): SqlAnalysis {
  return {
    ok: true,
    numbersMatter: true,
    statements: [
      {
        text: `-- fast-path call of function OID ${functionOid}`,
        command: 'FUNCTION CALL',
        kind: 'utility',
        flags: ['opaque-code'],
        relations: [],
        functions: [{ name: `oid:${functionOid}`, classification: { class: 'unknown' } }],
        columns: [],
        operators: [],
        details: {},
        problems: [],
      },
    ],
  };
}

interface Lineage {
  decision: MaskedDecision;
  findings: LineageFinding[];
  copyProblem?: string;
}

/**
 * Masked columns may only be read plainly (the wire masks them); a statement that computes, filters
 * or writes with one gets the lineage action: denied, or sent to review.
 */
function maskingLineage(
  decision: PolicyDecision,
  analysis: SqlAnalysis,
  policy: PolicyDocument,
  index: MaskIndex | undefined,
  connection: string,
): Lineage {
  if (!policy.masking || !index) return { decision, findings: [] };
  // Text that does not parse may hold anything: under a masking policy it is not recorded.
  if (!analysis.ok) return { decision: { ...decision, redactLiterals: true }, findings: [] };
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
    ? (analysis.statements
        .map((s) => s.details.copy && undecodableCopyOption(s.details.copy))
        .find(Boolean) ?? undefined)
    : undefined;
  const copyDenial: MaskedDecision | null =
    copyProblem && decision.effect !== 'deny'
      ? {
          effect: 'deny',
          rule: 'masking',
          reason: copyProblem,
          hint: 'Use COPY … TO STDOUT without options (the default text format: tab delimiter, backslash escapes, UTF-8), or SELECT.',
          statements: decision.statements,
        }
      : null;
  const found = (d: MaskedDecision): Lineage => ({ decision: d, findings, copyProblem });
  if (findings.length === 0)
    return found(copyDenial ?? (writesMasked ? { ...decision, redactLiterals: true } : decision));
  // Denied anyway, but its literals may be the values the masking hides.
  if (decision.effect === 'deny') return found({ ...decision, redactLiterals: true });
  const denied = findings.find((f) => f.action === 'deny');
  if (denied) {
    return found({
      effect: 'deny',
      redactLiterals: true,
      rule: 'masking',
      reason: describeFinding(denied),
      hint: 'Select the column itself (it arrives masked), or leave it out; or ask for review if the policy offers it.',
      statements: decision.statements,
    });
  }
  if (copyDenial) return found({ ...copyDenial, redactLiterals: true });
  if (decision.effect === 'review') return found({ ...decision, redactLiterals: true });
  return found({
    effect: 'review',
    redactLiterals: true,
    rule: 'masking',
    review: { approvers: ['self'] },
    obligations: decision.obligations,
    statements: decision.statements,
  });
}

/** More writes than this in one request are not planned one by one: the reviewer sees "unknown". */
const MAX_ESTIMATED_WRITES = 8;

/**
 * For the reviewer: how many rows the request's writes would touch, summed over its statements. Only
 * statements the analysis fully sees (no opaque code, no writable CTE, no server files) are planned;
 * planning never runs them. One write it cannot plan makes the total unknown (null), not smaller.
 */
function estimate(
  estimateRows: ((sql: string) => Promise<number | null>) | undefined,
  statements: StatementFacts[],
): Promise<number | null> | undefined {
  const writes = statements.filter((s) => s.kind === 'write');
  if (!estimateRows || writes.length === 0) return undefined;
  const plannable = (s: StatementFacts) =>
    s.flags.length === 0 && ['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(s.command);
  if (writes.length > MAX_ESTIMATED_WRITES || !writes.every(plannable)) return Promise.resolve(null);
  return (async () => {
    let total = 0;
    // One after the other: each plan opens an upstream connection of its own.
    for (const s of writes) {
      const n = await estimateRows(s.text).catch(() => null);
      if (n === null) return null;
      total += n;
    }
    return total;
  })();
}

function factsSummary(analysis: SqlAnalysis): FactsSummary[] | undefined {
  if (!analysis.ok) return undefined;
  return analysis.statements.map((s) => ({
    command: s.command,
    kind: s.kind,
    relations: [...new Set(s.relations.map(qualifiedName))],
    ...(s.details.everyRow ? { everyRow: true as const } : {}),
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

/** What Airlock sees in each statement, which rule decides it, and what masking adds. */
function trace(
  policyName: string,
  analysis: SqlAnalysis,
  rules: PolicyDecision,
  lineage: Lineage,
  index: MaskIndex | undefined,
): string[] {
  const lines: string[] = [];
  if (!analysis.ok) lines.push(`does not parse: ${analysis.error}`);
  else {
    analysis.statements.forEach((f, i) => {
      const d = rules.statements[i];
      lines.push(`statement ${i + 1}: ${f.text}`);
      lines.push(`  command    ${f.command}`);
      lines.push(`  kind       ${f.kind}`);
      if (f.flags.length) lines.push(`  flags      ${f.flags.join(', ')}`);
      if (f.relations.length)
        lines.push(`  relations  ${f.relations.map((r) => `${qualifiedName(r)} (${r.access})`).join(', ')}`);
      if (f.columns.length)
        lines.push(
          `  columns    ${f.columns.map((c) => `${c.relation ?? c.relations.join('|')}.${c.column} [${c.usage}]`).join(', ')}`,
        );
      if (f.functions.length)
        lines.push(
          `  functions  ${f.functions.map((fn) => `${describeFunction(fn)} [${fn.classification.class}]`).join(', ')}`,
        );
      if (f.problems.length) lines.push(`  problems   ${f.problems.join('; ')}`);
      lines.push(
        `  decision   ${d.effect.toUpperCase()} by rule "${d.rule}"${d.effect === 'deny' ? `: ${d.reason}` : ''}`,
      );
      if (d.effect !== 'deny' && Object.keys(d.obligations).length)
        lines.push(`  obligations ${JSON.stringify(d.obligations)}`);
      const masked = index ? maskedOutputs(f, index) : [];
      if (masked.length) lines.push(`  masked     ${masked.join(', ')} (arrive masked)`);
    });
  }
  lines.push(`request: ${rules.effect.toUpperCase()} (policy "${policyName}")`);
  const masking = [
    ...lineage.findings.map((f) => `masking    ${f.action.toUpperCase()}: ${describeFinding(f)}`),
    ...(lineage.copyProblem ? [`masking    DENY: ${lineage.copyProblem}`] : []),
  ];
  if (masking.length || lineage.decision.effect !== rules.effect) {
    lines.push(...masking, `request with masking: ${lineage.decision.effect.toUpperCase()}`);
  }
  return lines;
}

/** The masked columns a statement returns plainly: the wire masks them. */
function maskedOutputs(f: StatementFacts, index: MaskIndex): string[] {
  const relations = f.relations.map(qualifiedName);
  return f.columns
    .filter((c) => c.usage === 'output' && index.isMasked(c.relations, c.column, relations))
    .map((c) => `${c.relation ?? c.relations.join('|')}.${c.column}`);
}
