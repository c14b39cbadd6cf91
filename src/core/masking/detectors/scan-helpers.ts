import type { Finding } from './types';

// Character classes and word boundaries the scans share, and the merge of one detector's overlapping findings.

export const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
export const isUpper = (c: number) => c >= 0x41 && c <= 0x5a;
export const isLower = (c: number) => c >= 0x61 && c <= 0x7a;
export const isAlpha = (c: number) => isUpper(c) || isLower(c);
export const isAlnum = (c: number) => isDigit(c) || isAlpha(c);
/** [A-Za-z0-9_] (NaN, i.e. outside the string, is not). */
export const isWord = (c: number) => isAlnum(c) || c === 0x5f;
/** Latin letters beyond ASCII (Latin-1 Supplement and Latin Extended-A/B, without × and ÷). */
export const isLatinLetter = (c: number) => c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7;

/** The character before `start` does not glue the match to a word or a longer number. */
export function clearBefore(text: string, start: number, glue: string): boolean {
  const c = text.charCodeAt(start - 1);
  if (isWord(c)) return false;
  if (start >= 1 && glue.includes(text[start - 1]) && isDigit(text.charCodeAt(start - 2))) return false;
  return true;
}

/** The character after `end` does not glue the match to a word or a longer number. */
export function clearAfter(text: string, end: number, glue: string): boolean {
  const c = text.charCodeAt(end);
  if (isWord(c)) return false;
  if (end < text.length && glue.includes(text[end]) && isDigit(text.charCodeAt(end + 1))) return false;
  return true;
}

/** Sorts out[from…] by start (then longest first) and drops findings overlapping an earlier one. */
export function mergeFrom(out: Finding[], from: number): void {
  if (out.length - from < 2) return;
  const mine = out.splice(from);
  mine.sort((a, b) => a.start - b.start || b.end - a.end);
  let last = -1;
  for (const f of mine) {
    if (f.start < last) continue;
    out.push(f);
    last = f.end;
  }
}
