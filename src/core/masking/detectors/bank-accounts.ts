import { isDigit, isUpper, isWord } from './scan-helpers';
import type { Finding } from './types';

// Bank accounts: IBANs, checked against the country lengths and mod-97.

/** IBAN lengths by country (ISO 13616 registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22,
  GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30,
  KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31,
  MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SC: 31, SE: 24,
  SI: 19, SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
}; // prettier-ignore

/** Compact (contiguous) or grouped by four with single spaces. Bounded. */
const IBAN = /[A-Z]{2}\d{2}(?:(?: [A-Z0-9]{4}){2,8}(?: [A-Z0-9]{1,4})?|[A-Z0-9]{11,30})/g;

export function findIbans(text: string, out: Finding[]): void {
  const re = IBAN;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const end = ibanEnd(text, start, start + m[0].length);
    if (end > 0) {
      out.push({ detector: 'iban', start, end });
      re.lastIndex = end;
    } else {
      re.lastIndex = start + 1;
    }
  }
}

function ibanEnd(text: string, start: number, matchEnd: number): number {
  if (isWord(text.charCodeAt(start - 1))) return -1;
  const want = IBAN_LENGTHS[text.slice(start, start + 2)];
  let compact = '';
  let end = -1;
  for (let k = start; k < matchEnd; k++) {
    if (text.charCodeAt(k) === 0x20) continue;
    compact += text[k];
    if (want !== undefined && compact.length === want) {
      end = k + 1;
      break;
    }
  }
  if (want === undefined) {
    if (compact.length < 15 || compact.length > 34) return -1;
    end = matchEnd;
  }
  if (end < 0 || isWord(text.charCodeAt(end))) return -1;
  return isValidIban(compact) ? end : -1;
}

/** mod-97 of the rearranged IBAN (letters as 10–35) is 1. */
export function isValidIban(compact: string): boolean {
  let r = 0;
  const n = compact.length;
  for (let i = 0; i < n; i++) {
    const c = compact.charCodeAt((i + 4) % n);
    if (isDigit(c)) r = (r * 10 + (c - 48)) % 97;
    else if (isUpper(c)) r = (r * 100 + (c - 55)) % 97;
    else return false;
  }
  return r === 1;
}
