import { parseStatements } from './parser';

/**
 * The statement of a script that a cursor at `offset` (characters) is in — the one before it when the
 * cursor sits between two — as the PostgreSQL grammar splits the script (never on semicolons in
 * strings or bodies). A script that does not parse is returned whole, so its explanation says why.
 */
export function statementAt(text: string, offset: number): string {
  const parsed = parseStatements(text);
  if (!parsed.ok || parsed.statements.length === 0) return text.trim();
  let chosen = parsed.statements[0];
  for (const s of parsed.statements) if (s.location <= offset) chosen = s;
  return text.slice(chosen.location, chosen.location + chosen.length).trim();
}
