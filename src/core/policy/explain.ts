import type { PolicyDocument } from './document';
import { describeFunction, evaluateAnalysis, type EvaluationContext } from './evaluate';
import { analyzeSql } from '../sql/analyze';
import { applyCatalog } from '../sql/catalog';
import { qualifiedName } from '../sql/facts';

/**
 * What Airlock sees in a statement and which rule decides it, as text for a person (`airlock policy
 * explain`, the extension's Explain Statement). Needs the SQL parser loaded.
 */
export function explainSql(
  policy: PolicyDocument,
  sql: string,
  context: EvaluationContext,
  policyLabel = 'policy',
): { text: string; effect: 'allow' | 'deny' | 'review' } {
  // Offline: no database catalog, so attribute notation is resolved from the names Airlock knows.
  const analysis = applyCatalog(analyzeSql(sql), undefined);
  const decision = evaluateAnalysis(policy, analysis, context);
  const lines: string[] = [];
  if (!analysis.ok) {
    lines.push(`does not parse: ${analysis.error}`);
  } else {
    analysis.statements.forEach((f, i) => {
      const d = decision.statements[i];
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
      if (f.functions.length) {
        lines.push(
          `  functions  ${f.functions.map((fn) => `${describeFunction(fn)} [${fn.classification.class}]`).join(', ')}`,
        );
      }
      if (f.problems.length) lines.push(`  problems   ${f.problems.join('; ')}`);
      lines.push(
        `  decision   ${d.effect.toUpperCase()} by rule "${d.rule}"${d.effect === 'deny' ? `: ${d.reason}` : ''}`,
      );
      if (d.effect !== 'deny' && Object.keys(d.obligations).length)
        lines.push(`  obligations ${JSON.stringify(d.obligations)}`);
    });
  }
  lines.push(`request: ${decision.effect.toUpperCase()} (policy "${policy.name ?? policyLabel}")`);
  return { text: lines.join('\n'), effect: decision.effect };
}
