import type { SqlAnalysis, StatementFacts } from './facts';

/**
 * What the database itself defines that changes how names resolve. Built-ins are classified by name,
 * which is right only while no user function of the same name (an overload such as `public.length(int)`
 * that PostgreSQL may prefer) and no user operator exists. So the proxy reads the names of the user's
 * functions and operators from the upstream catalog, and every call of such a name is treated as the
 * user's own: unknown, decided by policy, never "safe".
 */
export interface CatalogFacts {
  userFunctions: ReadonlySet<string>;
  userOperators: ReadonlySet<string>;
  /** User relations' columns by `relid:attnum` (what RowDescription names), and by relation. */
  columns: ReadonlyMap<string, CatalogColumn>;
  relationColumns: ReadonlyMap<string, CatalogColumn[]>;
  /** Views (and materialized views) → the base columns (`relid:attnum`) their definition reads. */
  viewSources: ReadonlyMap<string, string[]>;
  /** Views → their definition (pg_get_viewdef), to follow each output column to its source. */
  viewDefinitions: ReadonlyMap<string, string>;
  loadedAt: number;
}

export interface CatalogColumn {
  relid: number;
  attnum: number;
  /** `schema.table` */
  relation: string;
  column: string;
  isView: boolean;
}

/**
 * Rows tagged by their first column: 'f' function name, 'o' operator name, 'c' a user relation's column
 * (relid, attnum, schema, table, column, relkind), 'd' a view's dependency on a base column (view relid,
 * base relid, base attnum), 'v' a view's definition. One Query, answered before the client's traffic flows.
 */
export const CATALOG_QUERY = `SELECT 'f', p.proname FROM pg_catalog.pg_proc p
 WHERE p.pronamespace NOT IN ('pg_catalog'::pg_catalog.regnamespace, 'information_schema'::pg_catalog.regnamespace)
UNION
SELECT 'o', o.oprname FROM pg_catalog.pg_operator o WHERE o.oprnamespace <> 'pg_catalog'::pg_catalog.regnamespace;
SELECT 'c', c.oid::text, a.attnum::text, n.nspname, c.relname, a.attname, c.relkind::text
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%';
SELECT DISTINCT 'd', r.ev_class::text, d.refobjid::text, d.refobjsubid::text
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
 WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjsubid > 0 AND d.refobjid <> r.ev_class;
SELECT 'v', c.oid::text, pg_catalog.pg_get_viewdef(c.oid)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')`;

export function catalogFromRows(rows: string[][], now = Date.now()): CatalogFacts {
  const userFunctions = new Set<string>();
  const userOperators = new Set<string>();
  const columns = new Map<string, CatalogColumn>();
  const relationColumns = new Map<string, CatalogColumn[]>();
  const viewSources = new Map<string, string[]>();
  const viewDefinitions = new Map<string, string>();
  for (const row of rows) {
    switch (row[0]) {
      case 'f':
        userFunctions.add(row[1]);
        break;
      case 'o':
        userOperators.add(row[1]);
        break;
      case 'c': {
        const [, relid, attnum, schema, table, column, relkind] = row;
        const c: CatalogColumn = {
          relid: Number(relid),
          attnum: Number(attnum),
          relation: `${schema}.${table}`,
          column,
          isView: relkind === 'v' || relkind === 'm',
        };
        columns.set(`${relid}:${attnum}`, c);
        const list = relationColumns.get(c.relation) ?? [];
        list.push(c);
        relationColumns.set(c.relation, list);
        break;
      }
      case 'v':
        viewDefinitions.set(row[1], row[2]);
        break;
      case 'd': {
        const [, view, relid, attnum] = row;
        const list = viewSources.get(view) ?? [];
        list.push(`${relid}:${attnum}`);
        viewSources.set(view, list);
        break;
      }
    }
  }
  return {
    userFunctions,
    userOperators,
    columns,
    relationColumns,
    viewSources,
    viewDefinitions,
    loadedAt: now,
  };
}

/** Qualified references `x.f` where f is a user function: attribute notation, PostgreSQL calls f(x). */
function attributeCalls(s: StatementFacts, catalog: CatalogFacts) {
  return s.columns.filter((c) => c.column !== '*' && catalog.userFunctions.has(c.column));
}

function shadowed(s: StatementFacts, catalog: CatalogFacts): boolean {
  return (
    s.functions.some(
      (f) => f.classification.class === 'safe' && !f.schema && catalog.userFunctions.has(f.name),
    ) ||
    s.operators.some((o) => catalog.userOperators.has(o)) ||
    attributeCalls(s, catalog).length > 0
  );
}

/**
 * The analysis with every call that may resolve to a user function or operator made `unknown`, and
 * every column name that is also a user function's name taken as that function called on the row.
 */
export function applyCatalog(analysis: SqlAnalysis, catalog: CatalogFacts): SqlAnalysis {
  if (!analysis.ok || (catalog.userFunctions.size === 0 && catalog.userOperators.size === 0)) return analysis;
  if (!analysis.statements.some((s) => shadowed(s, catalog))) return analysis;
  return {
    ...analysis,
    statements: analysis.statements.map((s) => {
      if (!shadowed(s, catalog)) return s;
      const calls = attributeCalls(s, catalog);
      return {
        ...s,
        functions: [
          ...s.functions.map((f) =>
            f.classification.class === 'safe' && !f.schema && catalog.userFunctions.has(f.name)
              ? { ...f, classification: { class: 'unknown' as const } }
              : f,
          ),
          ...s.operators
            .filter((o) => catalog.userOperators.has(o))
            .map((o) => ({ name: `operator(${o})`, classification: { class: 'unknown' as const } })),
          ...calls.map((c) => ({ name: c.column, classification: { class: 'unknown' as const } })),
        ],
        columns: [
          ...s.columns,
          ...calls.map((c) => ({
            ...c,
            column: '*',
            usage: c.usage === 'output' ? ('expression' as const) : c.usage,
          })),
        ],
      };
    }),
  };
}
