import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { startDeviceSignIn } from '../../src/identity/device-sign-in';
import { connectIssuer, type Issuer } from '../../src/identity/issuer';
import { startLoopbackSignIn } from '../../src/identity/loopback-sign-in';
import { OidcSession, type IdentityChange } from '../../src/identity/oidc-session';
import { refreshTokenFile, type RefreshTokenStore } from '../../src/identity/refresh-token-store';
import { oidcSettings, type OidcSettings } from '../../src/identity/settings';
import { SignInError } from '../../src/identity/sign-in-error';
import {
  TEST_RESOURCE,
  startTestIdentityProvider,
  type TestIdentityProvider,
  type TestProviderOptions,
} from '../helpers/oidc-provider';

/** Rejects with a SignInError of `reason`; returns it for more checks. */
async function signInFailure(promise: Promise<unknown>, reason: SignInError['reason']): Promise<SignInError> {
  const err = await promise.then(
    () => assert.fail(`expected the sign-in to fail (${reason})`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SignInError, `not a SignInError: ${String(err)}`);
  assert.equal(err.reason, reason, err.message);
  return err;
}

function nextChange(session: OidcSession): Promise<IdentityChange> {
  return new Promise((resolve) => {
    const stop = session.onDidChange((change) => {
      stop();
      resolve(change);
    });
  });
}

describe('identity: sign-in at a real OpenID provider (oidc-provider)', function () {
  this.timeout(30_000);
  let idp: TestIdentityProvider | undefined;
  let dir: string;
  const sessions: OidcSession[] = [];

  const start = async (options?: TestProviderOptions) => {
    idp = await startTestIdentityProvider(options);
    return idp;
  };
  const settingsFor = (p: TestIdentityProvider, clientId = p.clientId): OidcSettings =>
    oidcSettings({
      issuer: p.issuer,
      clientId,
      scopes: ['openid', 'email', 'groups'],
      resource: TEST_RESOURCE,
    });
  const storeFor = (issuer: Issuer): RefreshTokenStore => refreshTokenFile(issuer.settings, dir);
  const track = (s: OidcSession) => (sessions.push(s), s);

  /** A whole browser sign-in as `account`, the loopback redirect fetched as the browser would. */
  async function browserSignIn(p: TestIdentityProvider, account: string) {
    const issuer = await connectIssuer(settingsFor(p));
    const pending = await startLoopbackSignIn(issuer);
    const back = await p.loginAt(pending.authorizationUrl.href, account);
    const page = await fetch(back);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /You can close this tab/);
    const store = storeFor(issuer);
    const session = track(await OidcSession.start(issuer, await pending.completed, store));
    return { issuer, session, store, back, pending };
  }

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-identity-'));
  });

  afterEach(async () => {
    for (const s of sessions.splice(0)) s.close();
    await idp?.close();
    idp = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('browser sign-in: code + PKCE on a one-time loopback redirect names the person, their groups and the issuer', async () => {
    const p = await start();
    const { session, store, back, pending } = await browserSignIn(p, 'dev');
    const url = pending.authorizationUrl;
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.match(url.searchParams.get('redirect_uri') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    // The authorization request carries no secret: the PKCE verifier stays in this process.
    assert.deepEqual([...url.searchParams.keys()].sort(), [
      'client_id',
      'code_challenge',
      'code_challenge_method',
      'redirect_uri',
      'resource',
      'response_type',
      'scope',
      'state',
    ]);
    const human = session.current();
    assert.deepEqual(
      { user: human.user, subject: human.subject, email: human.email, groups: human.groups },
      { user: 'dev@example.com', subject: 'dev', email: 'dev@example.com', groups: ['developers'] },
    );
    assert.equal(human.established, 'verified');
    assert.equal(human.issuer, p.issuer);
    // The access token is what the Airlock server verifies: signed by the issuer, for its audience.
    const { payload } = await jwtVerify(session.accessToken(), createRemoteJWKSet(new URL(p.jwksUri)), {
      issuer: p.issuer,
      audience: p.audience,
    });
    assert.equal(payload.sub, 'dev');
    assert.deepEqual(payload.groups, ['developers']);
    // At rest: only the refresh token, live at the provider, in a 0600 file in a 0700 folder.
    const stored = await store.load();
    assert.ok(stored && (await p.refreshTokenActive(stored)));
    assert.equal(statSync(store.location).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(store.location)).mode & 0o777, 0o700);
    // The loopback listener took its one redirect and is gone: a replayed callback reaches nothing.
    await assert.rejects(fetch(back), /fetch failed/);
  });

  it('device flow: the code entered elsewhere signs the person in; the poll keeps the interval and slows down when told', async function () {
    this.timeout(40_000);
    const p = await start({ deviceInterval: 1 });
    const issuer = await connectIssuer(settingsFor(p));
    const pending = await startDeviceSignIn(issuer);
    assert.match(pending.userCode, /^[A-Z]{4}-[A-Z]{4}$/);
    assert.equal(pending.verificationUri, `${p.issuer}/device`);
    p.slowDownNextPoll();
    const began = Date.now();
    await new Promise((r) => setTimeout(r, 2500));
    await p.approveDevice(pending.userCode, 'rev');
    const session = track(await OidcSession.start(issuer, await pending.completed, storeFor(issuer)));
    assert.equal(session.current().user, 'rev@example.com');
    assert.deepEqual(session.current().groups, ['reviewers']);
    const polls = p.devicePolls.map((t) => t - began);
    assert.ok(polls.length >= 2, `polls: ${polls}`);
    assert.ok(polls[0] >= 900, `first poll after the interval, not at once: ${polls}`);
    // After slow_down the interval grows by 5 s (RFC 8628 §3.5).
    assert.ok(polls[1] - polls[0] >= 5500, `slowed down after slow_down: ${polls}`);
  });

  it('device flow: a code nobody enters expires with a message that says what to do', async () => {
    const p = await start({ deviceInterval: 1, ttl: { deviceCode: 2 } });
    const pending = await startDeviceSignIn(await connectIssuer(settingsFor(p)));
    const err = await signInFailure(pending.completed, 'expired');
    assert.match(err.message, /airlock login --device/);
  });

  it('renews silently before the access token expires: rotated refresh token, new groups at the next renewal', async () => {
    const p = await start({ ttl: { accessToken: 2 } });
    const { session, store } = await browserSignIn(p, 'dev');
    const firstAccess = session.accessToken();
    const firstRefresh = await store.load();
    // Removed from the group at the provider: the next renewal carries it.
    p.removeFromGroup('dev', 'developers');
    const change = await nextChange(session);
    assert.equal(change.kind, 'renewed');
    assert.deepEqual(session.current().groups, []);
    assert.notEqual(session.accessToken(), firstAccess);
    const secondRefresh = await store.load();
    assert.ok(
      secondRefresh && secondRefresh !== firstRefresh,
      'the rotated refresh token replaced the old one',
    );
    assert.equal(await p.refreshTokenActive(firstRefresh as string), false);
    assert.ok(session.expiresAt.getTime() > Date.now());
  });

  it('a renewal the provider refuses (revoked there) ends the sign-in: current() throws, the stored token is gone', async () => {
    const p = await start();
    const { issuer, session, store } = await browserSignIn(p, 'dev');
    await oidc.tokenRevocation(issuer.client, (await store.load()) as string);
    const ended = nextChange(session);
    await session.renew();
    const change = await ended;
    assert.equal(change.kind, 'ended');
    assert.throws(
      () => session.current(),
      (e: unknown) => e instanceof SignInError && e.reason === 'session-ended',
    );
    assert.throws(() => session.accessToken(), SignInError);
    assert.match((change as { reason: SignInError }).reason.message, /airlock login/);
    assert.equal(await store.load(), undefined);
  });

  it('sign-out revokes the refresh token at the provider and forgets everything here', async () => {
    const p = await start();
    const { issuer, session, store } = await browserSignIn(p, 'rev');
    const refreshToken = (await store.load()) as string;
    const ended = nextChange(session);
    assert.deepEqual(await session.signOut(), { revoked: true });
    assert.equal((await ended).kind, 'ended');
    assert.equal(await p.refreshTokenActive(refreshToken), false);
    await assert.rejects(oidc.refreshTokenGrant(issuer.client, refreshToken), { error: 'invalid_grant' });
    assert.throws(
      () => session.current(),
      (e: unknown) => e instanceof SignInError && e.reason === 'not-signed-in',
    );
    assert.equal(await store.load(), undefined);
    await signInFailure(OidcSession.resume(issuer, store), 'not-signed-in');
  });

  it("the provider unreachable past the access token's life: current() throws, the stored sign-in stays for later", async () => {
    const p = await start({ ttl: { accessToken: 2 } });
    const { session, store } = await browserSignIn(p, 'dev');
    await p.close();
    idp = undefined;
    await new Promise((r) => setTimeout(r, 2200));
    assert.throws(
      () => session.current(),
      (e: unknown) => e instanceof SignInError && e.reason === 'session-ended' && /lapsed/.test(e.message),
    );
    assert.ok(await store.load(), 'an unreachable provider is no reason to forget the sign-in');
  });

  it('a new process resumes the stored sign-in by renewing it', async () => {
    const p = await start();
    const { issuer, store } = await browserSignIn(p, 'dev');
    const resumed = track(await OidcSession.resume(await connectIssuer(issuer.settings), store));
    assert.equal(resumed.current().user, 'dev@example.com');
  });

  describe('abuse', () => {
    it('an answer with a wrong state is refused and its code is not redeemed', async () => {
      const p = await start();
      const issuer = await connectIssuer(settingsFor(p));
      const pending = await startLoopbackSignIn(issuer);
      const back = await p.loginAt(pending.authorizationUrl.href, 'dev');
      back.searchParams.set('state', 'forged');
      const res = await fetch(back);
      assert.equal(res.status, 400);
      await signInFailure(pending.completed, 'state-mismatch');
      assert.equal(await storeFor(issuer).load(), undefined);
    });

    it('the code alone is useless: without the PKCE verifier, or with another one, the provider refuses it', async () => {
      const p = await start();
      const issuer = await connectIssuer(settingsFor(p));
      const pending = await startLoopbackSignIn(issuer);
      const back = await p.loginAt(pending.authorizationUrl.href, 'dev');
      const redeem = (extra: Record<string, string>) =>
        fetch(`${p.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            client_id: p.clientId,
            code: back.searchParams.get('code') as string,
            redirect_uri: pending.authorizationUrl.searchParams.get('redirect_uri') as string,
            ...extra,
          }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: string } }));
      const missing = await redeem({});
      assert.equal(missing.status, 400);
      assert.equal(missing.body.error, 'invalid_grant');
      const wrong = await redeem({ code_verifier: oidc.randomPKCECodeVerifier() });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.error, 'invalid_grant');
      pending.cancel();
      await signInFailure(pending.completed, 'cancelled');
    });

    it('a replayed authorization code is refused by the provider, which also revokes what it issued', async () => {
      const p = await start();
      const issuer = await connectIssuer(settingsFor(p));
      const verifier = oidc.randomPKCECodeVerifier();
      const redirect = 'http://127.0.0.1:1/callback';
      const url = oidc.buildAuthorizationUrl(issuer.client, {
        redirect_uri: redirect,
        scope: 'openid email groups',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 's',
      });
      const back = await p.loginAt(url.href, 'dev');
      const first = await oidc.authorizationCodeGrant(issuer.client, back, {
        pkceCodeVerifier: verifier,
        expectedState: 's',
      });
      await assert.rejects(
        oidc.authorizationCodeGrant(issuer.client, back, { pkceCodeVerifier: verifier, expectedState: 's' }),
        { error: 'invalid_grant' },
      );
      assert.equal(await p.refreshTokenActive(first.refresh_token as string), false);
    });

    it('the person cancelling at the provider ends the sign-in with a message that says so', async () => {
      const p = await start();
      const pending = await startLoopbackSignIn(await connectIssuer(settingsFor(p)));
      const redirect = new URL(pending.authorizationUrl.searchParams.get('redirect_uri') as string);
      redirect.searchParams.set('error', 'access_denied');
      redirect.searchParams.set('state', pending.authorizationUrl.searchParams.get('state') as string);
      redirect.searchParams.set('iss', p.issuer);
      assert.equal((await fetch(redirect)).status, 400);
      const err = await signInFailure(pending.completed, 'cancelled');
      assert.match(err.message, /cancelled/);
    });

    it('a client id the provider does not know is named in the error', async () => {
      const p = await start();
      const err = await signInFailure(
        startDeviceSignIn(await connectIssuer(settingsFor(p, 'not-airlock'))),
        'unknown-client',
      );
      assert.match(err.message, /"not-airlock".*identity\.clientId/);
    });

    it('an identity provider that is down at login: the error names it and the cause', async () => {
      const p = await start();
      const settings = settingsFor(p);
      await p.close();
      idp = undefined;
      const err = await signInFailure(connectIssuer(settings), 'issuer-unreachable');
      assert.match(err.message, new RegExp(`${settings.issuer.replace(/\./g, '\\.')} \\(ECONNREFUSED\\)`));
    });
  });
});
