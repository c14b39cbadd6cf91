import type { MaskStyleName, MaskingPolicy } from '../policy/document';
import { anyGlob } from '../policy/evaluate';
import type { CatalogFacts } from '../sql/catalog';

/**
 * Which columns are masked, and how: the policy's column rules (globs and tags on `schema.table.column`)
 * resolved against the upstream catalog, so that a result column is found by what RowDescription names
 * (table OID and attribute number) and a statement's columns by relation and name. A view that reads a
 * masked column has every one of its columns masked: which output column carries the value is not
 * followed through the view's definition, so all of them are (fail closed).
 */
export class MaskIndex {
  private readonly byField = new Map<string, MaskStyleName>();
  private readonly byRelation = new Map<string, Map<string, MaskStyleName>>();
  /** Names of masked columns anywhere: for error details that name a column but not its table. */
  readonly maskedNames = new Set<string>();

  constructor(
    private readonly policy: MaskingPolicy,
    catalog: CatalogFacts | undefined,
  ) {
    if (!catalog) return;
    for (const [key, c] of catalog.columns) {
      const style = c.isView ? undefined : this.styleByName(c.relation, c.column);
      if (style) this.set(key, c.relation, c.column, style);
    }
    for (const [view, sources] of catalog.viewSources) {
      if (!sources.some((s) => this.byField.has(s))) continue;
      const columns = [...catalog.columns.values()].filter((c) => String(c.relid) === view);
      for (const c of columns) this.set(`${c.relid}:${c.attnum}`, c.relation, c.column, 'redact');
    }
  }

  private set(field: string, relation: string, column: string, style: MaskStyleName): void {
    this.byField.set(field, style);
    let m = this.byRelation.get(relation);
    if (!m) this.byRelation.set(relation, (m = new Map()));
    m.set(column, style);
    this.maskedNames.add(column);
  }

  /** The policy's mask for a column by name, catalog or not. */
  styleByName(relation: string, column: string): MaskStyleName | undefined {
    const qualified = `${relation.includes('.') ? relation : `public.${relation}`}.${column}`;
    for (const rule of this.policy.columns ?? []) {
      const globs = [
        ...(rule.columns ?? []),
        ...(rule.tags ?? []).flatMap((t) => this.policy.tags?.[t] ?? []),
      ];
      if (anyGlob(globs, qualified)) return rule.mask;
    }
    return undefined;
  }

  /** The mask for a result column as RowDescription names it. */
  styleForField(tableOid: number, attnum: number): MaskStyleName | undefined {
    return tableOid === 0 ? undefined : this.byField.get(`${tableOid}:${attnum}`);
  }

  /**
   * Whether a column a statement uses is masked: `column` may be `*` (any column of the relation), and
   * `relation` `*` (any relation the statement reads, given in `statementRelations`).
   */
  isMasked(relations: string[], column: string, statementRelations: string[]): boolean {
    const candidates = relations.includes('*') ? statementRelations : relations;
    return candidates.some((r) => {
      const rel = r.includes('.') ? r : `public.${r}`;
      const known = this.byRelation.get(rel);
      if (column === '*') return (known?.size ?? 0) > 0 || this.relationHasRule(rel);
      return known?.has(column) || this.styleByName(rel, column) !== undefined;
    });
  }

  /** Whether any column rule names this relation (for `*` when the catalog does not list it). */
  private relationHasRule(relation: string): boolean {
    return (this.policy.columns ?? []).some((rule) =>
      [...(rule.columns ?? []), ...(rule.tags ?? []).flatMap((t) => this.policy.tags?.[t] ?? [])].some((g) =>
        anyGlob([g.split('.').slice(0, 2).join('.')], relation),
      ),
    );
  }
}
