import type { StatementOutcome, StatementResultSet } from './sessions';

/** What a tool returns: text for the model; `isError` marks a denial or a failure. */
export interface ToolOutput {
  text: string;
  isError?: boolean;
}

const MAX_CELL = 200;

function cell(value: string | null): string {
  if (value === null) return 'NULL';
  const flat = value.replace(/\r?\n/g, '\\n').replace(/\|/g, '\\|');
  return flat.length > MAX_CELL ? `${flat.slice(0, MAX_CELL)}…` : flat;
}

/** A compact Markdown table: header, separator, one line per row. */
export function table(columns: string[], rows: Array<Array<string | null>>): string {
  const lines = [`| ${columns.map((c) => cell(c)).join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function resultText(r: StatementResultSet, maxRows: number): string {
  if (r.columns.length === 0) {
    // No rows come back: the command tag says what happened.
    return r.rowCount === null
      ? `${r.command || 'OK'}`
      : `${r.command}: ${plural(r.rowCount, 'row')} affected`;
  }
  const shown =
    r.totalRows > r.rows.length
      ? `${plural(r.totalRows, 'row')}; showing the first ${r.rows.length} (row cap ${maxRows}: narrow the query, e.g. with WHERE or LIMIT, to see others)`
      : plural(r.totalRows, 'row');
  return `${table(r.columns, r.rows)}\n(${shown})`;
}

/**
 * A statement's outcome as tool output: a table per result set, or the error. An Airlock denial is
 * passed on verbatim (it starts `airlock: denied`), with its rule and hint, and marked as an error.
 */
export function outcomeText(outcome: StatementOutcome, maxRows: number): ToolOutput {
  if (!outcome.ok) return { text: errorText(outcome.error), isError: true };
  if (outcome.results.length === 0) return { text: 'OK (no statement)' };
  return { text: outcome.results.map((r) => resultText(r, maxRows)).join('\n\n') };
}

export function errorText(e: { message: string; code?: string; detail?: string; hint?: string }): string {
  const lines = [e.message];
  if (e.detail) lines.push(`DETAIL: ${e.detail}`);
  if (e.hint) lines.push(`HINT: ${e.hint}`);
  if (e.code) lines.push(`SQLSTATE: ${e.code}`);
  if (e.message.startsWith('airlock: denied'))
    lines.push(
      'Airlock denied this statement by policy. Do not try to get around the denial (another form of the same statement, another tool or connection); change what you ask for as the reason and hint say, or tell the user.',
    );
  return lines.join('\n');
}
