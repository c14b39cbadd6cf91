import assert from 'node:assert/strict';
import pg from 'pg';
import type { JSONWebKeySet } from 'jose';
import { silentLogger } from '../../src/core/log';
import { verifyPolicyBundle } from '../../src/core/policy/bundle';
import { startDemoControlPlane, type DemoControlPlane } from '../../src/demo/control-plane';
import { startDemoDatabase, type DemoDatabase } from '../../src/demo/demo-database';
import { connectIssuer } from '../../src/identity/issuer';
import { startLoopbackSignIn } from '../../src/identity/loopback-sign-in';
import { oidcSettings } from '../../src/identity/settings';
import { newSince, runFootprint } from '../helpers/airlock-demo';
import {
  TEST_RESOURCE,
  startTestIdentityProvider,
  type TestIdentityProvider,
} from '../helpers/oidc-provider';
import { repoRoot } from '../helpers/policy-fixtures';

const DEMO_POLICY = `${repoRoot}/examples/policies/demo.yaml`;

/**
 * The demo's control plane on each of its stores: the catalog holds the demo connection for both groups,
 * and each group's access token gets its own signed policy bundle, verified against the server's keys.
 */
describe('airlock demo: the control plane and its store', function () {
  this.timeout(120_000);
  let idp: TestIdentityProvider;
  let db: DemoDatabase;
  const tokens = new Map<string, string>();

  before(async () => {
    idp = await startTestIdentityProvider();
    db = await startDemoDatabase(silentLogger);
    const issuer = await connectIssuer(
      oidcSettings({
        issuer: idp.issuer,
        clientId: idp.clientId,
        scopes: ['openid', 'email', 'groups'],
        resource: TEST_RESOURCE,
      }),
    );
    for (const account of ['dev', 'rev']) {
      const pending = await startLoopbackSignIn(issuer);
      await fetch(await idp.loginAt(pending.authorizationUrl.href, account));
      tokens.set(account, (await pending.completed).access_token);
    }
  });

  after(async () => {
    await db?.stop();
    await idp?.close();
  });

  const get = (cp: DemoControlPlane, path: string, account: string) =>
    fetch(cp.url + path, { headers: { authorization: `Bearer ${tokens.get(account)}` } });

  /** What each demo account is served: its connections, and the policy its bundle carries. */
  async function checkServed(cp: DemoControlPlane): Promise<void> {
    assert.match(cp.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const keys = (await (await fetch(`${cp.url}/v1/keys`)).json()) as JSONWebKeySet;
    const upstream = new URL(db.upstream);
    for (const [account, group, policy] of [
      ['dev', 'developers', 'demo-developers'],
      ['rev', 'reviewers', 'demo-reviewers'],
    ]) {
      const whoami = (await (await get(cp, '/v1/whoami', account)).json()) as {
        groups: string[];
        connections: Array<{ name: string }>;
      };
      assert.deepEqual(whoami.groups, [group]);
      assert.deepEqual(
        whoami.connections.map((c) => c.name),
        ['demo'],
      );
      const catalog = (await (await get(cp, '/v1/connections', account)).json()) as Array<{
        upstream: { host: string; port: number; database: string };
      }>;
      assert.deepEqual(
        {
          host: catalog[0].upstream.host,
          port: catalog[0].upstream.port,
          database: catalog[0].upstream.database,
        },
        { host: upstream.hostname, port: Number(upstream.port), database: upstream.pathname.slice(1) },
      );
      const res = await get(cp, '/v1/policy-bundle?connection=demo', account);
      assert.equal(res.status, 200);
      const bundle = await verifyPolicyBundle(await res.text(), keys);
      assert.equal(bundle.claims.policyName, policy);
      assert.ok(bundle.policy.rules.some((r) => r.name === 'support-tickets-for-reviewers'));
    }
    // Nobody administers the demo: its setup wrote the catalog and the policies.
    assert.equal((await get(cp, '/v1/policies', 'dev')).status, 403);
  }

  it('on a database of its own in the demo cluster, which the proxy role cannot enter', async () => {
    assert.ok(db.addDatabase, 'the tests run with PostgreSQL server binaries');
    const own = await db.addDatabase('airlock_control_plane');
    const cp = await startDemoControlPlane({
      oidc: { issuer: idp.issuer, audience: idp.audience },
      upstream: db.upstream,
      policyFile: DEMO_POLICY,
      database: own,
    });
    try {
      assert.equal(cp.store, "database airlock_control_plane in the demo's PostgreSQL");
      await checkServed(cp);
      const u = new URL(db.upstream);
      const app = new pg.Client({
        host: u.hostname,
        port: Number(u.port),
        user: 'app',
        password: db.password,
        database: own.database,
      });
      await assert.rejects(app.connect(), (err: { code?: string }) => err.code === '42501');
    } finally {
      await cp.stop();
    }
  });

  it('on PGlite in a temp folder, removed when it stops', async () => {
    const before = runFootprint();
    const cp = await startDemoControlPlane({
      oidc: { issuer: idp.issuer, audience: idp.audience },
      upstream: db.upstream,
      policyFile: DEMO_POLICY,
    });
    try {
      assert.match(cp.store, /^PGlite in \S+airlock-demo-control-plane-\w+, removed at the end$/);
      await checkServed(cp);
    } finally {
      await cp.stop();
    }
    assert.deepEqual(newSince(before), []);
  });
});
