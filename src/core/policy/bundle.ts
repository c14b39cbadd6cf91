import { createHash } from 'node:crypto';
import {
  SignJWT,
  jwtVerify,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  errors,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { parsePolicy, type PolicyDocument } from './document';

/**
 * Signed policy bundles: a JWS (JWT form) whose payload carries the policy, with `kid`, `iat` and `exp`.
 * The proxy accepts only bundles signed by a key in its pinned JWKS, and only until `exp`.
 */

export const BUNDLE_TYPE = 'airlock-policy+jwt';
const ALGORITHMS = ['EdDSA', 'ES256', 'RS256'];

export interface VerifiedBundle {
  policy: PolicyDocument;
  kid: string;
  issuedAt: number;
  expiresAt: number;
  /** sha256 of the bundle: what recordings cite as the policy in force. */
  id: string;
  /** The other claims of the payload (a control plane's bundle names its connection and policy version). */
  claims: Record<string, unknown>;
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

export function bundleId(jws: string): string {
  return 'sha256:' + createHash('sha256').update(jws.trim()).digest('hex');
}

export async function signPolicyBundle(
  policy: PolicyDocument,
  privateJwk: JWK,
  options: { kid?: string; ttlSeconds: number; now?: number; claims?: Record<string, unknown> },
): Promise<string> {
  const kid = options.kid ?? privateJwk.kid;
  if (!kid) throw new BundleError('the signing key has no kid; pass one');
  const alg = privateJwk.alg ?? (privateJwk.crv === 'Ed25519' ? 'EdDSA' : undefined);
  if (!alg) throw new BundleError('the signing key names no alg');
  const key = await importJWK(privateJwk, alg);
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  return new SignJWT({ ...options.claims, policy: policy as unknown as Record<string, unknown> })
    .setProtectedHeader({ alg, kid, typ: BUNDLE_TYPE })
    .setIssuedAt(iat)
    .setExpirationTime(iat + options.ttlSeconds)
    .sign(key);
}

/** Verifies signature, key, type and lifetime, then validates the policy inside. */
export async function verifyPolicyBundle(
  jws: string,
  jwks: JSONWebKeySet,
  now = Date.now(),
): Promise<VerifiedBundle> {
  const text = jws.trim();
  if (text.split('.').length !== 3) throw new BundleError('not a signed bundle (expected a compact JWS)');
  let payload: Record<string, unknown>;
  let kid: string | undefined;
  try {
    const result = await jwtVerify(text, createLocalJWKSet(jwks), {
      typ: BUNDLE_TYPE,
      algorithms: ALGORITHMS,
      currentDate: new Date(now),
      requiredClaims: ['iat', 'exp'],
    });
    payload = result.payload as Record<string, unknown>;
    kid = result.protectedHeader.kid;
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw new BundleError('the policy bundle has expired');
    if (err instanceof errors.JWKSNoMatchingKey)
      throw new BundleError('the policy bundle is signed by a key that is not pinned');
    if (err instanceof errors.JWSSignatureVerificationFailed)
      throw new BundleError('the policy bundle signature is invalid');
    throw new BundleError(`the policy bundle is not acceptable: ${(err as Error).message}`);
  }
  if (!kid) throw new BundleError('the policy bundle names no kid');
  const policy = parsePolicy(JSON.stringify(payload.policy ?? null), 'policy bundle');
  const claims = { ...payload };
  for (const k of ['policy', 'iat', 'exp']) delete claims[k];
  return {
    policy,
    kid,
    issuedAt: Number(payload.iat),
    expiresAt: Number(payload.exp),
    id: bundleId(text),
    claims,
  };
}

/** A fresh Ed25519 signing key and the JWKS that pins its public half. */
export async function generateSigningKey(kid: string): Promise<{ privateJwk: JWK; jwks: JSONWebKeySet }> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'EdDSA', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  return { privateJwk, jwks: { keys: [publicJwk] } };
}
