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
  loadedAt: number;
}

/** One row per name: kind ('f' function, 'o' operator) and name. */
export const CATALOG_QUERY = `SELECT 'f', p.proname FROM pg_catalog.pg_proc p
 WHERE p.pronamespace NOT IN ('pg_catalog'::pg_catalog.regnamespace, 'information_schema'::pg_catalog.regnamespace)
UNION
SELECT 'o', o.oprname FROM pg_catalog.pg_operator o WHERE o.oprnamespace <> 'pg_catalog'::pg_catalog.regnamespace`;

export function catalogFromRows(rows: string[][], now = Date.now()): CatalogFacts {
  const userFunctions = new Set<string>();
  const userOperators = new Set<string>();
  for (const [kind, name] of rows) (kind === 'f' ? userFunctions : userOperators).add(name);
  return { userFunctions, userOperators, loadedAt: now };
}

function shadowed(s: StatementFacts, catalog: CatalogFacts): boolean {
  return (
    s.functions.some(
      (f) => f.classification.class === 'safe' && !f.schema && catalog.userFunctions.has(f.name),
    ) || s.operators.some((o) => catalog.userOperators.has(o))
  );
}

/** The analysis with every call that may resolve to a user function or operator made `unknown`. */
export function applyCatalog(analysis: SqlAnalysis, catalog: CatalogFacts): SqlAnalysis {
  if (!analysis.ok || (catalog.userFunctions.size === 0 && catalog.userOperators.size === 0)) return analysis;
  if (!analysis.statements.some((s) => shadowed(s, catalog))) return analysis;
  return {
    ...analysis,
    statements: analysis.statements.map((s) =>
      shadowed(s, catalog)
        ? {
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
            ],
          }
        : s,
    ),
  };
}
