import { withoutLiterals } from './parser';

/**
 * What a recording keeps of a statement's text: verbatim, except passwords in CREATE/ALTER ROLE …
 * PASSWORD, and every literal when the statement computes, filters or writes with a masked column (a
 * literal there may be the very value the masking hides). Unparseable text with a password in it is
 * cut by pattern. Applied before the recorder is called: the recorder stores text, it does not parse SQL.
 */
export function recordedText(sql: string, redactLiterals = false): string {
  if (redactLiterals) return withoutLiterals(sql) ?? '[REDACTED: unparseable statement on masked data]';
  if (!/password/i.test(sql)) return sql;
  return sql.replace(
    /(\bPASSWORD\s+)('(?:[^']|'')*'|\$[A-Za-z0-9_]*\$[\s\S]*?\$[A-Za-z0-9_]*\$)/gi,
    "$1'[REDACTED]'",
  );
}
