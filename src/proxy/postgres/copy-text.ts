/**
 * PostgreSQL's COPY text format, field by field: rows end with a newline, fields are separated by a tab,
 * and a backslash escapes the characters that would break that (\\, \t, \n, \r, \b, \f, \v, and any
 * other character stands for itself). The masker reads each field as the value it is — so a newline
 * written as "\n" cannot glue an 'n' onto a card number — and writes a changed field back escaped.
 */

const DECODE: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
const ENCODE: Record<string, string> = {
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/** The value a raw field stands for (the raw text itself when it holds no escape). */
export function decodeCopyField(raw: string): string {
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\' || i + 1 === raw.length) {
      out += c;
      continue;
    }
    const next = raw[++i];
    out += DECODE[next] ?? next;
  }
  return out;
}

export function encodeCopyField(value: string): string {
  return value.replace(/[\\\b\f\n\r\t\v]/g, (c) => ENCODE[c]);
}

/**
 * Maps every field of the rows in `text` through `mask` (which returns the same string when it changes
 * nothing); returns `text` itself when no field changed.
 */
export function mapCopyFields(text: string, mask: (value: string) => string): string {
  let out: string | null = null;
  let copied = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text.charCodeAt(i);
    // 9 tab, 10 newline; NaN past the end closes the last field.
    if (c !== 9 && c !== 10 && i < text.length) continue;
    if (i > start) {
      const raw = text.slice(start, i);
      const value = decodeCopyField(raw);
      const masked = mask(value);
      if (masked !== value) {
        out = (out ?? '') + text.slice(copied, start) + encodeCopyField(masked);
        copied = i;
      }
    }
    start = i + 1;
  }
  return out === null ? text : out + text.slice(copied);
}
