import { isDigit, isUpper } from './scan-helpers';

// Text features: one cheap pass that tells which detectors can possibly match.

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
export const digitCount = (f: number) => (f >>> DIGIT_SHIFT) & 0xff;
/** The ':' count (at most 7) of a features value. */
export const colonsOf = (f: number) => (f >>> COLON_SHIFT) & 0x7;

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
export type Gate = (features: number) => boolean;
