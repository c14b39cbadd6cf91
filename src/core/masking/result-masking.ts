import type { MaskingPolicy } from '../policy/document';
import { anyGlob } from '../policy/evaluate';
import { ContentScanner } from './content-scanner';
import {
  BUILTIN_DETECTORS,
  builtinDetector,
  dictionaryDetector,
  regexDetector,
  type Detector,
} from './detectors';
import type { MaskIndex } from './mask-index';
import type { MaskStyle } from './masks';

/** What masks results on one connection: masked columns, content detectors, the hash key. */
export interface ResultMasking {
  index: MaskIndex;
  scanner: ContentScanner | null;
  hashKey: Buffer;
}

/** Whether the policy's content detectors scan what a connection returns. */
export function scansContent(policy: MaskingPolicy, connection: string): boolean {
  const content = policy.content;
  return !!content && (!content.connections || anyGlob(content.connections, connection));
}

/**
 * The result masking a policy asks for on a connection (content detectors only where it says so).
 * `installationKey` hashes unless the policy names its own key.
 */
export function buildResultMasking(
  policy: MaskingPolicy,
  index: MaskIndex,
  connection: string,
  installationKey: Buffer,
): ResultMasking {
  const hashKey = policy.hashKey !== undefined ? Buffer.from(policy.hashKey, 'utf8') : installationKey;
  const content = policy.content;
  if (!content || !scansContent(policy, connection)) return { index, scanner: null, hashKey };
  const names = content.detectors === 'all' ? [...BUILTIN_DETECTORS] : content.detectors;
  const detectors: Detector[] = names.map((n) => builtinDetector(n as (typeof BUILTIN_DETECTORS)[number]));
  const styles = new Map<string, MaskStyle>();
  for (const c of content.custom ?? []) {
    detectors.push(c.pattern ? regexDetector(c.name, c.pattern) : dictionaryDetector(c.name, c.words ?? []));
    if (c.mask) styles.set(c.name, c.mask);
  }
  const fallback = content.mask ?? 'redact';
  return {
    index,
    scanner: new ContentScanner(detectors, (d) => styles.get(d) ?? fallback, hashKey),
    hashKey,
  };
}
