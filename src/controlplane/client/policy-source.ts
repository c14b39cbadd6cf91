import type { JSONWebKeySet } from 'jose';
import type { Logger } from '../../core/log';
import { BundleError, verifyPolicyBundle, type VerifiedBundle } from '../../core/policy/bundle';
import {
  activeState,
  type ActivePolicy,
  type PolicyState,
  type PolicyStateSource,
} from '../../core/policy/source';
import { ServerClient, fetchServerKeys, serverError, type AccessToken } from './api-client';

export interface ServerPolicySourceOptions {
  server: string;
  connection: string;
  accessToken: AccessToken;
  /**
   * Keys the bundles must be signed with. Absent: the server's JWKS, read at first contact and re-read
   * only when a bundle names a key not seen yet (rotation), so trust rests on the server's TLS.
   */
  pinnedKeys?: JSONWebKeySet;
  refreshMs: number;
  log: Logger;
}

/**
 * The policy for one connection, from the control plane: fetched with the caller's access token,
 * verified against the server's keys, refreshed with conditional requests. While the server is
 * unreachable the last verified bundle is kept until its `exp`; after that, and as soon as the server
 * says the caller may no longer use the connection, every statement is denied with the reason.
 * Same shape as PolicySource (`state()`, `close()`), so the engine's gate can use either.
 */
export class ServerPolicySource implements PolicyStateSource {
  private active: ActivePolicy | null = null;
  private etag: string | null = null;
  private keys: JSONWebKeySet | null;
  private lastError = '';
  private revoked: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly client: ServerClient;

  private constructor(private readonly o: ServerPolicySourceOptions) {
    this.client = new ServerClient({ server: o.server, accessToken: o.accessToken });
    this.keys = o.pinnedKeys ?? null;
  }

  /** Opens the source and makes the first fetch; a failure there leaves it denying, with the reason. */
  static async open(o: ServerPolicySourceOptions): Promise<ServerPolicySource> {
    const source = new ServerPolicySource(o);
    await source.refresh();
    source.timer = setInterval(() => void source.refresh(), o.refreshMs);
    source.timer.unref();
    return source;
  }

  /** One refresh (callers may force one, e.g. right after sign-in); concurrent calls share it. */
  refresh(): Promise<void> {
    this.running ??= this.fetchOnce().finally(() => (this.running = null));
    return this.running;
  }

  private async fetchOnce(): Promise<void> {
    const where = `${this.client.base} (connection ${this.o.connection})`;
    let res: Response;
    try {
      res = await this.client.request(
        'GET',
        `/v1/policy-bundle?connection=${encodeURIComponent(this.o.connection)}`,
        {
          headers: this.etag && this.active ? { 'if-none-match': this.etag } : {},
        },
      );
    } catch (err) {
      return this.failed(`${where} is unreachable: ${(err as Error).message}`);
    }
    if (res.status === 304) return;
    if (res.status === 403 || res.status === 404) {
      // The server's answer, not an outage: access ends now rather than at the cached bundle's expiry.
      const e = await serverError(res);
      this.active = null;
      this.etag = null;
      this.revoked = e.message;
      this.lastError = e.message;
      this.o.log.warn(`policy for ${this.o.connection} withdrawn: ${e.message}`);
      return;
    }
    if (!res.ok) return this.failed(`${where}: ${(await serverError(res)).message}`);
    const jws = await res.text();
    let bundle: VerifiedBundle;
    try {
      bundle = await this.verify(jws);
    } catch (err) {
      return this.failed(`${where}: ${(err as Error).message}`);
    }
    this.etag = res.headers.get('etag');
    this.revoked = null;
    this.lastError = '';
    if (this.active?.id === bundle.id) return;
    this.active = { policy: bundle.policy, id: bundle.id, expiresAt: bundle.expiresAt * 1000 };
    this.o.log.info(
      `policy "${String(bundle.claims.policyName)}" v${String(bundle.claims.policyVersion)} in force for ${this.o.connection} (key ${bundle.kid}, expires ${new Date(bundle.expiresAt * 1000).toISOString()})`,
    );
  }

  private async verify(jws: string): Promise<VerifiedBundle> {
    this.keys ??= await fetchServerKeys(this.o.server);
    let bundle: VerifiedBundle;
    try {
      bundle = await verifyPolicyBundle(jws, this.keys);
    } catch (err) {
      if (this.o.pinnedKeys || !(err instanceof BundleError) || !/not pinned/.test(err.message)) throw err;
      // A key not seen yet: the server may have rotated. Re-read its keys once and try again.
      this.keys = await fetchServerKeys(this.o.server);
      bundle = await verifyPolicyBundle(jws, this.keys);
    }
    if (bundle.claims.connection !== this.o.connection) {
      throw new BundleError(
        `the bundle is for connection "${String(bundle.claims.connection)}", not "${this.o.connection}"`,
      );
    }
    return bundle;
  }

  private failed(reason: string): void {
    this.lastError = reason;
    this.o.log.warn(
      `policy refresh failed: ${reason}${this.active ? '; keeping the last verified bundle until it expires' : ''}`,
    );
  }

  state(now = Date.now()): PolicyState {
    const a = this.active;
    if (!a) {
      if (this.revoked)
        return { ok: false, reason: `the control plane withdrew the policy: ${this.revoked}` };
      return {
        ok: false,
        reason: `no verified policy from the control plane (${this.lastError || 'not loaded'})`,
      };
    }
    return activeState(a, this.lastError, now);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
