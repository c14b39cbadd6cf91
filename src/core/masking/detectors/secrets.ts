import { isAlnum, isLower, isWord, mergeFrom } from './scan-helpers';
import { FEATURE } from './features';
import type { Finding } from './types';

// Secrets and tokens: JWTs, AWS keys, GitHub and Slack tokens, private keys.

const isB64Url = (c: number) => isAlnum(c) || c === 0x2d || c === 0x5f;

export function findJwts(text: string, out: Finding[]): void {
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

export function findAwsKeys(text: string, out: Finding[], features: number): void {
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

const GITHUB_TOKEN = /gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}/g;

export function findGithubTokens(text: string, out: Finding[]): void {
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

export function findSlackTokens(text: string, out: Finding[]): void {
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

export function findPrivateKeys(text: string, out: Finding[]): void {
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
