import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

/** The identity a verified access token names. */
export interface VerifiedIdentity {
  subject: string;
  email?: string;
  groups: string[];
}

export interface TokenSettings {
  issuer: string;
  audience: string;
  /** Claim holding the groups; a dotted path reaches into objects (Keycloak: `realm_access.roles`). */
  groupsClaim: string;
  /** Where the issuer publishes its keys; found through discovery when absent. */
  jwksUri?: string;
}

/** A refused token: `reason` goes to WWW-Authenticate, `message` tells a person what to do. */
export class TokenError extends Error {
  constructor(
    readonly reason: 'invalid_request' | 'invalid_token',
    message: string,
  ) {
    super(message);
  }
}

/** The issuer's keys could not be fetched: nothing can be accepted, and it is not the caller's fault. */
export class IssuerUnavailableError extends Error {}

const SIGN_IN_AGAIN = 'sign in again (airlock login)';

function claimAt(payload: JWTPayload, dotted: string): unknown {
  return dotted
    .split('.')
    .reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      payload,
    );
}

/**
 * Verifies Bearer access tokens against the issuer's published keys (cached and re-fetched by jose when
 * an unknown key id appears): signature, issuer, audience and lifetime.
 */
export class TokenVerifier {
  private jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | null = null;

  constructor(private readonly settings: TokenSettings) {}

  private keys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    // Resolved on first use, and again after a failure: an issuer that is down when the server starts
    // must not keep the server from ever verifying once it is back.
    this.jwks ??= this.discoverJwksUri().then(
      (uri) => createRemoteJWKSet(new URL(uri)),
      (err: unknown) => {
        this.jwks = null;
        throw err;
      },
    );
    return this.jwks;
  }

  private async discoverJwksUri(): Promise<string> {
    if (this.settings.jwksUri) return this.settings.jwksUri;
    const url = `${this.settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    const meta = (await res.json()) as { jwks_uri?: unknown };
    if (typeof meta.jwks_uri !== 'string') throw new Error(`${url} names no jwks_uri`);
    return meta.jwks_uri;
  }

  async verify(authorization: string | undefined): Promise<VerifiedIdentity> {
    const m = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(authorization ?? '');
    if (!m) {
      throw new TokenError(
        'invalid_request',
        `this request carries no access token (an "Authorization: Bearer <token>" header); ${SIGN_IN_AGAIN}`,
      );
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(m[1], await this.keys(), {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      if (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError)) {
        throw new IssuerUnavailableError(
          `the server cannot reach the keys of ${this.settings.issuer} to check the token (${(err as Error).message}); try again shortly`,
        );
      }
      throw new TokenError('invalid_token', explain(err, this.settings));
    }
    const groups = claimAt(payload, this.settings.groupsClaim) ?? [];
    if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string')) {
      throw new TokenError(
        'invalid_token',
        `the token's "${this.settings.groupsClaim}" claim is not a list of group names; ask the identity provider's administrator to map groups into it`,
      );
    }
    const email = typeof payload.email === 'string' ? payload.email : undefined;
    return { subject: payload.sub as string, ...(email ? { email } : {}), groups: groups as string[] };
  }
}

function explain(err: unknown, s: TokenSettings): string {
  if (err instanceof errors.JWTExpired) return `the access token has expired; ${SIGN_IN_AGAIN}`;
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss')
      return `the token was issued by ${JSON.stringify(err.payload.iss)}, not by ${s.issuer}, the identity provider this server trusts; sign in with that one`;
    if (err.claim === 'aud')
      return `the token is meant for ${JSON.stringify(err.payload.aud)}, not for this server (audience "${s.audience}"); sign in with the Airlock client`;
    return `the token's "${err.claim}" claim is not acceptable (${err.reason}); ${SIGN_IN_AGAIN}`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey)
    return `the token is not signed by ${s.issuer}; ${SIGN_IN_AGAIN}`;
  return `the token is not acceptable (${(err as Error).message}); ${SIGN_IN_AGAIN}`;
}
