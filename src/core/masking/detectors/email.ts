import { isAlnum, isAlpha, isLatinLetter } from './scan-helpers';
import type { Finding } from './types';

// E-mail addresses.

const isLocalChar = (c: number) =>
  isAlnum(c) ||
  c === 0x2e ||
  c === 0x5f ||
  c === 0x25 ||
  c === 0x2b ||
  c === 0x2d ||
  (c >= 0xc0 && isLatinLetter(c));
const isDomainChar = (c: number) => isAlnum(c) || c === 0x2e || c === 0x2d || (c >= 0xc0 && isLatinLetter(c));

function isTld(text: string, start: number, end: number): boolean {
  const len = end - start;
  if (len < 2 || len > 63) return false;
  if (len >= 5 && text.startsWith('xn--', start)) {
    for (let k = start + 4; k < end; k++) {
      const c = text.charCodeAt(k);
      if (!isAlnum(c) && c !== 0x2d) return false;
    }
    return true;
  }
  for (let k = start; k < end; k++) if (!isAlpha(text.charCodeAt(k))) return false;
  return true;
}

export function findEmails(text: string, out: Finding[]): void {
  let floor = 0; // left expansion never crosses an earlier finding
  let from = 0;
  let at: number;
  while ((at = text.indexOf('@', from)) !== -1) {
    from = at + 1;
    // Local part, leftwards, at most 64 characters.
    let s = at;
    while (s > floor && at - s < 65 && isLocalChar(text.charCodeAt(s - 1))) s--;
    if (at - s > 64) continue;
    while (s < at && text.charCodeAt(s) === 0x2e) s++; // no leading dot
    if (s === at) continue;
    // Domain, rightwards, at most 253 characters; the longest label sequence ending in a TLD.
    let e = at + 1;
    while (e < text.length && e - at <= 254 && isDomainChar(text.charCodeAt(e))) e++;
    from = Math.max(from, e);
    if (e - at > 254) continue;
    let labelStart = at + 1;
    let labels = 0;
    let end = -1;
    for (let k = at + 1; k <= e; k++) {
      if (k < e && text.charCodeAt(k) !== 0x2e) continue;
      const len = k - labelStart;
      if (len === 0 || len > 63 || text.charCodeAt(labelStart) === 0x2d || text.charCodeAt(k - 1) === 0x2d)
        break;
      labels++;
      if (labels >= 2 && isTld(text, labelStart, k)) end = k;
      labelStart = k + 1;
    }
    if (end < 0) continue;
    out.push({ detector: 'email', start: s, end });
    floor = end;
  }
}
