import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSigningKey, signPolicyBundle, verifyPolicyBundle } from '../../src/core/policy/bundle';
import { PRESETS } from '../../src/core/policy/presets';
import { PolicySource } from '../../src/core/policy/source';
import { silentLogger } from '../../src/core/log';

describe('signed policy bundles', () => {
  const policy = PRESETS['read-only'];

  it('verifies a bundle signed by a pinned key and returns the policy, kid and lifetime', async () => {
    const { privateJwk, jwks } = await generateSigningKey('k1');
    const jws = await signPolicyBundle(policy, privateJwk, { ttlSeconds: 60 });
    const v = await verifyPolicyBundle(jws, jwks);
    assert.deepEqual(v.policy, policy);
    assert.equal(v.kid, 'k1');
    assert.equal(v.expiresAt - v.issuedAt, 60);
    assert.match(v.id, /^sha256:[0-9a-f]{64}$/);
  });

  it('refuses expired bundles, unpinned keys, tampered payloads and unsigned documents', async () => {
    const { privateJwk, jwks } = await generateSigningKey('k1');
    const other = await generateSigningKey('k1');
    const expired = await signPolicyBundle(policy, privateJwk, { ttlSeconds: 10, now: Date.now() - 60_000 });
    await assert.rejects(verifyPolicyBundle(expired, jwks), /expired/);
    const foreign = await signPolicyBundle(policy, other.privateJwk, { ttlSeconds: 60 });
    await assert.rejects(verifyPolicyBundle(foreign, jwks), /signature is invalid|not pinned/);
    const good = await signPolicyBundle(policy, privateJwk, { ttlSeconds: 60 });
    const [h, p, s] = good.split('.');
    const forged = JSON.parse(Buffer.from(p, 'base64url').toString());
    forged.policy = PRESETS['allow-all'];
    await assert.rejects(
      verifyPolicyBundle(`${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}`, jwks),
      /signature is invalid/,
    );
    const unsigned = `${Buffer.from('{"alg":"none","typ":"airlock-policy+jwt","kid":"k1"}').toString('base64url')}.${p}.`;
    await assert.rejects(verifyPolicyBundle(unsigned, jwks), /not acceptable|signature/);
    await assert.rejects(verifyPolicyBundle('version: 1\nrules: []', jwks), /not a signed bundle/);
  });

  it('validates the policy inside a correctly signed bundle', async () => {
    const { privateJwk, jwks } = await generateSigningKey('k1');
    const bad = await signPolicyBundle(
      { version: 1, rules: [{ name: 'x', effect: 'permit' }] } as never,
      privateJwk,
      {
        ttlSeconds: 60,
      },
    );
    await assert.rejects(verifyPolicyBundle(bad, jwks), /rules\.0\.effect/);
  });

  it('keeps the last good bundle when a refresh fails, and fails closed once it expires', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-bundle-'));
    const { privateJwk, jwks } = await generateSigningKey('k1');
    const bundleFile = path.join(dir, 'policy.jws');
    const jwksFile = path.join(dir, 'keys.json');
    writeFileSync(jwksFile, JSON.stringify(jwks));
    writeFileSync(bundleFile, await signPolicyBundle(policy, privateJwk, { ttlSeconds: 3600 }));
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    const source = await PolicySource.open(
      { kind: 'bundle', location: bundleFile, jwksFile, refreshMs: 50 },
      log,
    );
    try {
      const first = source.state();
      assert.ok(first.ok);
      writeFileSync(bundleFile, 'garbage');
      for (let i = 0; i < 100 && warnings.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.match(warnings[0] ?? '', /policy refresh failed: .*keeping the last good bundle/);
      const kept = source.state();
      assert.ok(kept.ok && kept.active.id === (first.ok && first.active.id));
      const later = source.state(Date.now() + 3601_000);
      assert.equal(later.ok, false);
      assert.match(
        later.ok ? '' : later.reason,
        /expired at .* and refreshing failed: .*not a signed bundle/,
      );
    } finally {
      source.close();
    }
  });

  it('does not start without a valid bundle: every statement would be denied', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-bundle-'));
    const { jwks } = await generateSigningKey('k1');
    writeFileSync(path.join(dir, 'keys.json'), JSON.stringify(jwks));
    writeFileSync(path.join(dir, 'p.jws'), 'not a bundle');
    const source = await PolicySource.open(
      {
        kind: 'bundle',
        location: path.join(dir, 'p.jws'),
        jwksFile: path.join(dir, 'keys.json'),
        refreshMs: 60_000,
      },
      silentLogger,
    );
    try {
      const s = source.state();
      assert.equal(s.ok, false);
      assert.match(s.ok ? '' : s.reason, /no valid policy/);
    } finally {
      source.close();
    }
  });
});
