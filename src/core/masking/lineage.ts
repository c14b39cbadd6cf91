import type { LineageAction, MaskingPolicy } from '../policy/document';
import { qualifiedName, type ColumnUsage, type StatementFacts } from '../sql/facts';
import type { MaskIndex } from './mask-index';

export interface LineageFinding {
  action: LineageAction;
  usage: Exclude<ColumnUsage, 'output'> | 'statistics';
  /** `relation.column` as the statement names it. */
  column: string;
}

const USAGE_TEXT: Record<LineageFinding['usage'], string> = {
  expression:
    'computes on it (function, operator, cast, aggregate, whole row, set operation or subquery value)',
  predicate: 'filters, joins, groups or orders on it, which can reveal its values',
  write: 'writes it (or returns it from a write) where it would no longer be masked',
  copy: 'copies it out with COPY, which Airlock does not mask column by column',
  statistics: 'reads planner statistics, which hold sample values of columns',
};

/** Catalogs whose rows carry sample values of every analysed column. */
const STATISTICS = new Set([
  'pg_statistic',
  'pg_stats',
  'pg_stats_ext',
  'pg_stats_ext_exprs',
  'pg_statistic_ext_data',
]);

/**
 * Masked columns may be read only as plain select-list columns, which the wire masks. Anywhere else the
 * server computes from the real value, so the policy's lineage action applies (deny by default; COPY
 * of a masked column is always denied: SELECT returns it masked).
 */
export function lineageFindings(
  facts: StatementFacts,
  index: MaskIndex,
  policy: MaskingPolicy,
): LineageFinding[] {
  const relations = facts.relations.map(qualifiedName);
  const findings: LineageFinding[] = [];
  if (policy.columns?.length) {
    for (const r of facts.relations) {
      if (STATISTICS.has(r.name) && (!r.schema || r.schema === 'pg_catalog')) {
        findings.push({
          action: 'deny',
          usage: 'statistics',
          column: `${qualifiedName(r)} (masked columns' values)`,
        });
      }
    }
  }
  for (const c of facts.columns) {
    if (c.usage === 'output' || !index.isMasked(c.relations, c.column, relations)) continue;
    const action = c.usage === 'copy' ? 'deny' : (policy.lineage?.[c.usage] ?? 'deny');
    findings.push({ action, usage: c.usage, column: `${c.relation ?? c.relations.join('|')}.${c.column}` });
  }
  return findings;
}

export function describeFinding(f: LineageFinding): string {
  return `the statement ${USAGE_TEXT[f.usage]}: masked column ${f.column}`;
}
