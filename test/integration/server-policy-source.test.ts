import assert from 'node:assert/strict';
import { silentLogger } from '../../src/core/log';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { PolicyGate } from '../../src/core/gate/gate';
import type { Decision } from '../../src/core/gate/decision';
import { generateSigningKey } from '../../src/core/policy/bundle';
import { loadSqlParser } from '../../src/core/sql/parser';
import { ServerPolicySource } from '../../src/controlplane/client/policy-source';
import type { ServerConfig } from '../../src/controlplane/server/config';
import type { RunningServer } from '../../src/controlplane/server/server';
import {
  serverConfigFor,
  signingKeyFile,
  startTestIssuer,
  startTestServer,
  type TestIssuer,
} from '../helpers/control-plane';

/**
 * The workstation's side of central policy: a running source picks up a pushed policy without a
 * restart, keeps the last verified bundle while the server is down until its exp, then denies; and
 * loses access at the next refresh once its account leaves the connection's groups.
 */
const policy = (name: string) => ({
  version: 1,
  name,
  rules: [{ name: 'reads', effect: 'allow', when: { kinds: ['read'] } }],
});

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the control plane policy source (workstation side)', function () {
  this.timeout(60_000);
  let issuer: TestIssuer;
  let keys: Awaited<ReturnType<typeof signingKeyFile>>;
  let config: ServerConfig;
  let server: RunningServer | null = null;
  let admin: string;
  const sources: ServerPolicySource[] = [];

  const push = async (name: string, groups = ['dev']) => {
    const res = await fetch(`${server!.url}/v1/policies/shop`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ document: policy(name), groups, connections: ['shop'], comment: `set ${name}` }),
    });
    assert.equal(res.status, 201);
  };
  const putConnection = async (groups: string[]) => {
    const res = await fetch(`${server!.url}/v1/connections/shop`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'postgres',
        upstream: { host: 'db', port: 5432, database: 'shop' },
        groups,
      }),
    });
    assert.equal(res.status, 200);
  };
  const open = async (token: () => Promise<string>, extra: { pinnedKeys?: { keys: object[] } } = {}) => {
    const s = await ServerPolicySource.open({
      server: server!.url,
      connection: 'shop',
      accessToken: token,
      refreshMs: 50,
      log: silentLogger,
      ...extra,
    });
    sources.push(s);
    return s;
  };

  before(async () => {
    issuer = await startTestIssuer();
    keys = await signingKeyFile();
    config = await serverConfigFor('airlock_server_source', issuer, keys.file, { bundleTtlSeconds: 600 });
    server = await startTestServer(config);
    admin = await issuer.token({ sub: 'alice', email: 'alice@example.com', groups: ['airlock-admins'] });
    await putConnection(['dev']);
    await push('first');
  });
  after(async () => {
    for (const s of sources) s.close();
    await server?.close();
    await issuer?.close();
    keys?.remove();
  });

  it('a pushed policy reaches a running source without a restart', async () => {
    const dev = await issuer.token({ sub: 'bob', groups: ['dev'] });
    const source = await open(async () => dev);
    const first = source.state();
    assert.ok(first.ok);
    assert.equal(first.active.policy.name, 'first');
    await push('second');
    await until(() => {
      const s = source.state();
      return s.ok && s.active.policy.name === 'second';
    }, 'the pushed policy');
  });

  it('a bundle signed by a key other than the pinned one is refused', async () => {
    const dev = await issuer.token({ sub: 'bob', groups: ['dev'] });
    const other = await generateSigningKey('bundle-key-1');
    const source = await open(async () => dev, { pinnedKeys: other.jwks as { keys: object[] } });
    const state = source.state();
    assert.equal(state.ok, false);
    assert.match(state.ok ? '' : state.reason, /signature is invalid/);
  });

  it("access ends at the next refresh once the account leaves the connection's groups", async () => {
    let token = await issuer.token({ sub: 'dave', groups: ['dev'] });
    const source = await open(async () => token);
    assert.ok(source.state().ok);
    // The identity provider no longer puts dave in dev: his next token says so.
    token = await issuer.token({ sub: 'dave', groups: ['sales'] });
    await until(() => !source.state().ok, 'access to end');
    const state = source.state();
    assert.match(
      state.ok ? '' : state.reason,
      /withdrew the policy: your account is not in any group that may use `shop`/,
    );
  });

  it('the gate decides each identity by the policy the server resolved for its groups', async () => {
    await loadSqlParser();
    const res = await fetch(`${server!.url}/v1/policies/shop-ops`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        document: {
          version: 1,
          name: 'ops',
          rules: [{ name: 'no-reads', effect: 'deny', when: { kinds: ['read'] } }],
        },
        groups: ['ops'],
        connections: ['shop'],
        comment: 'ops write only',
      }),
    });
    assert.equal(res.status, 201);
    await putConnection(['dev', 'ops']);
    const decide = async (groups: string[]) => {
      const token = await issuer.token({ sub: groups[0], groups });
      const gate = new PolicyGate(await open(async () => token), null, silentLogger);
      const actor = { user: groups[0], groups };
      return gate.decide(
        { connection: 'shop', sessionId: 's', actor },
        { kind: 'sql', text: 'select 1' },
      ) as Decision;
    };
    const dev = await decide(['dev']);
    const ops = await decide(['ops']);
    assert.deepEqual([dev.effect, dev.rule], ['allow', 'reads']);
    assert.deepEqual([ops.effect, ops.rule], ['deny', 'no-reads']);
  });

  it('follows a key rotation: a bundle signed by a new key published at /v1/keys is accepted', async () => {
    const dev = await issuer.token({ sub: 'bob', groups: ['dev'] });
    const source = await open(async () => dev);
    const before = source.state();
    assert.ok(before.ok);
    // The operator puts a new key in front (it signs) and keeps the old one published; the instance
    // restarts on the same address, and the running source, which read the old keys, must follow.
    const rotated = await generateSigningKey('bundle-key-2');
    const current = JSON.parse(readFileSync(keys.file, 'utf8')) as { keys: object[] };
    writeFileSync(keys.file, JSON.stringify({ keys: [rotated.privateJwk, ...current.keys] }));
    chmodSync(keys.file, 0o600);
    const port = Number(new URL(server!.url).port);
    await server!.close();
    server = await startTestServer({ ...config, listen: { host: '127.0.0.1', port } });
    await until(() => {
      const s = source.state();
      return s.ok && s.active.id !== before.active.id;
    }, 'the bundle signed by the new key');
  });

  it('with the server stopped: the cached bundle until its exp, then every statement is denied', async () => {
    const dev = await issuer.token({ sub: 'bob', groups: ['dev'] });
    const source = await open(async () => dev);
    const before = source.state();
    assert.ok(before.ok);
    const expiresAt = before.active.expiresAt!;
    await server!.close();
    server = null;
    await source.refresh();
    const during = source.state();
    assert.ok(during.ok, 'the last verified bundle is kept while the server is down');
    assert.equal(during.active.id, before.active.id);
    const after = source.state(expiresAt);
    assert.equal(after.ok, false);
    assert.match(after.ok ? '' : after.reason, /expired at .* and refreshing failed: .*unreachable/);
    // Back up: the next refresh brings a fresh bundle, so the source serves again.
    server = await startTestServer(config);
    const restarted = await ServerPolicySource.open({
      server: server.url,
      connection: 'shop',
      accessToken: async () => dev,
      refreshMs: 50,
      log: silentLogger,
    });
    sources.push(restarted);
    assert.ok(restarted.state().ok);
  });

  it('the server down at start: the source denies with the reason until it is reachable', async () => {
    const source = await ServerPolicySource.open({
      server: 'http://127.0.0.1:9',
      connection: 'shop',
      accessToken: async () => 'unused',
      refreshMs: 60_000,
      log: silentLogger,
    });
    sources.push(source);
    const state = source.state();
    assert.equal(state.ok, false);
    assert.match(
      state.ok ? '' : state.reason,
      /no verified policy from the control plane \(http:\/\/127\.0\.0\.1:9 .*unreachable/,
    );
  });
});
