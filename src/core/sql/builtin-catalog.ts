/**
 * The server's own functions, read from its pg_catalog rather than listed by hand: PostgreSQL's attribute
 * notation (`c.record_send`, `(v).pg_cancel_backend`) calls any function that takes one argument, and a
 * curated list misses the next one. Only names callable with one argument matter here; whether a call is
 * allowed is still decided by function-catalog.ts (safe only when curated, otherwise unknown).
 *
 * Read with the rest of the catalog on every connection, in the same round trip: about 1,000 short rows,
 * 3–5 ms on a loaded 2-core machine. A fingerprint that would let a cache skip them (one that also sees a
 * superuser's rename in pg_catalog) costs about as much to compute, so there is no cache.
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
