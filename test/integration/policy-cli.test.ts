import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseError } from 'pg';
import { generateSigningKey, signPolicyBundle } from '../../src/core/policy/bundle';
import { PRESETS } from '../../src/core/policy/presets';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor } from '../helpers/proxy';
import { runAirlock as cli } from '../helpers/airlock-cli';
import { repoRoot } from '../helpers/policy-fixtures';

describe('airlock policy: explain, keygen, sign, and signed bundles in the proxy', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-policy-cli-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('explains per statement what Airlock sees and which rule decides, exit 1 on a denial', async () => {
    const denied = await cli(['policy', 'explain', '--policy', 'read-only', 'COMMIT; DROP TABLE customers']);
    assert.equal(denied.code, 1, denied.stderr);
    assert.match(denied.stdout, /statement 1: COMMIT\n {2}command {4}COMMIT\n {2}kind {7}transaction/);
    assert.match(
      denied.stdout,
      /statement 2: DROP TABLE customers[\s\S]*kind {7}ddl[\s\S]*relations {2}customers \(write\)/,
    );
    assert.match(denied.stdout, /decision {3}DENY by rule "default": DROP TABLE \(ddl\)/);
    assert.match(denied.stdout, /request: DENY \(policy "read-only"\)/);
    const allowed = await cli([
      'policy',
      'explain',
      '--policy',
      'read-only',
      'select upper(email) from customers',
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /functions {2}upper \[safe\]/);
    assert.match(allowed.stdout, /ALLOW by rule "reads"/);
  });

  it('explains an agent name as claimed unless --channel names the adapter it came through', async () => {
    const policy = path.join(dir, 'agents.yaml');
    await writeFile(
      policy,
      'version: 1\nrules:\n  - name: mcp-reads\n    effect: allow\n    when: { kinds: [read], agents: ["mcp:*"] }\n',
    );
    const base = ['policy', 'explain', '--policy', policy, '--agent', 'mcp:\x1b[2Jx'];
    const claimed = await cli([...base, 'select 1']);
    assert.equal(claimed.code, 1, claimed.stderr);
    assert.match(claimed.stdout, /applies to agents mcp:\* \(the name "mcp:\\x1b\[2Jx" is only claimed\)/);
    const verified = await cli([...base, '--channel', 'mcp', 'select 1']);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /ALLOW by rule "mcp-reads"/);
    const bad = await cli([...base, '--channel', 'root', 'select 1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--channel takes mcp or lm-tool/);
  });

  it('makes a key, signs a policy file, and explains with the verified bundle; a tampered bundle is refused', async () => {
    const key = path.join(dir, 'k.jwk.json');
    const jwks = path.join(dir, 'keys.json');
    const bundle = path.join(dir, 'approve.jws');
    const keygen = await cli(['policy', 'keygen', '--kid', 'test-1', '--key', key, '--jwks', jwks]);
    assert.equal(keygen.code, 0, keygen.stderr);
    assert.equal(JSON.parse(await readFile(jwks, 'utf8')).keys[0].kid, 'test-1');
    assert.equal(
      JSON.parse(await readFile(jwks, 'utf8')).keys[0].d,
      undefined,
      'the JWKS must hold no private part',
    );
    const policyFile = path.join(repoRoot, 'examples', 'policies', 'approve-writes.yaml');
    const sign = await cli([
      'policy',
      'sign',
      '--key',
      key,
      '--in',
      policyFile,
      '--out',
      bundle,
      '--ttl',
      '600',
    ]);
    assert.equal(sign.code, 0, sign.stderr);
    const explained = await cli([
      'policy',
      'explain',
      '--policy',
      bundle,
      '--jwks',
      jwks,
      'CREATE TABLE x (a int)',
    ]);
    assert.equal(explained.code, 1);
    assert.match(explained.stdout, /DENY by rule "no-ddl-or-dcl": Schema and permission changes/);
    const [h, p, s] = (await readFile(bundle, 'utf8')).trim().split('.');
    const forged = JSON.parse(Buffer.from(p, 'base64url').toString());
    forged.policy.rules = [{ name: 'all', effect: 'allow' }];
    await writeFile(bundle, `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}\n`);
    const refused = await cli([
      'policy',
      'explain',
      '--policy',
      bundle,
      '--jwks',
      jwks,
      'CREATE TABLE x (a int)',
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /signature is invalid/);
  });

  it('enforces a signed bundle in the proxy until it expires, then denies everything (fail closed)', async () => {
    const { privateJwk, jwks } = await generateSigningKey('proxy-test');
    const jwksFile = path.join(dir, 'proxy-keys.json');
    const bundleFile = path.join(dir, 'read-only.jws');
    await writeFile(jwksFile, JSON.stringify(jwks));
    await writeFile(bundleFile, await signPolicyBundle(PRESETS['read-only'], privateJwk, { ttlSeconds: 3 }));
    const p = await proxyFor(sharedCluster(), { config: { policy: bundleFile, policyKeys: jwksFile } });
    try {
      const c = await p.connect();
      try {
        assert.deepEqual((await c.query('select 1 as one')).rows, [{ one: 1 }]);
        await assert.rejects(
          c.query('create table bundle_t (a int)'),
          (e: DatabaseError) => e.code === '42501',
        );
        await new Promise((r) => setTimeout(r, 3200));
        const err: DatabaseError = await c.query('select 1').then(
          () => assert.fail('an expired bundle must not allow anything'),
          (e: DatabaseError) => e,
        );
        assert.equal(err.code, '42501');
        assert.match(err.message, /no policy is in force: the policy bundle expired at/);
        assert.equal(err.detail, 'Rule: policy-unavailable');
      } finally {
        await c.end();
      }
    } finally {
      await p.close();
    }
  });
});
