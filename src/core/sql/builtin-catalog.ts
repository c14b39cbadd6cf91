/**
 * The server's own functions, read from its pg_catalog rather than listed by hand: PostgreSQL's attribute
 * notation (`c.record_send`, `(v).pg_cancel_backend`) calls any function that takes one argument, and a
 * curated list misses the next one. Only names callable with one argument matter here; whether a call is
 * allowed is still decided by function-catalog.ts (safe only when curated, otherwise unknown).
 */
export interface BuiltinFunctions {
  /** Built-in functions callable with one argument. */
  oneArgument: ReadonlySet<string>;
  /** Those of them that accept a whole row: record, a polymorphic pseudo-type or "any". */
  onRow: ReadonlySet<string>;
}

const SYSTEM_FUNCTIONS = `p.pronamespace IN ('pg_catalog'::pg_catalog.regnamespace, 'information_schema'::pg_catalog.regnamespace)
   AND p.pronargs >= 1 AND p.pronargs - p.pronargdefaults <= 1`;

const ROW_ARGUMENT = `p.proargtypes[0] IN ('pg_catalog.record'::pg_catalog.regtype, 'pg_catalog.anyelement'::pg_catalog.regtype,
   'pg_catalog.anynonarray'::pg_catalog.regtype, 'pg_catalog.anycompatible'::pg_catalog.regtype,
   'pg_catalog.anycompatiblenonarray'::pg_catalog.regtype, 'pg_catalog."any"'::pg_catalog.regtype)`;

/**
 * One row `'h', fingerprint` of what BUILTIN_FUNCTIONS_QUERY would read (a statement of the catalog
 * query): built-ins change only with the server's version or a superuser's DDL in pg_catalog, so a
 * connection reads them again only when the fingerprint is new.
 */
export const BUILTIN_FINGERPRINT_QUERY = `SELECT 'h', pg_catalog.md5(pg_catalog.string_agg(p.oid::text || ' ' || p.proname || ' ' || (${ROW_ARGUMENT})::text, ',' ORDER BY p.oid))
  FROM pg_catalog.pg_proc p WHERE ${SYSTEM_FUNCTIONS}`;

/** Rows `'b', name, 'true'|'false'` (whether some overload takes a whole row). */
export const BUILTIN_FUNCTIONS_QUERY = `SELECT 'b', p.proname, pg_catalog.bool_or(${ROW_ARGUMENT})::text
  FROM pg_catalog.pg_proc p WHERE ${SYSTEM_FUNCTIONS} GROUP BY p.proname`;

export function builtinsFromRows(rows: string[][]): BuiltinFunctions {
  const oneArgument = new Set<string>();
  const onRow = new Set<string>();
  for (const [tag, name, row] of rows) {
    if (tag !== 'b') continue;
    oneArgument.add(name);
    if (row === 'true') onRow.add(name);
  }
  return { oneArgument, onRow };
}

/** Fingerprint → built-ins. Servers of one version share an entry; a few versions at most. */
const cache = new Map<string, BuiltinFunctions>();
const CACHE_LIMIT = 8;

/**
 * The built-ins of the server the catalog rows came from: from the cache when its fingerprint is known,
 * otherwise read with `query` (one more round trip) and remembered.
 */
export async function loadBuiltins(
  catalogRows: string[][],
  query: (sql: string) => Promise<string[][]>,
): Promise<BuiltinFunctions> {
  // An empty fingerprint (no rows to hash) identifies nothing: read, and do not remember.
  const fingerprint = catalogRows.find((r) => r[0] === 'h')?.[1] || undefined;
  const known = fingerprint === undefined ? undefined : cache.get(fingerprint);
  if (known) return known;
  const builtins = builtinsFromRows(await query(BUILTIN_FUNCTIONS_QUERY));
  if (fingerprint !== undefined) {
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(fingerprint, builtins);
  }
  return builtins;
}
