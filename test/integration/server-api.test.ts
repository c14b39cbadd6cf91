import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { SignJWT, generateKeyPair } from 'jose';
import { verifyPolicyBundle } from '../../src/core/policy/bundle';
import type { RunningServer } from '../../src/controlplane/server/server';
import { directPg } from '../helpers/policy-fixtures';
import { sharedCluster } from '../helpers/global-fixtures';
import {
  AUDIENCE,
  serverConfigFor,
  signingKeyFile,
  startTestIssuer,
  startTestServer,
  type TestIssuer,
} from '../helpers/control-plane';

/**
 * The control plane's API on a real PostgreSQL store: two instances over one database answer
 * alternately, tokens are verified against the issuer's keys, and what a caller may reach follows its
 * groups.
 */
const POLICY = {
  version: 1,
  name: 'shop-readers',
  rules: [{ name: 'reads', effect: 'allow', when: { kinds: ['read'] } }],
};

describe('airlock server: the HTTP API over PostgreSQL', function () {
  this.timeout(60_000);
  let issuer: TestIssuer;
  let keys: Awaited<ReturnType<typeof signingKeyFile>>;
  let a: RunningServer;
  let b: RunningServer;
  let admin: string;
  let dev: string;
  let outsider: string;
  const log = new PassThrough();
  let logText = '';
  log.on('data', (d: Buffer) => (logText += d.toString()));

  before(async () => {
    issuer = await startTestIssuer();
    keys = await signingKeyFile();
    const config = await serverConfigFor('airlock_server_api', issuer, keys.file);
    // Started together: the advisory lock lets one migrate while the other waits.
    [a, b] = await Promise.all([startTestServer(config, log), startTestServer(config, log)]);
    admin = await issuer.token({
      sub: 'alice',
      email: 'alice@example.com',
      groups: ['airlock-admins', 'dev'],
    });
    dev = await issuer.token({ sub: 'bob', email: 'bob@example.com', groups: ['dev'] });
    outsider = await issuer.token({ sub: 'carol', groups: ['sales'] });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await issuer?.close();
    keys?.remove();
  });

  const call = (
    s: RunningServer,
    method: string,
    path: string,
    token?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    fetch(s.url + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  it('two instances starting together migrate the store once', async () => {
    assert.equal(a.migrated.length + b.migrated.length, 1, 'exactly one instance applied the migration');
    const db = await directPg(sharedCluster(), 'airlock_server_api');
    try {
      const { rows } = await db.query('select version from airlock_migrations');
      assert.deepEqual(rows, [{ version: 1 }]);
    } finally {
      await db.end();
    }
  });

  it('what one instance stores the other serves, requests alternating', async () => {
    const put = await call(a, 'PUT', '/v1/connections/shop', admin, {
      kind: 'postgres',
      upstream: { host: 'db.internal', port: 5432, database: 'shop' },
      groups: ['dev'],
    });
    assert.equal(put.status, 200);
    const pushed = await call(b, 'PUT', '/v1/policies/shop-readers', admin, {
      document: POLICY,
      groups: ['dev'],
      connections: ['shop'],
      comment: 'reads only on shop',
    });
    assert.equal(pushed.status, 201);
    assert.equal(((await pushed.json()) as { version: number }).version, 1);

    const etags = new Set<string>();
    for (const s of [a, b, a, b]) {
      const res = await call(s, 'GET', '/v1/policy-bundle?connection=shop', dev);
      assert.equal(res.status, 200);
      etags.add(res.headers.get('etag') ?? '');
      const bundle = await verifyPolicyBundle(await res.text(), keys.jwks);
      assert.equal(bundle.policy.name, 'shop-readers');
      assert.deepEqual([bundle.claims.connection, bundle.claims.policyVersion], ['shop', 1]);
    }
    assert.equal(etags.size, 1, 'both instances issue the same bundle, so one ETag');
    const [etag] = etags;
    const notModified = await call(b, 'GET', '/v1/policy-bundle?connection=shop', dev, undefined, {
      'if-none-match': etag,
    });
    assert.equal(notModified.status, 304);

    const v2 = await call(a, 'PUT', '/v1/policies/shop-readers', admin, {
      document: { ...POLICY, rules: [{ name: 'nothing', effect: 'deny', when: { kinds: ['read'] } }] },
      groups: ['dev'],
      connections: ['shop'],
      comment: 'freeze',
      baseVersion: 1,
    });
    assert.equal(v2.status, 201);
    const changed = await call(b, 'GET', '/v1/policy-bundle?connection=shop', dev, undefined, {
      'if-none-match': etag,
    });
    assert.equal(changed.status, 200, 'a new version changes the ETag on every instance');
    assert.equal((await verifyPolicyBundle(await changed.text(), keys.jwks)).claims.policyVersion, 2);
  });

  it('keeps who changed what, and refuses a push based on a stale version', async () => {
    const res = await call(b, 'GET', '/v1/policies/shop-readers/history', admin);
    const history = (await res.json()) as Array<{
      version: number;
      author: { subject: string; email: string };
      comment: string;
    }>;
    assert.deepEqual(
      history.map((h) => [h.version, h.author.email, h.comment]),
      [
        [2, 'alice@example.com', 'freeze'],
        [1, 'alice@example.com', 'reads only on shop'],
      ],
    );
    const stale = await call(a, 'PUT', '/v1/policies/shop-readers', admin, {
      document: POLICY,
      groups: ['dev'],
      connections: ['shop'],
      comment: 'late',
      baseVersion: 1,
    });
    assert.equal(stale.status, 409);
    assert.match(((await stale.json()) as { message: string }).message, /at version 2, not 1/);
  });

  it('validates policies as the proxy does, and lets only admins change them', async () => {
    const invalid = await call(a, 'PUT', '/v1/policies/broken', admin, {
      document: { version: 1, rules: [{ name: 'x', effect: 'perhaps' }] },
      groups: ['dev'],
      connections: ['shop'],
      comment: 'c',
    });
    assert.equal(invalid.status, 400);
    assert.match(((await invalid.json()) as { message: string }).message, /effect/);
    const byDev = await call(a, 'PUT', '/v1/policies/mine', dev, {
      document: POLICY,
      groups: ['dev'],
      connections: ['*'],
      comment: 'c',
    });
    assert.equal(byDev.status, 403);
    assert.match(((await byDev.json()) as { message: string }).message, /only members of "airlock-admins"/);
    const noComment = await call(a, 'PUT', '/v1/policies/x', admin, {
      document: POLICY,
      groups: ['dev'],
      connections: ['*'],
    });
    assert.equal(noComment.status, 400);
  });

  it('whoami and connections answer what the caller may reach', async () => {
    const me = (await (await call(a, 'GET', '/v1/whoami', dev)).json()) as unknown;
    assert.deepEqual(me, {
      subject: 'bob',
      email: 'bob@example.com',
      groups: ['dev'],
      connections: [{ name: 'shop', kind: 'postgres' }],
    });
    const list = (await (await call(b, 'GET', '/v1/connections', dev)).json()) as unknown;
    assert.deepEqual(list, [
      { name: 'shop', kind: 'postgres', upstream: { host: 'db.internal', port: 5432, database: 'shop' } },
    ]);
    assert.deepEqual(await (await call(b, 'GET', '/v1/connections', outsider)).json(), []);
  });

  it("a caller outside the connection's groups gets 403 with a message a person can act on", async () => {
    const res = await call(a, 'GET', '/v1/policy-bundle?connection=shop', outsider);
    assert.equal(res.status, 403);
    assert.match(
      ((await res.json()) as { message: string }).message,
      /your account is not in any group that may use `shop`/,
    );
  });

  it('refuses a catalog entry that carries a password', async () => {
    const res = await call(a, 'PUT', '/v1/connections/leaky', admin, {
      kind: 'postgres',
      upstream: { host: 'h', port: 5432, database: 'd', password: 'hunter2' },
      groups: ['dev'],
    });
    assert.equal(res.status, 400);
  });

  describe('tokens it must refuse (401 with WWW-Authenticate)', () => {
    const refused = async (token: string | undefined, message: RegExp) => {
      const res = await call(a, 'GET', '/v1/whoami', token);
      assert.equal(res.status, 401);
      assert.match(
        res.headers.get('www-authenticate') ?? '',
        /^Bearer realm="airlock", error="invalid_(token|request)"/,
      );
      assert.match(((await res.json()) as { message: string }).message, message);
    };

    it('no token', () => refused(undefined, /carries no access token.*airlock login/));

    it('a forged token: right claims and kid, signed by another key', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT({ groups: ['airlock-admins'] })
        .setProtectedHeader({ alg: 'ES256', kid: 'test-issuer-1' })
        .setIssuer(issuer.issuer)
        .setAudience(AUDIENCE)
        .setSubject('mallory')
        .setExpirationTime('5m')
        .sign(privateKey);
      await refused(forged, /not signed by/);
    });

    it('a token from another issuer', async () => {
      await refused(
        await issuer.token({ iss: 'https://evil.example', groups: ['dev'] }),
        /issued by "https:\/\/evil.example"/,
      );
    });

    it('a token for another audience', async () => {
      await refused(
        await issuer.token({ aud: 'some-other-app', groups: ['dev'] }),
        /meant for "some-other-app", not for this server/,
      );
    });

    it('an expired token', async () => {
      await refused(
        await issuer.token({ groups: ['dev'] }, { expiresIn: Math.floor(Date.now() / 1000) - 120 }),
        /expired.*sign in again/,
      );
    });

    it('"alg: none"', async () => {
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', iss: issuer.issuer, aud: AUDIENCE, exp: 2e9, groups: ['airlock-admins'] })).toString('base64url')}.`;
      const res = await call(a, 'GET', '/v1/policies', none);
      assert.equal(res.status, 401);
    });
  });

  it('serves https with the configured certificate', async () => {
    const c = sharedCluster();
    const config = await serverConfigFor('airlock_server_api_tls', issuer, keys.file, {
      tls: { cert: path.join(c.dir, 'server.crt'), key: path.join(c.dir, 'server.key') },
    });
    const tls = await startTestServer(config);
    try {
      assert.equal(tls.tls, true);
      assert.match(tls.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(`${tls.url}/v1/keys`, { ca: readFileSync(c.caFile) }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      assert.deepEqual(JSON.parse(body), keys.jwks);
    } finally {
      await tls.close();
    }
  });

  it('logs JSON lines and never a token', () => {
    const lines = logText
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg?: string; req?: { url?: string } });
    assert.ok(
      lines.some((l) => l.req?.url === '/v1/whoami'),
      'requests are logged',
    );
    for (const t of [admin, dev, outsider]) {
      assert.ok(!logText.includes(t), 'a token appears in the log');
      assert.ok(!logText.includes(t.split('.')[2]), 'a token signature appears in the log');
    }
  });
});
