/**
 * A small PostgreSQL tokenizer for display: highlighting, a whitespace-only formatter and rendering to
 * DOM nodes (text nodes only — no markup is ever parsed). Tokens always concatenate back to the input,
 * and the formatter changes whitespace between tokens only, never inside strings or comments.
 */

import { h } from './dom';
import { HIDDEN_IN_BLOCK } from '../../src/core/text/printable';

export type TokenType =
  | 'ws'
  | 'comment'
  | 'string'
  | 'qident'
  | 'number'
  | 'param'
  | 'keyword'
  | 'function'
  | 'ident'
  | 'op'
  | 'punct';

export interface Token {
  type: TokenType;
  text: string;
}

// Reserved and common non-reserved PostgreSQL keywords (enough for highlighting, not for parsing).
const KEYWORDS = new Set(
  `ABORT ALL ALTER ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC AUTHORIZATION BEGIN BETWEEN BIGINT BOOLEAN BOTH BY
  CALL CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONCURRENTLY CONFLICT CONSTRAINT COPY CREATE CROSS CURRENT_DATE
  CURRENT_ROLE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURSOR DATABASE DEALLOCATE DECLARE DEFAULT DEFERRABLE
  DELETE DESC DISCARD DISTINCT DO DROP ELSE END EXCEPT EXECUTE EXISTS EXPLAIN EXTENSION FALSE FETCH FIRST FOR
  FOREIGN FROM FULL FUNCTION GRANT GROUP HAVING IF ILIKE IN INDEX INNER INSERT INTERSECT INTERVAL INTO IS ISNULL
  JOIN KEY LATERAL LEADING LEFT LIKE LIMIT LISTEN LOCAL LOCK MATERIALIZED MERGE NATURAL NEXT NO NOT NOTHING NOTIFY
  NOTNULL NULL NULLS OF OFFSET ON ONLY OR ORDER OUTER OVER OVERLAPS PARTITION PASSWORD PLACING PREPARE PRIMARY
  PROCEDURE RECURSIVE REFERENCES REFRESH REINDEX RELEASE RENAME REPLACE RESET RESTRICT RETURNING REVOKE RIGHT ROLE
  ROLLBACK ROW ROWS SAVEPOINT SCHEMA SELECT SEQUENCE SESSION SESSION_USER SET SHOW SIMILAR SOME START SYMMETRIC
  TABLE TABLESAMPLE TEMP TEMPORARY THEN TIES TO TRAILING TRANSACTION TRIGGER TRUE TRUNCATE UNION UNIQUE UNLISTEN
  UPDATE USER USING VACUUM VALUES VARIADIC VERBOSE VIEW WHEN WHERE WINDOW WITH WITHIN WITHOUT WORK`.split(
    /\s+/,
  ),
);

const WORD = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y;
const NUMBER =
  /(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.(?!\.)[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/y;
const OPERATOR = /[+\-*/<>=~!@#%^&|`?]+/y;
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;
const PARAM = /\$\d+/y;
const WS = /\s+/y;

function sticky(re: RegExp, s: string, i: number): string | null {
  re.lastIndex = i;
  const m = re.exec(s);
  return m ? m[0] : null;
}

/** The end of a quoted run starting at `i` (the opening quote), with doubled quotes as escapes. */
function quotedEnd(s: string, i: number, q: string, backslashes: boolean): number {
  let j = i + 1;
  while (j < s.length) {
    const c = s[j];
    if (backslashes && c === '\\') j += 2;
    else if (c === q) {
      if (s[j + 1] === q) j += 2;
      else return j + 1;
    } else j++;
  }
  return s.length;
}

export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (type: TokenType, end: number): void => {
    out.push({ type, text: sql.slice(i, end) });
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1] ?? '';
    let m: string | null;
    if ((m = sticky(WS, sql, i))) push('ws', i + m.length);
    else if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      push('comment', nl < 0 ? sql.length : nl);
    } else if (c === '/' && next === '*') {
      let depth = 0;
      let j = i;
      while (j < sql.length) {
        if (sql.startsWith('/*', j)) {
          depth++;
          j += 2;
        } else if (sql.startsWith('*/', j)) {
          j += 2;
          if (--depth === 0) break;
        } else j++;
      }
      push('comment', j);
    } else if (c === "'") push('string', quotedEnd(sql, i, "'", false));
    else if (/[EeBbXxNn]/.test(c) && next === "'")
      push('string', quotedEnd(sql, i + 1, "'", c === 'E' || c === 'e'));
    else if ((c === 'U' || c === 'u') && next === '&' && (sql[i + 2] === "'" || sql[i + 2] === '"')) {
      const q = sql[i + 2];
      const end = quotedEnd(sql, i + 2, q, false);
      push(q === "'" ? 'string' : 'qident', end);
    } else if (c === '"') push('qident', quotedEnd(sql, i, '"', false));
    else if (c === '$' && (m = sticky(PARAM, sql, i))) push('param', i + m.length);
    else if (c === '$' && (m = sticky(DOLLAR_TAG, sql, i))) {
      const close = sql.indexOf(m, i + m.length);
      push('string', close < 0 ? sql.length : close + m.length);
    } else if ((m = sticky(NUMBER, sql, i)) && !/[A-Za-z_]/.test(sql[i + m.length] ?? '')) {
      push('number', i + m.length);
    } else if ((m = sticky(WORD, sql, i))) {
      push(KEYWORDS.has(m.toUpperCase()) ? 'keyword' : 'ident', i + m.length);
    } else if ((m = sticky(OPERATOR, sql, i))) {
      // An operator ends where a comment starts.
      const cut = Math.min(...['--', '/*'].map((x) => m!.indexOf(x, 1)).filter((x) => x > 0), m.length);
      push('op', i + cut);
    } else if (c === ':' && next === ':') push('op', i + 2);
    else push(/[(),;[\].:]/.test(c) ? 'punct' : 'op', i + 1);
  }
  // A name directly followed by "(" is a function call.
  for (let k = 0; k < out.length; k++) {
    if (out[k].type === 'ident' && out[k + 1]?.text === '(') out[k].type = 'function';
  }
  return out;
}

const significant = (t: Token): boolean => t.type !== 'ws' && t.type !== 'comment';
const word = (t: Token | undefined): string =>
  t && (t.type === 'keyword' || t.type === 'ident') ? t.text.toUpperCase() : '';
const QUERY_STATEMENTS = new Set([
  'SELECT',
  'WITH',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'VALUES',
  'EXPLAIN',
  'TABLE',
]);
const JOIN_MODIFIERS = new Set(['LEFT', 'RIGHT', 'FULL', 'INNER', 'CROSS', 'NATURAL', 'OUTER']);
const ALWAYS_BREAK = new Set([
  'WHERE',
  'HAVING',
  'WINDOW',
  'RETURNING',
  'LIMIT',
  'OFFSET',
  'UNION',
  'INTERSECT',
  'EXCEPT',
]);

/**
 * Puts the clauses of a one-line query on their own lines (SELECT, FROM, WHERE, JOIN, GROUP BY, …),
 * indented by subquery depth. SQL that already has line breaks is returned as written: its author's
 * layout is kept. Only whitespace between tokens changes.
 */
export function formatSql(tokens: Token[]): Token[] {
  if (tokens.some((t) => t.type === 'ws' && t.text.includes('\n'))) return tokens;
  if (tokens.some((t) => t.type === 'comment' && t.text.startsWith('--'))) return tokens;
  const sig = tokens.map((t, i) => (significant(t) ? i : -1)).filter((i) => i >= 0);
  const out: Token[] = [];
  const frames: Array<'query' | 'expr'> = [];
  let statement = ''; // first word of the current statement
  let atStart = true;
  const breakLine = (depth: number): void => {
    while (out.length && out[out.length - 1].type === 'ws') out.pop();
    if (out.length) out.push({ type: 'ws', text: '\n' + '  '.repeat(depth) });
  };
  for (let s = 0; s < sig.length; s++) {
    const k = sig[s];
    const t = tokens[k];
    // Copy the whitespace/comments between the previous significant token and this one.
    for (let j = s === 0 ? 0 : sig[s - 1] + 1; j < k; j++) out.push(tokens[j]);
    const w = word(t);
    const prev = word(tokens[sig[s - 1]]);
    const next = word(tokens[sig[s + 1]]);
    const depth = frames.filter((f) => f === 'query').length;
    const inQuery = frames.length ? frames[frames.length - 1] === 'query' : QUERY_STATEMENTS.has(statement);
    if (atStart) {
      statement = w;
      atStart = false;
    } else if (inQuery && tokens[sig[s - 1]].text !== '(') {
      let brk = false;
      if (ALWAYS_BREAK.has(w)) brk = true;
      else if (w === 'SELECT') brk = !['EXPLAIN', 'ANALYZE', 'VERBOSE'].includes(prev);
      else if (w === 'FROM') brk = prev !== 'DELETE' && prev !== 'DISTINCT';
      else if (w === 'GROUP' || w === 'ORDER') brk = next === 'BY';
      else if (w === 'JOIN') brk = !JOIN_MODIFIERS.has(prev);
      else if (JOIN_MODIFIERS.has(w) && w !== 'OUTER')
        brk = (next === 'JOIN' || next === 'OUTER' || JOIN_MODIFIERS.has(next)) && !JOIN_MODIFIERS.has(prev);
      else if (w === 'SET') brk = statement === 'UPDATE' || statement === 'INSERT';
      else if (w === 'VALUES') brk = prev !== 'DEFAULT';
      else if (w === 'ON') brk = next === 'CONFLICT';
      if (brk) breakLine(depth);
    }
    out.push(t);
    if (t.text === '(') {
      const n = word(tokens[sig[s + 1]]);
      frames.push(n === 'SELECT' || n === 'WITH' || n === 'VALUES' ? 'query' : 'expr');
    } else if (t.text === ')') frames.pop();
    else if (t.text === ';') {
      frames.length = 0;
      atStart = true;
      if (s + 1 < sig.length) {
        // Next statement on its own line (drop the whitespace that followed the semicolon).
        let j = k + 1;
        while (j < sig[s + 1] && tokens[j].type === 'ws') j++;
        out.push({ type: 'ws', text: '\n' });
        for (; j < sig[s + 1]; j++) out.push(tokens[j]);
        sig[s] = sig[s + 1] - 1; // the loop above copied the gap already
      }
    }
  }
  for (let j = sig.length ? sig[sig.length - 1] + 1 : 0; j < tokens.length; j++) out.push(tokens[j]);
  return out;
}

/**
 * Characters a reviewer must see but a renderer hides: control characters, zero-width characters and
 * bidirectional overrides (the "Trojan Source" family), as core/text/printable.ts defines them.
 * Rendered as a visible marker.
 */
const INVISIBLE = HIDDEN_IN_BLOCK;

function appendText(parent: Node, text: string): void {
  let last = 0;
  for (const m of text.matchAll(INVISIBLE)) {
    if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
    const code = `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    parent.appendChild(
      h(
        'span',
        {
          class: 'tok-invisible',
          title: `Invisible character ${code}`,
          'aria-label': `invisible character ${code}`,
        },
        code,
      ),
    );
    last = m.index + m[0].length;
  }
  if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
}

/** Whether the text holds characters that {@link renderSql} shows as markers. */
export function hasInvisibleCharacters(text: string): boolean {
  INVISIBLE.lastIndex = 0;
  return INVISIBLE.test(text);
}

/** Renders SQL as highlighted spans into `target` (replacing its content). */
export function renderSql(target: Element, sql: string, options: { format: boolean }): void {
  const tokens = options.format ? formatSql(tokenize(sql)) : tokenize(sql);
  const frag = document.createDocumentFragment();
  for (const t of tokens) {
    if (t.type === 'ws' || t.type === 'punct' || t.type === 'op' || t.type === 'ident')
      appendText(frag, t.text);
    else {
      const span = h('span', { class: `tok-${t.type}` });
      appendText(span, t.text);
      frag.appendChild(span);
    }
  }
  target.replaceChildren(frag);
}

/** The first line of a statement, whitespace collapsed, for one-line summaries. */
export function sqlSummary(sql: string, max = 120): string {
  const one = sql.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
