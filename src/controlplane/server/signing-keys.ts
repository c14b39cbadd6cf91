import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { JSONWebKeySet, JWK } from 'jose';

/**
 * The keys that sign policy bundles. Every instance must sign with the same key, and none may keep it
 * in clear where others can read it: the operator hands it over as an environment variable (from the
 * platform's secret store) or as a file only the server's user can read (0600/0400; anything wider is
 * refused). Neither the store nor a log ever sees it. The first key signs; all are published, so a new
 * key can be announced before it signs and an old one kept until the bundles it signed have expired.
 */
export interface SigningKeys {
  active: JWK & { kid: string };
  /** The public halves, served at GET /v1/keys. */
  jwks: JSONWebKeySet;
}

export const SIGNING_KEYS_ENV = 'AIRLOCK_SERVER_SIGNING_KEYS';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

export function parseSigningKeys(text: string, origin: string): SigningKeys {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${origin}: not JSON (expected {"keys": [private JWK, …]} or one private JWK)`);
  }
  const keys = (
    parsed && typeof parsed === 'object' && 'keys' in parsed ? (parsed as JSONWebKeySet).keys : [parsed]
  ) as JWK[];
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${origin}: holds no keys`);
  for (const [i, k] of keys.entries()) {
    if (!k || typeof k !== 'object' || k.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.d !== 'string')
      throw new Error(
        `${origin}: key ${i} is not a private Ed25519 key (make one with airlock policy keygen)`,
      );
    if (!k.kid) throw new Error(`${origin}: key ${i} has no kid`);
  }
  const kids = new Set(keys.map((k) => k.kid));
  if (kids.size !== keys.length) throw new Error(`${origin}: two keys share a kid`);
  const publicHalf = (k: JWK): JWK =>
    Object.fromEntries(
      Object.entries({ ...k, alg: 'EdDSA', use: 'sig' }).filter(([m]) => !PRIVATE_MEMBERS.includes(m)),
    );
  return {
    active: { ...keys[0], alg: 'EdDSA', kid: keys[0].kid as string },
    jwks: { keys: keys.map(publicHalf) },
  };
}

/** From the environment variable, else from the file, which must be readable by its owner only. */
export async function loadSigningKeys(file: string | undefined, env = process.env): Promise<SigningKeys> {
  const fromEnv = env[SIGNING_KEYS_ENV];
  if (fromEnv) return parseSigningKeys(fromEnv, SIGNING_KEYS_ENV);
  if (!file) {
    throw new Error(
      `no bundle signing key: set ${SIGNING_KEYS_ENV} or signingKeys.file in the server config (airlock policy keygen makes one)`,
    );
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new Error(
      `${file} is readable by others (mode ${mode.toString(8)}): the signing key must be 0600 (chmod 600 ${file})`,
    );
  }
  return parseSigningKeys(await readFile(file, 'utf8'), file);
}
