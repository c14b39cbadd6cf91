import type { MaskStyleName, MaskingPolicy } from '../policy/document';
import { anyGlob } from '../policy/evaluate';
import type { CatalogFacts } from '../sql/catalog';
import { parseStatements } from '../sql/parser';

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const NO_CATALOG = {};
const indexes = new WeakMap<MaskingPolicy, WeakMap<CatalogFacts | typeof NO_CATALOG, MaskIndex>>();

/**
 * The mask index of a policy's masking against a catalog, made once per pair: decisions and the result
 * masker of every session on the connection share it (both are immutable once read).
 */
export function maskIndexFor(policy: MaskingPolicy, catalog: CatalogFacts | undefined): MaskIndex {
  let byCatalog = indexes.get(policy);
  if (!byCatalog) indexes.set(policy, (byCatalog = new WeakMap()));
  const key = catalog ?? NO_CATALOG;
  let index = byCatalog.get(key);
  if (!index) byCatalog.set(key, (index = new MaskIndex(policy, catalog)));
  return index;
}

/**
 * Which columns are masked, and how: the policy's column rules (globs and tags on `schema.table.column`)
 * resolved against the upstream catalog, so that a result column is found by what RowDescription names
 * (table OID and attribute number) and a statement's columns by relation and name. A view's columns are
 * followed through its definition: a plain column keeps its source's mask; a computed one over a view
 * that reads masked data is redacted, and so is every column of a view whose definition cannot be
 * followed (fail closed).
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
    // Views over views: repeat until no further view reads a masked column.
    const pending = new Map(catalog.viewSources);
    for (let changed = true; changed;) {
      changed = false;
      for (const [view, sources] of pending) {
        if (!sources.some((s) => this.byField.has(s))) continue;
        pending.delete(view);
        changed = true;
        const columns = [...catalog.columns.values()].filter((c) => String(c.relid) === view);
        const styles = this.viewColumnStyles(catalog.viewDefinitions.get(view), columns.length);
        for (const c of columns) {
          const style = styles ? styles[c.attnum - 1] : 'redact';
          if (style) this.set(`${c.relid}:${c.attnum}`, c.relation, c.column, style);
        }
      }
    }
  }

  /**
   * A view's output columns, followed to their sources in its definition: a plain column of a table
   * keeps that column's mask (or none), anything computed is redacted. Null — mask every column — when
   * the definition is not a plain select whose columns can be followed.
   */
  private viewColumnStyles(
    definition: string | undefined,
    count: number,
  ): Array<MaskStyleName | undefined> | null {
    if (!definition) return null;
    const parsed = parseStatements(definition);
    const stmt = parsed.ok && parsed.statements.length === 1 ? parsed.statements[0].stmt : null;
    const select = stmt && isObj(stmt.SelectStmt) ? stmt.SelectStmt : null;
    if (!select || select.op !== 'SETOP_NONE' || select.withClause) return null;
    const aliases = new Map<string, string>();
    let derived = false;
    const from = (node: unknown): void => {
      if (!isObj(node)) return;
      if (isObj(node.RangeVar)) {
        const rv = node.RangeVar;
        const rel = `${rv.schemaname ?? 'public'}.${rv.relname}`;
        if (isObj(rv.alias) && Array.isArray(rv.alias.colnames)) derived = true;
        aliases.set(isObj(rv.alias) ? String(rv.alias.aliasname) : String(rv.relname), rel);
      } else if (isObj(node.JoinExpr)) {
        if (node.JoinExpr.usingClause || node.JoinExpr.isNatural) derived = true;
        from(node.JoinExpr.larg);
        from(node.JoinExpr.rarg);
      } else {
        derived = true;
      }
    };
    for (const f of Array.isArray(select.fromClause) ? select.fromClause : []) from(f);
    const targets = Array.isArray(select.targetList) ? select.targetList : [];
    if (derived || targets.length !== count) return null;
    return targets.map((t) => {
      const val = isObj(t) && isObj(t.ResTarget) ? t.ResTarget.val : null;
      const fields =
        isObj(val) && isObj(val.ColumnRef) && Array.isArray(val.ColumnRef.fields)
          ? val.ColumnRef.fields
          : null;
      const names = fields?.map((f) => (isObj(f) && isObj(f.String) ? String(f.String.sval) : null));
      if (!names || names.includes(null) || names.length > 2) return 'redact';
      const relation =
        names.length === 2
          ? aliases.get(names[0] as string)
          : aliases.size === 1
            ? [...aliases.values()][0]
            : undefined;
      if (!relation) return 'redact';
      const column = names[names.length - 1] as string;
      return this.byRelation.get(relation)?.get(column) ?? this.styleByName(relation, column);
    });
  }

  private set(field: string, relation: string, column: string, style: MaskStyleName): void {
    this.byField.set(field, style);
    let m = this.byRelation.get(relation);
    if (!m) this.byRelation.set(relation, (m = new Map()));
    m.set(column, style);
    this.maskedNames.add(column);
  }

  /** Every masked column the catalog names (tables and views), with its mask: what a schema listing marks. */
  *maskedColumns(): IterableIterator<{ relation: string; column: string; mask: MaskStyleName }> {
    for (const [relation, columns] of this.byRelation)
      for (const [column, mask] of columns) yield { relation, column, mask };
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
