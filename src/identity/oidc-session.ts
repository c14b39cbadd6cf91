import * as oidc from 'openid-client';
import type { Human } from '../core/identity/actor';
import type { IdentitySource } from '../core/identity/identity-source';
import type { GrantResult } from './grant';
import type { Issuer } from './issuer';
import type { RefreshTokenStore } from './refresh-token-store';
import { SignInError, explainOidcError } from './sign-in-error';
import type { OidcSettings } from './settings';

/** The person an identity provider vouched for, as the ID token names them. */
export interface VerifiedHuman extends Human {
  established: 'verified';
  /** The provider's stable identifier of the person (`sub`); `user` is the e-mail when there is one. */
  subject: string;
  email?: string;
  issuer: string;
}

/** Why the identity changed: renewed silently, or the sign-in ended (sign-out, or renewal refused). */
export type IdentityChange =
  { kind: 'renewed'; human: VerifiedHuman } | { kind: 'ended'; reason: SignInError };

/** Renew when this share of the access token's life has passed. */
const RENEW_AT = 0.8;
/** After a failed renewal that may pass (the provider unreachable), try again this often. */
const RETRY_MS = 30_000;

/**
 * One sign-in at an OpenID provider: the access and ID tokens in memory only, the refresh token in its
 * store; renewed silently before the access token expires. It is the engine's IdentitySource once
 * signed in: `current()` throws once the sign-in ended (signed out, renewal refused, or expired
 * without renewal) rather than return any person at all — a placeholder identity would be decided by
 * whatever policy its groups meet, a throw can only end in a denial.
 */
export class OidcSession implements IdentitySource {
  private human: VerifiedHuman | undefined;
  private accessTokenValue: string | undefined;
  private expiry = new Date(0);
  private ended: SignInError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private readonly listeners = new Set<(change: IdentityChange) => void>();

  private constructor(
    readonly issuer: Issuer,
    private readonly store: RefreshTokenStore,
  ) {}

  /** A fresh sign-in from a grant (browser or device): keeps its refresh token, schedules renewal. */
  static async start(issuer: Issuer, tokens: GrantResult, store: RefreshTokenStore): Promise<OidcSession> {
    const session = new OidcSession(issuer, store);
    await session.accept(tokens);
    return session;
  }

  /** Continues the sign-in whose refresh token the store holds (a new process): renews at once. */
  static async resume(issuer: Issuer, store: RefreshTokenStore): Promise<OidcSession> {
    const session = new OidcSession(issuer, store);
    await session.renew();
    if (session.ended) throw session.ended;
    return session;
  }

  /** The signed-in person; throws a SignInError (`not-signed-in`, `session-ended`) when there is none. */
  current(): VerifiedHuman {
    this.checkLive();
    return this.human as VerifiedHuman;
  }

  /** The access token for the Airlock server (a Bearer), while signed in. */
  accessToken(): string {
    this.checkLive();
    return this.accessTokenValue as string;
  }

  /** When the access token in memory expires (renewal happens before). */
  get expiresAt(): Date {
    return this.expiry;
  }

  /** Subscribes to renewals and the end of the sign-in; returns the unsubscribe. */
  onDidChange(listener: (change: IdentityChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Renews now with the stored refresh token (re-read each time: another process of the same person
   * may have rotated it). invalid_grant — revoked, expired, or the person lost access — ends the
   * sign-in; an unreachable or failing provider leaves it as it is until the access token expires,
   * retrying.
   */
  renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  /** Signs out: forgets every token in memory at once, then revokes and deletes the stored one. */
  async signOut(): Promise<SignOutResult> {
    this.end(
      new SignInError(
        'not-signed-in',
        `signed out of ${this.issuer.settings.issuer}: run \`airlock login\` to sign in`,
      ),
    );
    return signOut(this.issuer, this.store);
  }

  /** Stops renewing in this process; the stored sign-in stays for the next one. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private checkLive(): void {
    if (this.ended) throw this.ended;
    if (!this.human || Date.now() >= this.expiry.getTime()) {
      throw new SignInError(
        'session-ended',
        `the sign-in at ${this.issuer.settings.issuer} lapsed: it could not be renewed in time; run \`airlock login\``,
      );
    }
  }

  private async renewOnce(): Promise<void> {
    if (this.ended) return;
    const refreshToken = await this.store.load();
    if (!refreshToken) {
      this.end(
        new SignInError(
          'not-signed-in',
          `not signed in to ${this.issuer.settings.issuer}: run \`airlock login\``,
        ),
      );
      return;
    }
    let tokens: GrantResult;
    try {
      tokens = await oidc.refreshTokenGrant(this.issuer.client, refreshToken);
    } catch (err) {
      const error = explainOidcError(err, this.issuer.settings);
      // Only a refusal of the grant (or of the client) is final; anything else — the provider down or
      // failing — may pass, and the stored sign-in is kept for when it does.
      const final =
        (err as { error?: unknown }).error === 'invalid_grant' || error.reason === 'unknown-client';
      if (!final) {
        if (!this.human) throw error;
        this.schedule(RETRY_MS);
        return;
      }
      await this.store.clear();
      this.end(new SignInError('session-ended', `your sign-in ended: ${error.message}`));
      return;
    }
    try {
      await this.accept(tokens);
    } catch (err) {
      await this.store.clear();
      this.end(err instanceof SignInError ? err : explainOidcError(err, this.issuer.settings));
      return;
    }
    this.emit({ kind: 'renewed', human: this.human as VerifiedHuman });
  }

  private async accept(tokens: GrantResult): Promise<void> {
    const claims = tokens.claims();
    // A renewal may come without an ID token (the provider's choice): the person stays who they were.
    const human = claims ? humanFromClaims(claims, this.issuer.settings) : this.human;
    if (!human)
      throw new SignInError(
        'rejected',
        'the identity provider sent no ID token: is `openid` among the scopes?',
      );
    if (this.human && human.subject !== this.human.subject) {
      throw new SignInError('rejected', 'the identity provider renewed the sign-in for a different person');
    }
    // Rotated refresh tokens replace the old one; the old one is dead at the provider anyway.
    if (tokens.refresh_token) await this.store.save(tokens.refresh_token);
    this.human = human;
    this.accessTokenValue = tokens.access_token;
    const lifeSeconds =
      tokens.expiresIn() ?? (typeof claims?.exp === 'number' ? claims.exp - Date.now() / 1000 : 300);
    this.expiry = new Date(Date.now() + lifeSeconds * 1000);
    this.schedule(Math.max(1000, lifeSeconds * 1000 * RENEW_AT));
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    // A renewal that could not even be tried (the store unreadable) is tried again; past the access
    // token's life current() fails closed meanwhile. A forgotten session must not keep a process alive.
    this.timer = setTimeout(() => this.renew().catch(() => this.schedule(RETRY_MS)), ms).unref();
  }

  private end(reason: SignInError): void {
    if (this.ended) return;
    clearTimeout(this.timer);
    this.ended = reason;
    this.human = undefined;
    this.accessTokenValue = undefined;
    this.emit({ kind: 'ended', reason });
  }

  private emit(change: IdentityChange): void {
    for (const listener of [...this.listeners]) listener(change);
  }
}

export interface SignOutResult {
  /** The provider confirmed the revocation: the sign-in is over there too. */
  revoked: boolean;
  problem?: string;
}

/**
 * Ends the stored sign-in without a session in memory (`airlock logout` in a process of its own):
 * revokes the refresh token at the provider — which ends the grant there — and deletes it here, also
 * when the provider cannot be reached; then the answer says so.
 */
export async function signOut(issuer: Issuer, store: RefreshTokenStore): Promise<SignOutResult> {
  const refreshToken = await store.load();
  await store.clear();
  if (!refreshToken) return { revoked: false, problem: 'no stored sign-in to revoke' };
  try {
    await oidc.tokenRevocation(issuer.client, refreshToken, { token_type_hint: 'refresh_token' });
    return { revoked: true };
  } catch (err) {
    return { revoked: false, problem: explainOidcError(err, issuer.settings).message };
  }
}

/**
 * The person from the ID token's claims. The e-mail names them only when the provider does not say it
 * is unverified; the groups come from the configured claim (a list of strings, or one string).
 */
export function humanFromClaims(claims: Record<string, unknown>, settings: OidcSettings): VerifiedHuman {
  const subject = claims.sub;
  if (typeof subject !== 'string' || subject === '') {
    throw new SignInError('rejected', 'the ID token names no subject');
  }
  const email =
    typeof claims.email === 'string' && claims.email_verified !== false ? claims.email : undefined;
  const raw = claims[settings.groupsClaim];
  const groups = Array.isArray(raw)
    ? raw.filter((g): g is string => typeof g === 'string')
    : typeof raw === 'string'
      ? [raw]
      : [];
  return {
    user: email ?? subject,
    groups,
    established: 'verified',
    subject,
    email,
    issuer: settings.issuer,
  };
}
