import { clearAfter, clearBefore, isDigit, isWord, mergeFrom } from './scan-helpers';
import { FEATURE } from './features';
import type { Finding } from './types';

// Phone numbers: international, North American, and national with a trunk 0.

/** '+' and up to 25 digit/parenthesised elements, each optionally after one separator. Bounded. */
const PHONE_INTL = /\+(?:\(\d{1,4}\)|\d)(?:[ .-]?\(\d{1,5}\)|[ .-]?\d){6,24}/g;
/** North American 3-3-4 with an optional +1 / 1 prefix. Bounded. */
const PHONE_NANP = /(?:\+1[ .-]?|1[ .-])?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}/g;
/** A trunk-0 first group, then up to 5 groups of 2–8 digits. Bounded. */
const PHONE_NATIONAL = /(?:\(0\d{1,4}\) ?|0\d{1,4}[ ./-])\d{2,8}(?:[ ./-]\d{2,8}){0,4}/g;

export function findPhones(text: string, out: Finding[], features: number): void {
  const from = out.length;
  if (features & FEATURE.plus) findIntlPhones(text, out);
  if (features & (FEATURE.digitSep | FEATURE.paren)) {
    findNanpPhones(text, out);
    findNationalPhones(text, out);
  }
  mergeFrom(out, from);
}

function findIntlPhones(text: string, out: Finding[]): void {
  const re = PHONE_INTL;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const prev = text.charCodeAt(start - 1);
    if (isWord(prev) || prev === 0x2b) continue;
    let matchEnd = start + m[0].length;
    if (isDigit(text.charCodeAt(matchEnd))) continue; // more digits than any phone
    // Groups: digit runs, "(…)" counting as one; the last group boundary where ≤ 15 digits remain.
    let digits = 0;
    let groups = 0;
    let dotSeps = 0;
    let otherSeps = 0;
    let firstDigit = -1;
    let cut = -1; // end of the last complete group within 15 digits
    let k = start + 1;
    let ok = true;
    while (k < matchEnd) {
      const c = text.charCodeAt(k);
      if (c === 0x20 || c === 0x2d || c === 0x2e) {
        if (c === 0x2e) dotSeps++;
        else otherSeps++;
        k++;
        continue;
      }
      let gEnd: number;
      let gDigits: number;
      if (c === 0x28) {
        gEnd = text.indexOf(')', k) + 1;
        gDigits = gEnd - k - 2;
        if (firstDigit < 0) firstDigit = text.charCodeAt(k + 1);
        if (gDigits === 1 && text.charCodeAt(k + 1) === 0x30 && groups > 0) gDigits = 0; // "(0)" trunk prefix
      } else {
        gEnd = k;
        while (gEnd < matchEnd && isDigit(text.charCodeAt(gEnd))) gEnd++;
        gDigits = gEnd - k;
        if (firstDigit < 0) firstDigit = c;
      }
      if (digits + gDigits > 15) {
        // Only cut where a separator or parenthesis divides the groups.
        if (cut < 0) ok = false;
        break;
      }
      digits += gDigits;
      groups++;
      cut = gEnd;
      k = gEnd;
    }
    if (!ok || cut < 0 || firstDigit === 0x30 || digits < 8) continue;
    if (cut < matchEnd) matchEnd = cut;
    if (groups === 2 && dotSeps === 1 && otherSeps === 0 && !text.slice(start, matchEnd).includes('('))
      continue; // "+123.45"
    if (isWord(text.charCodeAt(matchEnd))) continue;
    out.push({ detector: 'phone', start, end: matchEnd });
    re.lastIndex = matchEnd;
  }
}

function findNanpPhones(text: string, out: Finding[]): void {
  const re = PHONE_NANP;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const s = m[0];
    const start = m.index;
    const end = start + s.length;
    // Parse back from the end: dddd, sep2, ddd, sep1?, area.
    const sep2 = s.charCodeAt(s.length - 5);
    const areaEnd = s.length - 8; // index after the area code part (incl. its separator)
    const paren = s.charCodeAt(areaEnd - 1) === 0x29 || s.charCodeAt(areaEnd - 2) === 0x29;
    let good: boolean;
    if (paren) {
      good = true;
    } else {
      const sep1 = s.charCodeAt(areaEnd - 1);
      const areaFirst = s.charCodeAt(areaEnd - 4);
      good = sep1 === sep2 && (sep1 !== 0x20 || (areaFirst >= 0x32 && areaFirst <= 0x39));
    }
    if (good && clearBefore(text, start, '.-') && clearAfter(text, end, '.-')) {
      out.push({ detector: 'phone', start, end });
    } else {
      re.lastIndex = start + 1;
    }
  }
}

function findNationalPhones(text: string, out: Finding[]): void {
  const re = PHONE_NATIONAL;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const matchEnd = start + m[0].length;
    const found = nationalPhoneEnd(text, start, matchEnd);
    if (found > 0) {
      out.push({ detector: 'phone', start, end: found });
      re.lastIndex = found;
    } else {
      re.lastIndex = start + 1;
    }
  }
}

/** The end of a valid national number starting at `start` (within the regex match), or -1. */
function nationalPhoneEnd(text: string, start: number, matchEnd: number): number {
  if (!clearBefore(text, start, './-') || text.charCodeAt(start - 1) === 0x2b) return -1;
  if (isDigit(text.charCodeAt(matchEnd))) return -1; // a group longer than 8 digits
  const paren = text.charCodeAt(start) === 0x28;
  let k = paren ? start + 1 : start;
  if (text.charCodeAt(k + 1) === 0x30) return -1; // "00": an international prefix, not a trunk 0
  // First group.
  while (isDigit(text.charCodeAt(k))) k++;
  const firstLen = k - (paren ? start + 1 : start);
  let digits = firstLen;
  if (paren) {
    k++; // ')'
    if (text.charCodeAt(k) === 0x20) k++;
  }
  // Following groups, all with the same separator (the one after the first group, unless parenthesised).
  let sep = paren ? -1 : text.charCodeAt(k);
  if (!paren) k++;
  let groups = 1;
  let end = -1;
  let groupsAtEnd = 0;
  for (;;) {
    const g = k;
    while (k < matchEnd && isDigit(text.charCodeAt(k))) k++;
    const len = k - g;
    if (len < 2) break;
    digits += len;
    groups++;
    if (digits > 12) break;
    if (digits >= 9) {
      end = k;
      groupsAtEnd = groups;
    }
    if (k >= matchEnd) break;
    const c = text.charCodeAt(k);
    if (sep < 0) sep = c;
    if (c !== sep) break;
    k++;
  }
  if (end < 0) return -1;
  // Longer glued numbers and words are not phones; a dotted pair is a decimal.
  if (!clearAfter(text, end, './-')) return -1;
  if (groupsAtEnd === 2 && !paren && text.charCodeAt(start + firstLen) === 0x2e) return -1;
  return end;
}
