import { createHash } from 'node:crypto';
import { signPolicyBundle } from '../../core/policy/bundle';
import type { SigningKeys } from './signing-keys';
import type { PolicyRecord } from './store';

export interface IssuedBundle {
  jws: string;
  etag: string;
}

/**
 * A bundle for one policy version on one connection. Its issue time is rounded down to a quarter of
 * its lifetime and Ed25519 signatures are deterministic, so every instance issues byte-identical
 * bundles within a window: the ETag holds across instances behind a load balancer, and a client always
 * receives a bundle with at least three quarters of its lifetime left.
 */
export async function issueBundle(
  policy: PolicyRecord,
  connection: string,
  keys: SigningKeys,
  ttlSeconds: number,
  now = Date.now(),
): Promise<IssuedBundle> {
  const window = Math.max(1, Math.floor(ttlSeconds / 4)) * 1000;
  const jws = await signPolicyBundle(policy.document, keys.active, {
    ttlSeconds,
    now: Math.floor(now / window) * window,
    claims: { connection, policyName: policy.name, policyVersion: policy.version },
  });
  return { jws, etag: `"${createHash('sha256').update(jws).digest('base64url').slice(0, 32)}"` };
}

/** Whether an If-None-Match header names this ETag (a list, `*`, weak forms). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === '*' || t === etag);
}
