import assert from 'node:assert/strict';
import { generateSigningKey, verifyPolicyBundle } from '../../src/core/policy/bundle';
import { issueBundle, matchesEtag } from '../../src/controlplane/server/bundles';
import { parseSigningKeys } from '../../src/controlplane/server/signing-keys';
import type { PolicyRecord } from '../../src/controlplane/server/store';
import { lineDiff } from '../../src/controlplane/client/line-diff';

const record = (name: string, version: number): PolicyRecord => ({
  name,
  version,
  document: { version: 1, name, rules: [{ name: 'r', effect: 'allow', when: { kinds: ['read'] } }] },
  groups: ['dev'],
  connections: ['shop'],
  priority: 100,
  author: { subject: 'a' },
  comment: 'c',
  createdAt: new Date(0).toISOString(),
});

describe('airlock server: policy bundles and ETags', () => {
  it('instances issue the same bytes within a quarter of the lifetime, fresh ones after it', async () => {
    const { privateJwk, jwks } = await generateSigningKey('k1');
    const keys = parseSigningKeys(JSON.stringify(privateJwk), 'test');
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    const a = await issueBundle(record('p', 1), 'shop', keys, 400, t0 + 1_000);
    const b = await issueBundle(record('p', 1), 'shop', keys, 400, t0 + 99_000);
    assert.equal(a.jws, b.jws);
    assert.equal(a.etag, b.etag);
    const later = await issueBundle(record('p', 1), 'shop', keys, 400, t0 + 100_000);
    assert.notEqual(later.etag, a.etag);
    const v = await verifyPolicyBundle(later.jws, jwks, t0 + 100_000);
    assert.equal(
      v.expiresAt - Math.floor((t0 + 100_000) / 1000),
      400,
      'issued at the window start, a full lifetime',
    );
    assert.deepEqual(v.claims, { connection: 'shop', policyName: 'p', policyVersion: 1 });
    const other = await issueBundle(record('p', 1), 'other', keys, 400, t0 + 1_000);
    assert.notEqual(other.etag, a.etag, 'a bundle names its connection');
  });

  it('If-None-Match: lists, weak forms and * match; anything else does not', () => {
    assert.ok(matchesEtag('"x"', '"x"'));
    assert.ok(matchesEtag('"y", W/"x"', '"x"'));
    assert.ok(matchesEtag('*', '"x"'));
    assert.ok(!matchesEtag('"y"', '"x"'));
    assert.ok(!matchesEtag(undefined, '"x"'));
  });
});

describe('policy diff lines', () => {
  it('marks removed and added lines around what is common', () => {
    assert.deepEqual(lineDiff('a\nb\nc', 'a\nx\nc\nd'), ['  a', '- b', '+ x', '  c', '+ d']);
    assert.deepEqual(lineDiff('a', 'a'), ['  a']);
  });
});
