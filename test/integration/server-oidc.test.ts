import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { RunningServer } from '../../src/controlplane/server/server';
import { serverConfigFor, signingKeyFile, startTestServer } from '../helpers/control-plane';
import {
  TEST_AUDIENCE,
  TEST_CLIENT_ID,
  TEST_RESOURCE,
  startTestIdentityProvider,
  type TestIdentityProvider,
} from '../helpers/oidc-provider';

/**
 * The server against a real OpenID provider (oidc-provider): its access tokens are accepted with the
 * groups they carry, its ID tokens (another audience) are not, and an account taken out of a group
 * loses the connection with its next token.
 */
describe('airlock server with a real OpenID provider', function () {
  this.timeout(60_000);
  let idp: TestIdentityProvider;
  let keys: Awaited<ReturnType<typeof signingKeyFile>>;
  let server: RunningServer;

  /** Code + PKCE as the workstation does it, driven headless: the provider's access and ID tokens. */
  async function signIn(account: string): Promise<{ access: string; id: string }> {
    const verifier = randomBytes(32).toString('base64url');
    const redirect = 'http://127.0.0.1:53682/callback';
    const auth = new URL(`${idp.issuer}/auth`);
    auth.search = new URLSearchParams({
      client_id: TEST_CLIENT_ID,
      response_type: 'code',
      redirect_uri: redirect,
      scope: 'openid email groups',
      resource: TEST_RESOURCE,
      state: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const back = await idp.loginAt(auth.href, account);
    const res = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: back.searchParams.get('code') ?? '',
        redirect_uri: redirect,
        client_id: TEST_CLIENT_ID,
        code_verifier: verifier,
        resource: TEST_RESOURCE,
      }),
    });
    const body = (await res.json()) as { access_token: string; id_token: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    return { access: body.access_token, id: body.id_token };
  }

  const get = (path: string, token: string) =>
    fetch(server.url + path, { headers: { authorization: `Bearer ${token}` } });

  before(async () => {
    idp = await startTestIdentityProvider();
    keys = await signingKeyFile();
    const config = await serverConfigFor('airlock_server_oidc', idp, keys.file, {
      oidc: { issuer: idp.issuer, audience: TEST_AUDIENCE, groupsClaim: 'groups' },
      adminGroups: ['reviewers'],
    });
    server = await startTestServer(config);
    const admin = (await signIn('rev')).access;
    const res = await fetch(`${server.url}/v1/connections/shop`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'postgres',
        upstream: { host: 'db', port: 5432, database: 'shop' },
        groups: ['developers'],
      }),
    });
    assert.equal(res.status, 200);
  });
  after(async () => {
    await server?.close();
    await idp?.close();
    keys?.remove();
  });

  it('accepts its access tokens, found through discovery, with their groups', async () => {
    const res = await get('/v1/whoami', (await signIn('dev')).access);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      subject: 'dev',
      email: 'dev@example.com',
      groups: ['developers'],
      connections: [{ name: 'shop', kind: 'postgres' }],
    });
  });

  it('refuses its ID token, which is meant for the client, not the server', async () => {
    const res = await get('/v1/whoami', (await signIn('dev')).id);
    assert.equal(res.status, 401);
    assert.match(
      ((await res.json()) as { message: string }).message,
      /meant for "airlock", not for this server/,
    );
  });

  it('an account removed from the group loses the connection with its next token', async () => {
    const before = await get('/v1/connections', (await signIn('dev')).access);
    assert.equal(((await before.json()) as unknown[]).length, 1);
    idp.removeFromGroup('dev', 'developers');
    try {
      const token = (await signIn('dev')).access;
      assert.deepEqual(await (await get('/v1/connections', token)).json(), []);
      const bundle = await get('/v1/policy-bundle?connection=shop', token);
      assert.equal(bundle.status, 403);
      assert.match(
        ((await bundle.json()) as { message: string }).message,
        /not in any group that may use `shop`/,
      );
    } finally {
      idp.addToGroup('dev', 'developers');
    }
  });
});
