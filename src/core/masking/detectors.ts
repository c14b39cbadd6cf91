import { isIPv6 } from 'node:net';

/**
 * Content detectors: personal data and secrets found inside text values. Each built-in detector finds
 * candidates with a linear scan (a hand-written loop, `indexOf`, or a regular expression whose every
 * repetition is bounded or unambiguous) and then validates them (Luhn and issuer ranges, SSN ranges, IBAN
 * mod-97 and country lengths, IPv4 octets, `isIPv6`, JWT header/payload JSON, …), so plain numbers, version
 * strings and random tokens are left alone. No detector backtracks on long inputs: 100k digits or 100k '@'
 * are scanned in linear time.
 *
 * Offsets are UTF-16 code units of the input, [start, end).
 *
 * What each built-in detector matches (all case-sensitive unless said otherwise):
 *
 * - card: 13–19 digits, either contiguous or in groups of 3–8 digits separated by single spaces or single
 *   dashes (one kind per number: "4111 1111 1111 1111", "4111-1111-1111-1111", "3782 822463 10005");
 *   Luhn-valid; an issuer range with its lengths: Visa 4 (13, 16, 19), Mastercard 51–55 and 2221–2720
 *   (16), Amex 34/37 (15), Discover 6011/644–649/65, UnionPay 62, JCB 3528–3589 (16–19), Diners 300–305/
 *   36/38 (14–19), Maestro 50/56–69 (13–19; Maestro's 12-digit numbers are not matched). Not next to a
 *   letter, digit or '_' (so hex ids and UUIDs stay alone), and not the fractional or integer part of a
 *   decimal ("0.4111…", "4111….5"). Inside a longer run of grouped numbers the card's own groups are
 *   found ("qty 12345 4111 1111 1111 1111").
 * - email: local part of [A-Za-z0-9._%+-] and Latin letters (U+00C0–U+024F), at most 64 characters;
 *   '@'; a domain of at least two dot-separated labels (letters, digits, '-', Latin letters; no label
 *   starting or ending with '-'), the last one a TLD of 2+ ASCII letters or an "xn--" label. Quoted
 *   local parts are not matched. "a@b", "foo@bar" and "user@localhost" are not addresses.
 * - phone (separators or a '+' are required, so bare digit runs such as order ids never match):
 *   - international: '+', a country code not starting with 0, then 8–15 digits in all, in groups that
 *     may be separated by one space, dot or dash and may be parenthesised ("+1 (555) 123-4567",
 *     "+44 (0)20 7946 0958" — a "(0)" trunk prefix is not counted — "+4930123456", "+33 1 23 45 67 89");
 *     not "+" glued to a preceding letter or digit (arithmetic), and not a two-group "+123.45" decimal.
 *   - North American: optional "+1" or "1" prefix, then "(555) 123-4567", "(555)123-4567",
 *     "555-123-4567", "555.123.4567" or "555 123 4567" (the two separators alike unless the area code is
 *     parenthesised; with spaces the area code must start with 2–9).
 *   - national with a trunk 0 (UK, DE, FR, …): a first group of "0" plus 1–4 digits (not "00"),
 *     optionally parenthesised, then groups of 2–8 digits, all separated by the same single space, dot,
 *     dash or slash; 9–12 digits in all ("020 7946 0958", "07700 900123", "030 1234567",
 *     "(030) 1234567", "030/1234567", "01 23 45 67 89", "01.23.45.67.89"). Dates (8 digits) do not
 *     qualify.
 *   None of them glued to a longer dotted or dashed number or a word.
 * - ssn: US SSN "ddd-dd-dddd" or "ddd dd dddd" (one separator kind); area not 000, 666 or 900–999,
 *   group not 00, serial not 0000; not part of a longer number or word. Nine bare digits are not matched.
 * - iban: two uppercase letters, two check digits, then the BBAN (uppercase letters and digits), either
 *   contiguous or in groups of four separated by single spaces; the length must be the country's
 *   (a table of 77 countries, all of SEPA among them) or, for any other country code, 15–34; mod-97 must
 *   be 1. Lowercase IBANs are not matched.
 * - ipv4: four dot-separated decimal octets 0–255 without leading zeros, not next to a letter or digit,
 *   and not part of a longer dotted number (so "1.2.3.4.5" is not an address).
 * - ipv6: a run of hex digits, ':' and '.' with at least two ':' and one hex digit that `net.isIPv6`
 *   accepts (full, "::"-compressed, embedded IPv4); not next to a letter, digit or '_' (so "std::vector"
 *   and "x::int" casts are not addresses). A zone suffix ("%eth0") is left outside the finding.
 * - jwt: "eyJ" + base64url, '.', base64url, '.', optional base64url; the header and the payload must
 *   decode to JSON objects.
 * - aws-key: access key ids (AKIA, ASIA, AROA, AIDA, ANPA, ANVA, AIPA + 16 of [A-Z0-9]) with no letter
 *   or digit around them; a 40-character secret ([A-Za-z0-9/+=], with at least one lowercase letter, '/'
 *   or '+') that follows or precedes a key id with only separators (whitespace , ; : | = quotes) and at
 *   most 12 of them in between; and a 40-character secret after a label such as aws_secret_access_key,
 *   AWS_SECRET_ACCESS_KEY, SecretAccessKey, secret_key ("=", ":", "=>", optional quotes).
 * - github-token: ghp_, gho_, ghu_, ghs_, ghr_ + 36 to 251 letters/digits (36 today; GitHub may lengthen
 *   them); github_pat_ + 22 + '_' + 59 letters/digits.
 * - slack-token: xoxa-, xoxb-, xoxp-, xoxr-, xoxs- + digits + '-' + 8 or more letters, digits and
 *   dashes ("xoxb-123456789012-1234567890123-AbC…"); webhook URLs
 *   "https://hooks.slack.com/services/T…/B…/…" (http or https).
 * - private-key: "-----BEGIN … PRIVATE KEY-----" (RSA, EC, DSA, OPENSSH, ENCRYPTED, plain, and
 *   "PGP PRIVATE KEY BLOCK") through the next "-----END … PRIVATE KEY-----"; without an END marker, through
 *   the end of the text (fail closed).
 *
 * Cost: one pass over the text computes cheap features (digit and ':' counts, '@', "eyJ", key prefixes,
 * digit-separator-digit, …); each detector has a gate on them — a necessary condition for any finding —
 * and runs only when it holds, so most values cost that one pass and nothing else.
 */

export const BUILTIN_DETECTORS = [
  'card',
  'email',
  'phone',
  'ssn',
  'iban',
  'ipv4',
  'ipv6',
  'jwt',
  'aws-key',
  'github-token',
  'slack-token',
  'private-key',
] as const;
export type BuiltinDetector = (typeof BUILTIN_DETECTORS)[number];

/** One match: [start, end) in UTF-16 code units of the input. */
export interface Finding {
  detector: string;
  start: number;
  end: number;
}

export interface Detector {
  readonly name: string;
  find(text: string): Finding[];
}

// ---------------------------------------------------------------------------------------------------
// Text features: one cheap pass that tells which detectors can possibly match.
// ---------------------------------------------------------------------------------------------------

/**
 * Feature bits of a text (low 16 bits of a features value); above them the ASCII digit count (bits
 * 16–23, capped at 255) and the ':' count (bits 24–26, capped at 7).
 */
export const FEATURE = {
  at: 1 << 0, // '@'
  colon: 1 << 1, // ':'
  equals: 1 << 2, // '='
  jwt: 1 << 3, // "eyJ"
  awsId: 1 << 4, // AKIA, ASIA, AROA, AIDA, ANPA, ANVA, AIPA
  github: 1 << 5, // gh[pousr]_ or github_pat_
  slack: 1 << 6, // xox[abprs]- or "://hooks.slack.com/"
  pem: 1 << 7, // "-----BEGIN"
  doubleColon: 1 << 8, // "::"
  plus: 1 << 9, // '+' before a digit or '('
  paren: 1 << 10, // '(' before a digit
  digitSep: 1 << 11, // digit, one of space - . /, digit
  digitDot: 1 << 12, // digit '.' digit
  ibanStart: 1 << 13, // two uppercase letters and two digits
  keyLabel: 1 << 14, // key/Key/KEY, optional quote and blanks, then ':' or '='
} as const;
const DIGIT_SHIFT = 16;
const DIGIT_CAP = 255;
const COLON_SHIFT = 24;
const COLON_CAP = 7;

/** The digit count of a features value. */
const digitCount = (f: number) => (f >>> DIGIT_SHIFT) & 0xff;
/** The ':' count (at most 7) of a features value. */
const colonsOf = (f: number) => (f >>> COLON_SHIFT) & 0x7;

// Character classes for the feature pass (ASCII only; everything else is uninteresting).
const C_DIGIT = 1;
const C_AT = 2;
const C_COLON = 3;
const C_EQUALS = 4;
const C_J = 5;
const C_A = 6;
const C_UNDERSCORE = 7;
const C_DASH = 8;
const C_PLUS = 9;
const C_PAREN = 10;
const CHAR_CLASS = new Uint8Array(0x60);
for (let c = 0x30; c <= 0x39; c++) CHAR_CLASS[c] = C_DIGIT;
CHAR_CLASS[0x40] = C_AT;
CHAR_CLASS[0x3a] = C_COLON;
CHAR_CLASS[0x3d] = C_EQUALS;
CHAR_CLASS[0x4a] = C_J;
CHAR_CLASS[0x41] = C_A;
CHAR_CLASS[0x5f] = C_UNDERSCORE;
CHAR_CLASS[0x2d] = C_DASH;
CHAR_CLASS[0x2b] = C_PLUS;
CHAR_CLASS[0x28] = C_PAREN;

/**
 * Features of `text` in one pass (see FEATURE): what the built-in detectors' gates look at.
 * @internal
 */
export function textFeatures(text: string): number {
  let bits = 0;
  let digits = 0;
  let colons = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    // Lowercase letters, most punctuation and all non-ASCII: nothing to note (no trigger is above '_').
    if (c > 0x5f) continue;
    const k = CHAR_CLASS[c];
    if (k === 0) continue;
    switch (k) {
      case C_DIGIT: {
        if (digits < DIGIT_CAP) digits++;
        if (i < 2) break;
        const p = text.charCodeAt(i - 1);
        const pp = text.charCodeAt(i - 2);
        if (isDigit(p)) {
          if (i >= 3 && isUpper(pp) && isUpper(text.charCodeAt(i - 3))) bits |= FEATURE.ibanStart;
        } else if (isDigit(pp) && (p === 0x20 || p === 0x2d || p === 0x2e || p === 0x2f)) {
          bits |= p === 0x2e ? FEATURE.digitSep | FEATURE.digitDot : FEATURE.digitSep;
        }
        break;
      }
      case C_AT:
        bits |= FEATURE.at;
        break;
      case C_COLON:
        bits |= FEATURE.colon;
        if (isKeyLabelBefore(text, i)) bits |= FEATURE.keyLabel;
        if (colons < COLON_CAP) colons++;
        if (text.charCodeAt(i + 1) === 0x3a) bits |= FEATURE.doubleColon;
        else if (text.charCodeAt(i + 3) === 0x68 && text.startsWith('://hooks.slack.com/', i))
          bits |= FEATURE.slack;
        break;
      case C_EQUALS:
        bits |= FEATURE.equals;
        if (isKeyLabelBefore(text, i)) bits |= FEATURE.keyLabel;
        break;
      case C_J: // "eyJ"
        if (i >= 2 && text.charCodeAt(i - 1) === 0x79 && text.charCodeAt(i - 2) === 0x65) bits |= FEATURE.jwt;
        break;
      case C_A:
        if (isAwsIdPrefixAt(text, i)) bits |= FEATURE.awsId;
        break;
      case C_UNDERSCORE:
        if (isGithubPrefixBefore(text, i)) bits |= FEATURE.github;
        break;
      case C_DASH:
        if (isSlackPrefixBefore(text, i)) bits |= FEATURE.slack;
        if (text.charCodeAt(i + 1) === 0x2d && text.startsWith('-----BEGIN', i)) bits |= FEATURE.pem;
        break;
      case C_PLUS: {
        const nx = text.charCodeAt(i + 1);
        if (isDigit(nx) || nx === 0x28) bits |= FEATURE.plus;
        break;
      }
      case C_PAREN:
        if (isDigit(text.charCodeAt(i + 1))) bits |= FEATURE.paren;
        break;
    }
  }
  return bits | (digits << DIGIT_SHIFT) | (colons << COLON_SHIFT);
}

function isAwsIdPrefixAt(text: string, i: number): boolean {
  // AKIA ASIA AROA AIDA ANPA ANVA AIPA
  const b = text.charCodeAt(i + 1);
  const c = text.charCodeAt(i + 2);
  const d = text.charCodeAt(i + 3);
  switch (b) {
    case 0x4b: // K
      return c === 0x49 && d === 0x41; // KIA
    case 0x53: // S
      return c === 0x49 && d === 0x41; // SIA
    case 0x52: // R
      return c === 0x4f && d === 0x41; // ROA
    case 0x49: // I
      return (c === 0x44 || c === 0x50) && d === 0x41; // IDA IPA
    case 0x4e: // N
      return (c === 0x50 || c === 0x56) && d === 0x41; // NPA NVA
    default:
      return false;
  }
}

/** "key", "Key" or "KEY", then an optional quote and up to 4 blanks, right before i. */
function isKeyLabelBefore(text: string, i: number): boolean {
  let k = i;
  while (k > 0 && i - k < 4 && (text.charCodeAt(k - 1) === 0x20 || text.charCodeAt(k - 1) === 0x09)) k--;
  const q = text.charCodeAt(k - 1);
  if (q === 0x22 || q === 0x27) k--;
  if (k < 3) return false;
  const a = text.charCodeAt(k - 3) | 0x20;
  return a === 0x6b && (text.charCodeAt(k - 2) | 0x20) === 0x65 && (text.charCodeAt(k - 1) | 0x20) === 0x79;
}

function isGithubPrefixBefore(text: string, i: number): boolean {
  // gh[pousr]_ ending at i, or "github_pat_" whose first '_' is at i
  if (i >= 3 && text.charCodeAt(i - 3) === 0x67 && text.charCodeAt(i - 2) === 0x68) {
    const t = text.charCodeAt(i - 1);
    if (t === 0x70 || t === 0x6f || t === 0x75 || t === 0x73 || t === 0x72) return true;
  }
  return i >= 6 && text.startsWith('github_pat_', i - 6);
}

function isSlackPrefixBefore(text: string, i: number): boolean {
  // xox[abprs] ending right before the '-' at i
  if (i < 4 || text.charCodeAt(i - 4) !== 0x78 || text.charCodeAt(i - 3) !== 0x6f) return false;
  if (text.charCodeAt(i - 2) !== 0x78) return false;
  const t = text.charCodeAt(i - 1);
  return t === 0x61 || t === 0x62 || t === 0x70 || t === 0x72 || t === 0x73;
}

/**
 * When a detector can possibly match, from a text's features: a necessary condition for any finding
 * (so a false gate means certainly nothing).
 */
type Gate = (features: number) => boolean;

// ---------------------------------------------------------------------------------------------------
// Character helpers
// ---------------------------------------------------------------------------------------------------

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isUpper = (c: number) => c >= 0x41 && c <= 0x5a;
const isLower = (c: number) => c >= 0x61 && c <= 0x7a;
const isAlpha = (c: number) => isUpper(c) || isLower(c);
const isAlnum = (c: number) => isDigit(c) || isAlpha(c);
/** [A-Za-z0-9_] (NaN, i.e. outside the string, is not). */
const isWord = (c: number) => isAlnum(c) || c === 0x5f;
/** Latin letters beyond ASCII (Latin-1 Supplement and Latin Extended-A/B, without × and ÷). */
const isLatinLetter = (c: number) => c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7;

/** The character before `start` does not glue the match to a word or a longer number. */
function clearBefore(text: string, start: number, glue: string): boolean {
  const c = text.charCodeAt(start - 1);
  if (isWord(c)) return false;
  if (start >= 1 && glue.includes(text[start - 1]) && isDigit(text.charCodeAt(start - 2))) return false;
  return true;
}

/** The character after `end` does not glue the match to a word or a longer number. */
function clearAfter(text: string, end: number, glue: string): boolean {
  const c = text.charCodeAt(end);
  if (isWord(c)) return false;
  if (end < text.length && glue.includes(text[end]) && isDigit(text.charCodeAt(end + 1))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------
// card
// ---------------------------------------------------------------------------------------------------

/** Maximal runs of digits joined by single spaces or dashes. Linear: separators are mandatory. */
const DIGIT_RUN = /\d+(?:[ -]\d+)*/g;

function findCards(text: string, out: Finding[]): void {
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

// ---------------------------------------------------------------------------------------------------
// email
// ---------------------------------------------------------------------------------------------------

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

function findEmails(text: string, out: Finding[]): void {
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

// ---------------------------------------------------------------------------------------------------
// phone
// ---------------------------------------------------------------------------------------------------

/** '+' and up to 25 digit/parenthesised elements, each optionally after one separator. Bounded. */
const PHONE_INTL = /\+(?:\(\d{1,4}\)|\d)(?:[ .-]?\(\d{1,5}\)|[ .-]?\d){6,24}/g;
/** North American 3-3-4 with an optional +1 / 1 prefix. Bounded. */
const PHONE_NANP = /(?:\+1[ .-]?|1[ .-])?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}/g;
/** A trunk-0 first group, then up to 5 groups of 2–8 digits. Bounded. */
const PHONE_NATIONAL = /(?:\(0\d{1,4}\) ?|0\d{1,4}[ ./-])\d{2,8}(?:[ ./-]\d{2,8}){0,4}/g;

function findPhones(text: string, out: Finding[], features: number): void {
  const from = out.length;
  if (features & FEATURE.plus) findIntlPhones(text, out);
  if (features & (FEATURE.digitSep | FEATURE.paren)) {
    findNanpPhones(text, out);
    findNationalPhones(text, out);
  }
  mergeFrom(out, from);
}

/** Sorts out[from…] by start (then longest first) and drops findings overlapping an earlier one. */
function mergeFrom(out: Finding[], from: number): void {
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

// ---------------------------------------------------------------------------------------------------
// ssn
// ---------------------------------------------------------------------------------------------------

const SSN = /\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}/g;

function findSsns(text: string, out: Finding[]): void {
  const re = SSN;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const end = start + 11;
    const glue = m[0][3] === ' ' ? ' .-' : '.-';
    const s = m[0];
    const area = Number(s.slice(0, 3));
    const valid =
      area !== 0 &&
      area !== 666 &&
      area < 900 &&
      s.slice(4, 6) !== '00' &&
      s.slice(7) !== '0000' &&
      clearBefore(text, start, glue) &&
      clearAfter(text, end, glue);
    if (valid) out.push({ detector: 'ssn', start, end });
    else re.lastIndex = start + 1;
  }
}

// ---------------------------------------------------------------------------------------------------
// iban
// ---------------------------------------------------------------------------------------------------

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

function findIbans(text: string, out: Finding[]): void {
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

// ---------------------------------------------------------------------------------------------------
// ipv4, ipv6
// ---------------------------------------------------------------------------------------------------

const IPV4 = /\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/g;

function findIpv4s(text: string, out: Finding[]): void {
  const re = IPV4;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const end = start + m[0].length;
    if (isIpv4(m[0]) && clearBefore(text, start, '.') && clearAfter(text, end, '.')) {
      out.push({ detector: 'ipv4', start, end });
    } else {
      re.lastIndex = start + 1;
    }
  }
}

function isIpv4(s: string): boolean {
  let octet = 0;
  let len = 0;
  let lead0 = false;
  for (let k = 0; k <= s.length; k++) {
    const c = k < s.length ? s.charCodeAt(k) : 0x2e;
    if (c === 0x2e) {
      if (octet > 255 || (lead0 && len > 1)) return false;
      octet = 0;
      len = 0;
      continue;
    }
    if (len === 0) lead0 = c === 0x30;
    octet = octet * 10 + (c - 48);
    len++;
  }
  return true;
}

const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const isV6Char = (c: number) => isHex(c) || c === 0x3a || c === 0x2e;

function findIpv6s(text: string, out: Finding[]): void {
  const n = text.length;
  let floor = 0;
  let colon: number;
  while ((colon = text.indexOf(':', floor)) !== -1) {
    // The maximal run of hex digits, ':' and '.' around this colon.
    let s = colon;
    while (s > floor && isV6Char(text.charCodeAt(s - 1))) s--;
    let e = colon + 1;
    while (e < n && isV6Char(text.charCodeAt(e))) e++;
    floor = e;
    // Sentence punctuation and a lone ':' at either end are not part of the address.
    while (s < e && text.charCodeAt(s) === 0x2e) s++;
    while (e > s && text.charCodeAt(e - 1) === 0x2e) e--;
    if (text.charCodeAt(s) === 0x3a && text.charCodeAt(s + 1) !== 0x3a) s++;
    if (text.charCodeAt(e - 1) === 0x3a && text.charCodeAt(e - 2) !== 0x3a) e--;
    if (e - s < 3 || e - s > 45) continue;
    if (isWord(text.charCodeAt(s - 1)) || isWord(text.charCodeAt(e))) continue;
    let colons = 0;
    let hex = 0;
    for (let k = s; k < e; k++) {
      const c = text.charCodeAt(k);
      if (c === 0x3a) colons++;
      else if (c !== 0x2e) hex++;
    }
    if (colons < 2 || hex === 0) continue;
    const candidate = text.slice(s, e);
    if (isIPv6(candidate)) out.push({ detector: 'ipv6', start: s, end: e });
  }
}

// ---------------------------------------------------------------------------------------------------
// jwt
// ---------------------------------------------------------------------------------------------------

const isB64Url = (c: number) => isAlnum(c) || c === 0x2d || c === 0x5f;

function findJwts(text: string, out: Finding[]): void {
  const n = text.length;
  let from = 0;
  let i: number;
  while ((i = text.indexOf('eyJ', from)) !== -1) {
    from = i + 3;
    if (isB64Url(text.charCodeAt(i - 1))) continue;
    let k = i + 3;
    while (k < n && isB64Url(text.charCodeAt(k))) k++;
    const headerEnd = k;
    from = headerEnd; // any "eyJ" inside the header is glued to it
    if (text.charCodeAt(k) !== 0x2e) continue;
    const payloadStart = ++k;
    while (k < n && isB64Url(text.charCodeAt(k))) k++;
    const payloadEnd = k;
    if (payloadEnd === payloadStart || text.charCodeAt(k) !== 0x2e) continue;
    k++;
    while (k < n && isB64Url(text.charCodeAt(k))) k++;
    if (
      !decodesToJsonObject(text.slice(i, headerEnd)) ||
      !decodesToJsonObject(text.slice(payloadStart, payloadEnd))
    )
      continue;
    out.push({ detector: 'jwt', start: i, end: k });
    from = k;
  }
}

function decodesToJsonObject(segment: string): boolean {
  const json = Buffer.from(segment, 'base64url').toString('utf8').trim();
  // Cheap shape check first: most non-JWTs fail here without a parse (and its exception).
  if (json.charCodeAt(0) !== 0x7b || json.charCodeAt(json.length - 1) !== 0x7d) return false;
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// aws-key
// ---------------------------------------------------------------------------------------------------

const AWS_KEY_ID = /(?:AKIA|ASIA|AROA|AIDA|ANPA|ANVA|AIPA)[A-Z0-9]{16}/g;
const AWS_LABELLED_SECRET =
  /(?:aws|AWS|Aws)?[_ .-]?(?:secret|Secret|SECRET)[_ .-]?(?:access|Access|ACCESS)?[_ .-]?(?:key|Key|KEY)["']?[ \t]{0,4}(?:=>|:=|[:=])[ \t]{0,4}["']?([A-Za-z0-9/+=]{40})/g;
const isSecretChar = (c: number) => isAlnum(c) || c === 0x2f || c === 0x2b || c === 0x3d;
/** Whitespace , ; : | = " ' ` */
const isKeyPairSeparator = (c: number) =>
  c === 0x20 ||
  c === 0x09 ||
  c === 0x0a ||
  c === 0x0d ||
  c === 0x2c ||
  c === 0x3b ||
  c === 0x3a ||
  c === 0x7c ||
  c === 0x3d ||
  c === 0x22 ||
  c === 0x27 ||
  c === 0x60;

function findAwsKeys(text: string, out: Finding[], features: number): void {
  const from = out.length;
  const found = out;
  if (features & FEATURE.awsId) {
    const re = AWS_KEY_ID;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const start = m.index;
      const end = start + 20;
      if (isAlnum(text.charCodeAt(start - 1)) || isAlnum(text.charCodeAt(end))) {
        re.lastIndex = start + 1;
        continue;
      }
      found.push({ detector: 'aws-key', start, end });
      const after = secretAfter(text, end);
      if (after >= 0) found.push({ detector: 'aws-key', start: after, end: after + 40 });
      const before = secretBefore(text, start);
      if (before >= 0) found.push({ detector: 'aws-key', start: before, end: before + 40 });
    }
  }
  if (features & FEATURE.keyLabel && (text.includes('ecret') || text.includes('ECRET'))) {
    const re = AWS_LABELLED_SECRET;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const end = m.index + m[0].length;
      if (isSecretChar(text.charCodeAt(end))) {
        re.lastIndex = m.index + 1;
        continue;
      }
      found.push({ detector: 'aws-key', start: end - 40, end });
    }
  }
  mergeFrom(out, from);
}

function looksLikeSecret(text: string, start: number): boolean {
  for (let k = start; k < start + 40; k++) {
    const c = text.charCodeAt(k);
    if (isLower(c) || c === 0x2f || c === 0x2b) return true;
  }
  return false;
}

function secretAfter(text: string, end: number): number {
  let k = end;
  while (k < text.length && k - end < 12 && isKeyPairSeparator(text.charCodeAt(k))) k++;
  if (k === end) return -1;
  for (let j = k; j < k + 40; j++) if (!isSecretChar(text.charCodeAt(j))) return -1;
  if (isSecretChar(text.charCodeAt(k + 40))) return -1;
  return looksLikeSecret(text, k) ? k : -1;
}

function secretBefore(text: string, start: number): number {
  let k = start;
  while (k > 0 && start - k < 12 && isKeyPairSeparator(text.charCodeAt(k - 1))) k--;
  if (k === start || k < 40) return -1;
  for (let j = k - 40; j < k; j++) if (!isSecretChar(text.charCodeAt(j))) return -1;
  if (isSecretChar(text.charCodeAt(k - 41))) return -1;
  return looksLikeSecret(text, k - 40) ? k - 40 : -1;
}

// ---------------------------------------------------------------------------------------------------
// github-token, slack-token, private-key
// ---------------------------------------------------------------------------------------------------

const GITHUB_TOKEN = /gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}/g;

function findGithubTokens(text: string, out: Finding[]): void {
  const re = GITHUB_TOKEN;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const end = start + m[0].length;
    if (isWord(text.charCodeAt(start - 1)) || isWord(text.charCodeAt(end))) {
      re.lastIndex = start + 1;
      continue;
    }
    out.push({ detector: 'github-token', start, end });
  }
}

const SLACK_TOKEN =
  /xox[abprs]-\d{1,20}-[A-Za-z0-9-]{8,250}|https?:\/\/hooks\.slack\.com\/services\/T[A-Za-z0-9_]{1,30}\/B[A-Za-z0-9_]{1,30}\/[A-Za-z0-9_]{1,80}/g;

function findSlackTokens(text: string, out: Finding[]): void {
  const re = SLACK_TOKEN;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    let end = start + m[0].length;
    if (m[0].charCodeAt(0) === 0x78) {
      if (isAlnum(text.charCodeAt(start - 1))) {
        re.lastIndex = start + 1;
        continue;
      }
      while (text.charCodeAt(end - 1) === 0x2d) end--; // trailing dashes are punctuation
    }
    out.push({ detector: 'slack-token', start, end });
    re.lastIndex = end;
  }
}

const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_END = /-----END (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----/g;

function findPrivateKeys(text: string, out: Finding[]): void {
  let from = 0;
  let i: number;
  while ((i = text.indexOf('-----BEGIN ', from)) !== -1) {
    PEM_BEGIN.lastIndex = i;
    const begin = PEM_BEGIN.exec(text);
    if (!begin) {
      from = i + 11;
      continue;
    }
    PEM_END.lastIndex = i + begin[0].length;
    const end = PEM_END.exec(text);
    // Without an END marker the key runs to the end of the text: fail closed.
    const stop = end ? end.index + end[0].length : text.length;
    out.push({ detector: 'private-key', start: i, end: stop });
    from = stop;
  }
}

// ---------------------------------------------------------------------------------------------------
// Built-in detectors
// ---------------------------------------------------------------------------------------------------

type ScanFn = (text: string, out: Finding[], features: number) => void;

/**
 * A built-in detector: a gate on the text's features (a necessary condition for any finding, so a text
 * that fails it is not scanned) and the scan itself. ContentScanner computes the features once for all
 * detectors and calls `scanInto`; `find` computes them itself.
 * @internal
 */
export class BuiltinDetectorImpl implements Detector {
  constructor(
    readonly name: BuiltinDetector,
    readonly gate: Gate,
    private readonly scan: ScanFn,
  ) {}

  find(text: string): Finding[] {
    const out: Finding[] = [];
    this.scanInto(text, textFeatures(text), out);
    return out;
  }

  /** Appends findings to `out` when the features allow a match. */
  scanInto(text: string, features: number, out: Finding[]): void {
    if (this.gate(features)) this.scan(text, out, features);
  }
}

const builtin = (name: BuiltinDetector, gate: Gate, scan: ScanFn) =>
  new BuiltinDetectorImpl(name, gate, scan);

const BUILTINS: Record<BuiltinDetector, BuiltinDetectorImpl> = {
  card: builtin('card', (f) => digitCount(f) >= 13, findCards),
  email: builtin('email', (f) => (f & FEATURE.at) !== 0, findEmails),
  phone: builtin(
    'phone',
    (f) => digitCount(f) >= 8 && (f & (FEATURE.plus | FEATURE.paren | FEATURE.digitSep)) !== 0,
    findPhones,
  ),
  ssn: builtin('ssn', (f) => digitCount(f) >= 9 && (f & FEATURE.digitSep) !== 0, findSsns),
  iban: builtin('iban', (f) => (f & FEATURE.ibanStart) !== 0, findIbans),
  ipv4: builtin('ipv4', (f) => digitCount(f) >= 4 && (f & FEATURE.digitDot) !== 0, findIpv4s),
  // Without "::" an address has 7 colons (6 with an embedded IPv4).
  ipv6: builtin('ipv6', (f) => (f & FEATURE.doubleColon) !== 0 || colonsOf(f) >= 6, findIpv6s),
  jwt: builtin('jwt', (f) => (f & FEATURE.jwt) !== 0, findJwts),
  'aws-key': builtin('aws-key', (f) => (f & (FEATURE.awsId | FEATURE.keyLabel)) !== 0, findAwsKeys),
  'github-token': builtin('github-token', (f) => (f & FEATURE.github) !== 0, findGithubTokens),
  'slack-token': builtin('slack-token', (f) => (f & FEATURE.slack) !== 0, findSlackTokens),
  'private-key': builtin('private-key', (f) => (f & FEATURE.pem) !== 0, findPrivateKeys),
};

export function builtinDetector(name: BuiltinDetector): Detector {
  const d = (BUILTINS as Partial<Record<string, BuiltinDetectorImpl>>)[name];
  if (!d || !Object.prototype.hasOwnProperty.call(BUILTINS, name)) {
    throw new Error(`unknown content detector "${String(name)}" (built-in: ${BUILTIN_DETECTORS.join(', ')})`);
  }
  return d;
}

/**
 * The built-in detector that finds `value` as one whole (a column value that is an e-mail address, a card
 * number, …), or null. The first in BUILTIN_DETECTORS order wins when several do.
 */
export function wholeValueKind(value: string): BuiltinDetector | null {
  if (value.length === 0) return null;
  const features = textFeatures(value);
  if (features === 0) return null;
  const found: Finding[] = [];
  for (const name of BUILTIN_DETECTORS) {
    found.length = 0;
    BUILTINS[name].scanInto(value, features, found);
    if (found.length === 1 && found[0].start === 0 && found[0].end === value.length) return name;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------
// Custom detectors
// ---------------------------------------------------------------------------------------------------

/**
 * A custom regex detector; its pre-check (`mightMatch`) is exact and costs one regex test.
 * @internal
 */
export class PatternDetector implements Detector {
  private readonly probe: RegExp;

  constructor(
    readonly name: string,
    private readonly re: RegExp,
  ) {
    this.probe = new RegExp(re.source, re.flags.replace('g', ''));
  }

  find(text: string): Finding[] {
    const out: Finding[] = [];
    const re = this.re;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) {
        // Never a zero-length finding; step over the position (a whole code point under 'u').
        re.lastIndex = m.index + (re.unicode && (text.codePointAt(m.index) ?? 0) > 0xffff ? 2 : 1);
        continue;
      }
      out.push({ detector: this.name, start: m.index, end: m.index + m[0].length });
    }
    return out;
  }

  /** False only when `find` certainly finds nothing. */
  mightMatch(text: string): boolean {
    return this.probe.test(text);
  }
}

/** Strings a pattern must not match emptily: zero-length matches mean it can match "nothing". */
const EMPTY_PROBES = [
  '',
  ' ',
  'a',
  'A',
  'z',
  '0',
  '9',
  '_',
  '-',
  '.',
  '@',
  '\n',
  'ab',
  'a b',
  'é',
  'x1 y2-z3',
];

/**
 * A custom detector from policy: a regex (JavaScript syntax; compiled once; 'g' added; reject patterns
 * that can match the empty string, with a clear Error message). Whether a pattern can match the empty
 * string is checked on a set of probe strings ('' , letters, digits, punctuation, whitespace): `a*`,
 * `x?`, `a|`, `\b`, `(?=a)`, `$` are rejected. A zero-length match the probes miss (say `(?<=key)`) is
 * skipped at run time, never reported. Patterns are the policy author's: nested unbounded repetitions
 * can backtrack badly, as with any JavaScript regex.
 */
export function regexDetector(
  name: string,
  pattern: string,
  options?: { caseInsensitive?: boolean },
): Detector {
  const flags = options?.caseInsensitive ? 'gi' : 'g';
  let re: RegExp;
  try {
    re = new RegExp(pattern, flags);
  } catch (err) {
    throw new Error(
      `content detector "${name}": invalid regular expression /${pattern}/: ${(err as Error).message}`,
    );
  }
  for (const probe of EMPTY_PROBES) {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    let steps = 0;
    while ((m = re.exec(probe)) !== null && steps++ < 8) {
      if (m[0].length === 0) {
        throw new Error(
          `content detector "${name}": the pattern /${pattern}/ can match the empty string ` +
            `(at ${m.index} in ${JSON.stringify(probe)}); make every part of it match at least one character`,
        );
      }
    }
  }
  return new PatternDetector(name, re);
}

/**
 * A custom detector from policy: whole-word matches of any listed word/phrase (case-insensitive by
 * default). "Whole word": not preceded or followed by a letter, digit or mark of any script, or '_'.
 * Case-insensitive means each UTF-16 unit lowercased on its own (String.prototype.toLowerCase where that
 * keeps one unit: "ZÜRICH" matches "Zürich"; "ß" does not match "SS"). Whitespace inside a phrase matches
 * any run of whitespace ("New York" matches "New  York" and "New\nYork"). Where phrases overlap, the
 * longest wins at a given start. The words go into a trie walked by one pass over the text, so a list of
 * thousands costs about as much as a list of one.
 */
export function dictionaryDetector(
  name: string,
  words: string[],
  options?: { caseSensitive?: boolean },
): Detector {
  return new DictionaryDetector(name, words, options?.caseSensitive ?? false);
}

interface TrieNode {
  next: Map<number, TrieNode>;
  /** The node after a whitespace run, if a phrase continues with one. */
  space: TrieNode | null;
  terminal: boolean;
}

const newNode = (): TrieNode => ({ next: new Map(), space: null, terminal: false });
const isSpaceCode = (c: number) =>
  c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff; // prettier-ignore

/** Lowercase of one UTF-16 unit, when that is one unit (else the unit itself). */
const foldCache = new Map<number, number>();
function foldUnit(c: number): number {
  if (c < 0x80) return c >= 0x41 && c <= 0x5a ? c + 32 : c;
  let f = foldCache.get(c);
  if (f === undefined) {
    const lower = String.fromCharCode(c).toLowerCase();
    f = lower.length === 1 ? lower.charCodeAt(0) : c;
    foldCache.set(c, f);
  }
  return f;
}

const UNICODE_WORD = /^[\p{L}\p{N}\p{M}_]$/u;
const wordCache = new Map<number, boolean>();
/** A letter, digit or mark of any script, or '_' (code point). */
function isWordCodePoint(cp: number): boolean {
  if (cp < 0x80) return isWord(cp);
  let w = wordCache.get(cp);
  if (w === undefined) {
    w = UNICODE_WORD.test(String.fromCodePoint(cp));
    if (wordCache.size < 65536) wordCache.set(cp, w);
  }
  return w;
}

function wordBefore(text: string, i: number): boolean {
  if (i === 0) return false;
  const c = text.charCodeAt(i - 1);
  if (c < 0x80) return isWord(c);
  const cp = c >= 0xdc00 && c <= 0xdfff && i >= 2 ? (text.codePointAt(i - 2) ?? c) : c;
  return isWordCodePoint(cp);
}

function wordAt(text: string, i: number): boolean {
  if (i >= text.length) return false;
  const c = text.charCodeAt(i);
  return c < 0x80 ? isWord(c) : isWordCodePoint(text.codePointAt(i) ?? c);
}

/** @internal */
export class DictionaryDetector implements Detector {
  private readonly root = newNode();
  /** The root's children by ASCII code, for the per-position lookup. */
  private readonly asciiRoot: Array<TrieNode | undefined> = new Array(128).fill(undefined);

  constructor(
    readonly name: string,
    words: string[],
    private readonly caseSensitive: boolean,
  ) {
    let count = 0;
    for (const word of words) {
      const phrase = word.trim();
      if (phrase.length === 0) continue;
      count++;
      let node = this.root;
      for (let k = 0; k < phrase.length; k++) {
        const c = phrase.charCodeAt(k);
        if (isSpaceCode(c)) {
          while (k + 1 < phrase.length && isSpaceCode(phrase.charCodeAt(k + 1))) k++;
          node.space ??= newNode();
          node = node.space;
          continue;
        }
        const key = caseSensitive ? c : foldUnit(c);
        let child = node.next.get(key);
        if (child === undefined) {
          child = newNode();
          node.next.set(key, child);
        }
        node = child;
      }
      node.terminal = true;
    }
    if (count === 0) throw new Error(`content detector "${name}": the word list is empty`);
    for (const [key, child] of this.root.next) if (key < 128) this.asciiRoot[key] = child;
  }

  find(text: string): Finding[] {
    const out: Finding[] = [];
    this.scan(text, out, false);
    return out;
  }

  /** False only when `find` certainly finds nothing (it is find, stopping at the first match). */
  mightMatch(text: string): boolean {
    return this.scan(text, null, true);
  }

  private scan(text: string, out: Finding[] | null, first: boolean): boolean {
    const n = text.length;
    const cs = this.caseSensitive;
    let found = false;
    let i = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      const start =
        c < 0x80 ? this.asciiRoot[cs ? c : foldUnit(c)] : this.root.next.get(cs ? c : foldUnit(c));
      if (start !== undefined && !wordBefore(text, i)) {
        const end = this.walk(text, start, i + 1);
        if (end > 0) {
          found = true;
          if (first) return true;
          out?.push({ detector: this.name, start: i, end });
          i = end;
          continue;
        }
      }
      i++;
    }
    return found;
  }

  /** The end of the longest phrase from `node` at `k` that ends at a word boundary, or -1. */
  private walk(text: string, node: TrieNode, k: number): number {
    const n = text.length;
    let best = -1;
    for (;;) {
      if (node.terminal && !wordAt(text, k)) best = k;
      if (k >= n) break;
      const c = text.charCodeAt(k);
      if (node.space !== null && isSpaceCode(c)) {
        k++;
        while (k < n && isSpaceCode(text.charCodeAt(k))) k++;
        node = node.space;
        continue;
      }
      const child = node.next.get(this.caseSensitive ? c : foldUnit(c));
      if (child === undefined) break;
      node = child;
      k++;
    }
    return best;
  }
}

/**
 * Whether a detector can find something in `text`: exact and cheaper than `find` for our own custom
 * detectors; any other Detector can only be asked to find.
 * @internal
 */
export function detectorMightMatch(d: Detector, text: string): boolean {
  if (d instanceof PatternDetector || d instanceof DictionaryDetector) return d.mightMatch(text);
  return d.find(text).length > 0;
}
