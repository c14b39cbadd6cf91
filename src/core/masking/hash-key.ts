import { hkdfSync, type KeyObject } from 'node:crypto';

/**
 * The key of `hash` masks. A hash mask is only as secret as its key: anyone who knows the key can hash
 * every candidate value (all 10^9 SSNs) and read the masked output back. So a policy need not name a key
 * (shipped policies must not): the installation's own key is used, derived from the Ed25519 key that
 * signs its recordings (HKDF-SHA-256 with a purpose label, so no second secret is stored and the signing
 * key is never used as is). A key a policy does name must not be publicly known.
 */

const PURPOSE = 'airlock/masking/hash-key/v1';

/** The hash-mask key of an installation, derived from its recordings signing key. */
export function installationHashKey(signingKey: KeyObject): Buffer {
  const secret = signingKey.export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), PURPOSE, 32));
}

/** Keys that were ever published in this repository's examples, docs and tests: anyone can use them. */
const PUBLISHED = new Set([
  'airlock-demo-hash-key-change-me',
  'a-long-random-key',
  'test-key-0123456789',
  'test-hash-key-0123456789',
  'another-hash-key-9876543210',
]);

const MIN_BYTES = 16;

/** Why a policy's hashKey protects nothing (null: it may be used). */
export function hashKeyProblem(key: string): string | null {
  if (PUBLISHED.has(key)) {
    return "this key is published (it appeared in Airlock's examples or docs), so anyone can recompute the hashed values";
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes < MIN_BYTES) {
    return `a key of ${bytes} bytes can be guessed (at least ${MIN_BYTES} bytes, 128 bits, of random data)`;
  }
  if (new Set(key).size < 8) return 'a key of so few distinct characters can be guessed';
  return null;
}

/** What to do about a refused key, for the policy error. */
export const HASH_KEY_HINT =
  "remove masking.hashKey to use this installation's own key, or set one made with `openssl rand -base64 32`";
