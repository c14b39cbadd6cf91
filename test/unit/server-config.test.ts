import assert from 'node:assert/strict';
import { generateSigningKey } from '../../src/core/policy/bundle';
import { parseServerConfig } from '../../src/controlplane/server/config';
import {
  loadSigningKeys,
  parseSigningKeys,
  SIGNING_KEYS_ENV,
} from '../../src/controlplane/server/signing-keys';

describe('airlock server: its config and its signing keys', () => {
  const oidc = 'oidc: { issuer: "https://idp.example.com", audience: airlock }\n';

  it('defaults: loopback, the embedded store, groups claim "groups", one hour bundles', () => {
    const c = parseServerConfig(oidc, 'server.yaml');
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8443 });
    assert.deepEqual(c.database, {});
    assert.equal(c.oidc.groupsClaim, 'groups');
    assert.deepEqual(c.adminGroups, ['airlock-admins']);
    assert.equal(c.bundleTtlSeconds, 3600);
  });

  it('refuses a database password in the config, naming where it goes instead', () => {
    assert.throws(
      () =>
        parseServerConfig(
          oidc + 'database: { url: "postgres://airlock:s3cret@db/airlock" }\n',
          'server.yaml',
        ),
      /database\.url \(line 2\): holds a password: put it in AIRLOCK_SERVER_DATABASE_PASSWORD/,
    );
  });

  it('refuses unknown keys and a config naming two stores', () => {
    assert.throws(() => parseServerConfig(oidc + 'listn: {}\n', 'server.yaml'), /unknown key "listn"/);
    assert.throws(
      () => parseServerConfig(oidc + 'database: { url: "postgres://a@b/c", embedded: ./x }\n', 's.yaml'),
      /either url or embedded/,
    );
  });

  it('publishes only the public halves of the signing keys, the first one signing', async () => {
    const a = await generateSigningKey('k-new');
    const b = await generateSigningKey('k-old');
    const keys = parseSigningKeys(JSON.stringify({ keys: [a.privateJwk, b.privateJwk] }), 'test');
    assert.equal(keys.active.kid, 'k-new');
    assert.deepEqual(
      keys.jwks.keys.map((k) => k.kid),
      ['k-new', 'k-old'],
    );
    for (const k of keys.jwks.keys) assert.equal(k.d, undefined, 'a private member is published');
  });

  it('refuses keys that cannot sign bundles', async () => {
    const { jwks } = await generateSigningKey('pub');
    assert.throws(() => parseSigningKeys(JSON.stringify(jwks), 'test'), /not a private Ed25519 key/);
    const { privateJwk } = await generateSigningKey('same');
    assert.throws(
      () => parseSigningKeys(JSON.stringify({ keys: [privateJwk, privateJwk] }), 'test'),
      /share a kid/,
    );
    await assert.rejects(
      loadSigningKeys(undefined, {}),
      new RegExp(`set ${SIGNING_KEYS_ENV} or signingKeys\\.file`),
    );
  });
});
