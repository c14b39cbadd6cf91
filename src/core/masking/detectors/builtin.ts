import { findIbans } from './bank-accounts';
import { findCards } from './cards';
import { findEmails } from './email';
import { FEATURE, type Gate, colonsOf, digitCount, textFeatures } from './features';
import { findSsns } from './national-ids';
import { findIpv4s, findIpv6s } from './network';
import { findPhones } from './phones';
import { findAwsKeys, findGithubTokens, findJwts, findPrivateKeys, findSlackTokens } from './secrets';
import { BUILTIN_DETECTORS, type BuiltinDetector, type Detector, type Finding } from './types';

// The built-in detectors: each family's scan behind a gate on the text's features.

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
