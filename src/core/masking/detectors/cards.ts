import { isDigit, isWord } from './scan-helpers';
import type { Finding } from './types';

// Payment cards: issuer ranges and lengths, and the Luhn checksum.

/** Maximal runs of digits joined by single spaces or dashes. Linear: separators are mandatory. */
const DIGIT_RUN = /\d+(?:[ -]\d+)*/g;

export function findCards(text: string, out: Finding[]): void {
  const re = DIGIT_RUN;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  const starts = cardStarts;
  const ends = cardEnds;
  while ((m = re.exec(text)) !== null) {
    const run = m[0];
    if (run.length < 13) continue;
    const runStart = m.index;
    const runEnd = runStart + run.length;
    // Groups of the run.
    starts.length = 0;
    ends.length = 0;
    let g = runStart;
    for (let k = runStart; k <= runEnd; k++) {
      if (k === runEnd || !isDigit(text.charCodeAt(k))) {
        starts.push(g);
        ends.push(k);
        g = k + 1;
      }
    }
    const groups = starts.length;
    // Not next to a word, nor the integer or fractional part of a decimal number.
    const leftOk =
      !isWord(text.charCodeAt(runStart - 1)) &&
      !(text.charCodeAt(runStart - 1) === 0x2e && isDigit(text.charCodeAt(runStart - 2)));
    const rightOk =
      !isWord(text.charCodeAt(runEnd)) &&
      !(text.charCodeAt(runEnd) === 0x2e && isDigit(text.charCodeAt(runEnd + 1)));
    let i = leftOk ? 0 : 1;
    while (i < groups) {
      let best = -1;
      let digits = 0;
      const sep = i + 1 < groups ? text.charCodeAt(ends[i]) : 0;
      for (let j = i; j < groups; j++) {
        const len = ends[j] - starts[j];
        if (j > i) {
          if (text.charCodeAt(ends[j - 1]) !== sep) break;
          // Grouped numbers: every group 3–8 digits.
          if (len < 3 || len > 8 || ends[i] - starts[i] < 3 || ends[i] - starts[i] > 8) break;
        }
        digits += len;
        if (digits > 19) break;
        if (
          digits >= 13 &&
          (j < groups - 1 || rightOk) &&
          isCardNumber(digitString(text, starts[i], ends[j]))
        )
          best = j;
      }
      if (best >= 0) {
        out.push({ detector: 'card', start: starts[i], end: ends[best] });
        i = best + 1;
      } else {
        i++;
      }
    }
  }
}

// Scratch arrays (detection is synchronous and never re-entered).
const cardStarts: number[] = [];
const cardEnds: number[] = [];

function digitString(text: string, start: number, end: number): string {
  let s = '';
  let from = start;
  for (let k = start; k < end; k++) {
    if (!isDigit(text.charCodeAt(k))) {
      s += text.slice(from, k);
      from = k + 1;
    }
  }
  return s + text.slice(from, end);
}

/** A card number (digits only): an issuer range with its lengths, and the Luhn checksum. */
export function isCardNumber(d: string): boolean {
  const len = d.length;
  if (len < 13 || len > 19) return false;
  const p2 = (d.charCodeAt(0) - 48) * 10 + (d.charCodeAt(1) - 48);
  const p3 = p2 * 10 + (d.charCodeAt(2) - 48);
  const p4 = p3 * 10 + (d.charCodeAt(3) - 48);
  let issuer: boolean;
  switch (d[0]) {
    case '4': // Visa
      issuer = len === 13 || len === 16 || len === 19;
      break;
    case '5': // Mastercard 51–55 (16); Maestro 50, 56–59 (13–19)
      issuer = p2 >= 51 && p2 <= 55 ? len === 16 : true;
      break;
    case '6': // Maestro 56–69 covers Discover 6011/644–649/65 and UnionPay 62 (13–19)
      issuer = true;
      break;
    case '2': // Mastercard 2221–2720
      issuer = p4 >= 2221 && p4 <= 2720 && len === 16;
      break;
    case '3':
      if (p2 === 34 || p2 === 37)
        issuer = len === 15; // Amex
      else if (p2 === 36 || p2 === 38 || (p3 >= 300 && p3 <= 305))
        issuer = len >= 14; // Diners
      else issuer = p4 >= 3528 && p4 <= 3589 && len >= 16; // JCB
      break;
    default:
      issuer = false;
  }
  return issuer && luhn(d);
}

function luhn(d: string): boolean {
  let sum = 0;
  let double = false;
  for (let k = d.length - 1; k >= 0; k--) {
    let v = d.charCodeAt(k) - 48;
    if (v < 0 || v > 9) return false;
    if (double) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    double = !double;
  }
  return sum % 10 === 0;
}
