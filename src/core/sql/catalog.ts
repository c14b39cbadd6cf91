import { BUILTIN_FUNCTIONS_QUERY, builtinsFromRows, type BuiltinFunctions } from './builtin-catalog';
import type { AttributeUse, ColumnUse, FunctionUse, SqlAnalysis, StatementFacts } from './facts';
import { classifyFunction } from './function-catalog';

/**
 * What the database itself defines that changes how names resolve. Built-ins are classified by name,
 * which is right only while no user function of the same name (an overload such as `public.length(int)`
 * that PostgreSQL may prefer) and no user operator exists. So the proxy reads the names of the user's
 * functions and operators from the upstream catalog, and every call of such a name is treated as the
 * user's own: unknown, decided by policy, never "safe". It also tells what the parse tree alone cannot:
 * whether `c.name` is a column or a call (attribute notation), and whether a cast runs user code.
 */
export interface CatalogFacts {
  userFunctions: ReadonlySet<string>;
  userOperators: ReadonlySet<string>;
  /** User types (not enums) whose names pg_catalog does not have: a cast to one runs user code. */
  userTypes: ReadonlySet<string>;
  /** The server's own functions that attribute notation can call (builtin-catalog.ts). */
  builtins: BuiltinFunctions;
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
 * Rows tagged by their first column: 'f' function name, 'o' operator name, 't' user type name, 'c' a user
 * relation's column (relid, attnum, schema, table, column, relkind), 'd' a view's dependency on a base
 * column (view relid, base relid, base attnum), 'v' a view's definition, 'b' a built-in function
 * (builtin-catalog.ts). One Query, answered before the client's traffic flows.
 */
export const CATALOG_QUERY = `SELECT 'f', p.proname FROM pg_catalog.pg_proc p
 WHERE p.pronamespace NOT IN ('pg_catalog'::pg_catalog.regnamespace, 'information_schema'::pg_catalog.regnamespace)
UNION
SELECT 'o', o.oprname FROM pg_catalog.pg_operator o WHERE o.oprnamespace <> 'pg_catalog'::pg_catalog.regnamespace;
SELECT 't', t.typname FROM pg_catalog.pg_type t
 WHERE t.typnamespace NOT IN ('pg_catalog'::pg_catalog.regnamespace, 'information_schema'::pg_catalog.regnamespace)
   AND t.typtype <> 'e'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type b
                    WHERE b.typnamespace = 'pg_catalog'::pg_catalog.regnamespace AND b.typname = t.typname);
${BUILTIN_FUNCTIONS_QUERY};
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
  const userTypes = new Set<string>();
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
      case 't':
        userTypes.add(row[1]);
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
    userTypes,
    builtins: builtinsFromRows(rows),
    columns,
    relationColumns,
    viewSources,
    viewDefinitions,
    loadedAt: now,
  };
}

/** Whether a FROM item's relation has a column of that name: for every table the name may mean. */
function hasColumn(catalog: CatalogFacts, relation: string, column: string): boolean {
  const candidates = relation.includes('.')
    ? [catalog.relationColumns.get(relation)]
    : [...catalog.relationColumns].filter(([name]) => name.endsWith(`.${relation}`)).map(([, cols]) => cols);
  return candidates.length > 0 && candidates.every((cols) => cols?.some((c) => c.column === column));
}

/**
 * Whether PostgreSQL takes `x.name` / `(value).name` for the call name(x): x has no column of that name
 * (known only for tables) and the database has a function of that name taking such an argument — on a
 * row, one taking record, a polymorphic type or "any". Without the server's built-ins, the names
 * function-catalog.ts knows stand for them.
 */
function isCall(a: AttributeUse, catalog: CatalogFacts | undefined): boolean {
  if (a.row?.table && catalog && a.row.relations.every((r) => hasColumn(catalog, r, a.name))) return false;
  if (catalog?.userFunctions.has(a.name)) return true;
  if (!catalog?.builtins.oneArgument.size) return classifyFunction(a.name).class !== 'unknown';
  return (a.row ? catalog.builtins.onRow : catalog.builtins.oneArgument).has(a.name);
}

/** What a call in attribute notation uses: the function, and (on a FROM item) its whole row. */
function attributeCall(
  a: AttributeUse,
  catalog: CatalogFacts | undefined,
): { fn: FunctionUse; row?: ColumnUse } {
  const user = catalog?.userFunctions.has(a.name) ?? false;
  const fn = {
    name: a.name,
    classification: user ? { class: 'unknown' as const } : classifyFunction(a.name),
  };
  if (!a.row) return { fn };
  const { relations, usage } = a.row;
  return {
    fn,
    row: {
      relation: relations.length === 1 && relations[0] !== '*' ? relations[0] : undefined,
      relations,
      column: '*',
      usage: usage === 'output' ? 'expression' : usage,
    },
  };
}

/** The whole-row uses of the calls, once each. */
function wholeRows(calls: Array<{ row?: ColumnUse }>): ColumnUse[] {
  const rows = new Map<string, ColumnUse>();
  for (const { row } of calls) if (row) rows.set(`${row.relations.join(',')}\0${row.usage}`, row);
  return [...rows.values()];
}

/**
 * The statement as the database will run it: attribute-notation calls made calls (the function used, the
 * row read as an expression), casts to user types made uses of an unknown function, and every call or
 * operator that may resolve to a user's own made `unknown`, decided by policy, never "safe".
 */
function resolve(s: StatementFacts, catalog: CatalogFacts | undefined): StatementFacts {
  const calls = (s.attributes ?? []).filter((a) => isCall(a, catalog)).map((a) => attributeCall(a, catalog));
  const casts = catalog ? (s.castTypes ?? []).filter((t) => catalog.userTypes.has(t)) : [];
  const shadows = (f: FunctionUse) =>
    catalog !== undefined &&
    f.classification.class === 'safe' &&
    !f.schema &&
    catalog.userFunctions.has(f.name);
  const operators = catalog ? s.operators.filter((o) => catalog.userOperators.has(o)) : [];
  if (!calls.length && !casts.length && !operators.length && !s.functions.some(shadows)) return s;
  return {
    ...s,
    functions: [
      ...s.functions.map((f) => (shadows(f) ? { ...f, classification: { class: 'unknown' as const } } : f)),
      ...operators.map((o) => ({ name: `operator(${o})`, classification: { class: 'unknown' as const } })),
      ...casts.map((t) => ({ name: `cast to ${t}`, classification: { class: 'unknown' as const } })),
      ...calls.map((c) => c.fn),
    ],
    columns: [...s.columns, ...wholeRows(calls)],
  };
}

/**
 * Resolves what only the database's catalog can tell (see resolve); without a catalog (none loaded yet,
 * or an offline explanation), conservatively from the names function-catalog.ts knows.
 */
export function applyCatalog(analysis: SqlAnalysis, catalog: CatalogFacts | undefined): SqlAnalysis {
  if (!analysis.ok) return analysis;
  const statements = analysis.statements.map((s) => resolve(s, catalog));
  return statements.every((s, i) => s === analysis.statements[i]) ? analysis : { ...analysis, statements };
}
