import { createHmac } from 'node:crypto';
import { wholeValueKind } from './detectors';

/**
 * Masks: what a masked value (a whole column value, or a detector's finding inside a text) becomes.
 *
 * - redact: a fixed token per kind — `[REDACTED:email]`, `[REDACTED:card]`, …; `[REDACTED]` for a column.
 * - partial: the value's shape with most of it hidden by '*':
 *   - card: every digit but the last 4 → `**** **** **** 1111`, `************1111`
 *   - email: the local part → `***@example.com`
 *   - phone: every digit but the last 2, formatting kept → `+* (***) ***-**67`
 *   - ssn: every digit but the last 4 → `***-**-6789`
 *   - iban: the country code and the last 4 kept, the rest '*', spaces kept → `DE** **** **** **** **30 00`
 *   - ipv4: the first octet → `10.*.*.*`
 *   - ipv6: the first group kept, every other hex digit '*' → `2001:***::*`
 *   - aws-key, github-token, slack-token: the token type prefix kept (AKIA, ghp_, github_pat_, xoxb-, the
 *     webhook URL up to /services/), the rest '*'; a 40-character AWS secret is all '*'
 *   - jwt: the header segment kept (algorithm and type, not secret), payload and signature '*'
 *   - private-key: no part of key material is shown: the redact token
 *   - column and any other kind (custom detectors): a value that one of the built-in detectors finds as a
 *     whole (surrounding whitespace aside, as in padded char(n) values) is masked as that kind — an
 *     e-mail column keeps its domain, a card column its last 4 digits, a token column only its prefix;
 *     anything else keeps its last 4 characters when longer than 8 characters, otherwise is all '*'
 *     (counted in code points)
 * - hash: `h:` + the first 16 hex digits of HMAC-SHA-256(hashKey, UTF-8 value): the same value under the
 *   same key always masks the same (joins and group-bys on masked output line up, across columns and
 *   content findings alike); a different key gives a different output. The value is hashed exactly as it
 *   appears (no normalisation of separators or case). An empty key is an error. The key is the
 *   policy's, or the installation's own (hash-key.ts).
 * - null: SQL NULL for a whole value (maskValue returns null); inside a text (maskFragment) the redact
 *   token.
 */
export const MASK_STYLES = ['redact', 'partial', 'hash', 'null'] as const;
export type MaskStyle = (typeof MASK_STYLES)[number];

/**
 * Masks one value. `kind` is the detector name for content findings, or 'column' for a whole column value.
 * Returns null only for style 'null' (the caller turns it into SQL NULL for a whole value; inside a larger text,
 * callers use maskFragment which never returns null).
 */
export function maskValue(value: string, style: MaskStyle, kind: string, hashKey: Buffer): string | null {
  switch (style) {
    case 'redact':
      return redactToken(kind);
    case 'partial':
      return partialMask(value, kind);
    case 'hash':
      return hashMask(value, hashKey);
    case 'null':
      return null;
    default:
      throw new Error(`unknown mask style "${String(style)}" (known: ${MASK_STYLES.join(', ')})`);
  }
}

/** Masks a finding inside a larger text: like maskValue, but 'null' behaves as 'redact'. */
export function maskFragment(value: string, style: MaskStyle, kind: string, hashKey: Buffer): string {
  return style === 'null' ? redactToken(kind) : (maskValue(value, style, kind, hashKey) as string);
}

const tokens = new Map<string, string>();

/** `[REDACTED:kind]`, or `[REDACTED]` for a column. */
export function redactToken(kind: string): string {
  let t = tokens.get(kind);
  if (t === undefined) {
    t = kind === 'column' ? '[REDACTED]' : `[REDACTED:${kind}]`;
    if (tokens.size < 1024) tokens.set(kind, t);
  }
  return t;
}

/** `h:` + 16 hex digits of HMAC-SHA-256 under `hashKey`. */
export function hashMask(value: string, hashKey: Buffer): string {
  if (!hashKey || hashKey.length === 0) {
    throw new Error('hash masking needs a non-empty key');
  }
  return 'h:' + createHmac('sha256', hashKey).update(value, 'utf8').digest('hex').slice(0, 16);
}

const isDigitCode = (c: number) => c >= 0x30 && c <= 0x39;
const isAlnumCode = (c: number) => isDigitCode(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isHexCode = (c: number) => isDigitCode(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

function partialMask(value: string, kind: string): string {
  switch (kind) {
    case 'card':
    case 'ssn':
      return starMatching(value, isDigitCode, 4, 0);
    case 'phone':
      return starMatching(value, isDigitCode, 2, 0);
    case 'iban':
      return starMatching(value, isAlnumCode, 4, 2);
    case 'email': {
      const at = value.lastIndexOf('@');
      return at > 0 ? '***' + value.slice(at) : defaultPartial(value);
    }
    case 'ipv4': {
      const dot = value.indexOf('.');
      return dot > 0 ? value.slice(0, dot) + '.*.*.*' : defaultPartial(value);
    }
    case 'ipv6': {
      const colon = value.indexOf(':');
      return value.slice(0, colon + 1) + starMatching(value.slice(colon + 1), isHexCode, 0, 0);
    }
    case 'aws-key':
      return /^(?:AKIA|ASIA|AROA|AIDA|ANPA|ANVA|AIPA)/.test(value)
        ? keepPrefix(value, 4)
        : '*'.repeat(value.length);
    case 'github-token':
      return keepPrefix(value, value.startsWith('github_pat_') ? 11 : value.indexOf('_') + 1);
    case 'slack-token': {
      const services = value.indexOf('/services/');
      return keepPrefix(value, services >= 0 ? services + 10 : value.indexOf('-') + 1);
    }
    case 'jwt': {
      const dot = value.indexOf('.');
      return dot > 0 ? value.slice(0, dot) + value.slice(dot).replace(/[^.]/g, '*') : defaultPartial(value);
    }
    case 'private-key':
      return redactToken(kind);
    default:
      return shapedPartial(value);
  }
}

/** Column values and other kinds: as the built-in kind the whole value is, else the default. */
function shapedPartial(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isSpace(value.charCodeAt(start))) start++;
  while (end > start && isSpace(value.charCodeAt(end - 1))) end--;
  const core = start === 0 && end === value.length ? value : value.slice(start, end);
  const kind = wholeValueKind(core);
  if (kind === null) return defaultPartial(value);
  return value.slice(0, start) + partialMask(core, kind) + value.slice(end);
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Column values and unknown kinds: the last 4 characters when longer than 8, else all '*'. */
function defaultPartial(value: string): string {
  const chars = Array.from(value);
  if (chars.length > 8) return '*'.repeat(chars.length - 4) + chars.slice(-4).join('');
  return '*'.repeat(chars.length);
}

function keepPrefix(value: string, n: number): string {
  const k = Math.max(0, Math.min(n, value.length));
  return value.slice(0, k) + '*'.repeat(value.length - k);
}

/**
 * Replaces characters for which `pick` holds with '*', except the first `keepFirst` and the last
 * `keepLast` of them; every other character stays (the value's shape).
 */
function starMatching(
  value: string,
  pick: (c: number) => boolean,
  keepLast: number,
  keepFirst: number,
): string {
  let total = 0;
  for (let i = 0; i < value.length; i++) if (pick(value.charCodeAt(i))) total++;
  let out = '';
  let seen = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (pick(c)) {
      seen++;
      out += seen <= keepFirst || seen > total - keepLast ? value[i] : '*';
    } else {
      out += value[i];
    }
  }
  return out;
}
