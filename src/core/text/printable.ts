/**
 * Text on its way to a person (a terminal, a log line, a tree label, a panel) is made printable: any
 * character a terminal would act on or a renderer would hide is shown as an escape instead. That is C0
 * and C1 controls and DEL (ESC starts terminal sequences that retitle a window, clear a screen or
 * rewrite what was printed), format characters (bidi overrides and isolates that reorder what is shown,
 * zero-width characters, the soft hyphen) and line/paragraph separators. Recordings and exports keep
 * text verbatim: they are evidence and data, not display.
 */
const HIDDEN = '\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}';

/** Hidden characters of multi-line text (an SQL box): newlines, CRLF and tabs are layout there and stay. */
export const HIDDEN_IN_BLOCK = new RegExp(`(?![\\n\\t]|\\r\\n)[${HIDDEN}]`, 'gu');
const HIDDEN_IN_LINE = new RegExp(`[${HIDDEN}]`, 'gu');

/** `\x1b`, `\u202e`: how a hidden character is written out, in ASCII. */
export function escapeCharacter(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code === 0x0a) return '\\n';
  if (code === 0x09) return '\\t';
  if (code === 0x0d) return '\\r';
  const hex = code.toString(16);
  return code < 0x100 ? `\\x${hex.padStart(2, '0')}` : `\\u${hex.padStart(4, '0')}`;
}

/** The text with every hidden character written out; `multiline` keeps newlines and tabs. */
export function printable(text: string, options: { multiline?: boolean } = {}): string {
  const re = options.multiline ? HIDDEN_IN_BLOCK : HIDDEN_IN_LINE;
  re.lastIndex = 0;
  return re.test(text) ? text.replace(re, escapeCharacter) : text;
}
