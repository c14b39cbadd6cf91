import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyPolicyBundle } from '../../src/core/policy/bundle';
import { startServer } from '../../src/controlplane/server/server';
import { AUDIENCE, discardLog, signingKeyFile, startTestIssuer } from '../helpers/control-plane';

/**
 * The embedded default (PGlite in a data folder): the same migrations and SQL as production; what was
 * stored survives a restart of the server.
 */
describe('airlock server on the embedded store (PGlite)', function () {
  this.timeout(120_000);

  it('migrates, serves, and keeps its state across a restart', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-server-embedded-'));
    const issuer = await startTestIssuer();
    const keys = await signingKeyFile();
    const config = {
      listen: { host: '127.0.0.1', port: 0 },
      database: { embedded: path.join(dir, 'store') },
      oidc: { issuer: issuer.issuer, audience: AUDIENCE, groupsClaim: 'groups' },
      adminGroups: ['airlock-admins'],
      signingKeys: { file: keys.file },
      bundleTtlSeconds: 3600,
    };
    const admin = await issuer.token({ sub: 'alice', groups: ['airlock-admins', 'dev'] });
    const call = (url: string, method: string, p: string, body?: unknown) =>
      fetch(url + p, {
        method,
        headers: {
          authorization: `Bearer ${admin}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    try {
      const first = await startServer(config, { env: {}, logStream: discardLog() });
      try {
        assert.equal(first.store, 'embedded');
        assert.deepEqual(first.migrated, [1]);
        const conn = await call(first.url, 'PUT', '/v1/connections/shop', {
          kind: 'postgres',
          upstream: { host: 'db', port: 5432, database: 'shop' },
          groups: ['dev'],
        });
        assert.equal(conn.status, 200);
        const push = await call(first.url, 'PUT', '/v1/policies/shop', {
          document: {
            version: 1,
            name: 'embedded',
            rules: [{ name: 'r', effect: 'allow', when: { kinds: ['read'] } }],
          },
          groups: ['dev'],
          connections: ['*'],
          comment: 'first',
        });
        assert.equal(push.status, 201);
      } finally {
        await first.close();
      }
      const second = await startServer(config, { env: {}, logStream: discardLog() });
      try {
        assert.deepEqual(second.migrated, [], 'the store was current');
        const res = await call(second.url, 'GET', '/v1/policy-bundle?connection=shop');
        assert.equal(res.status, 200);
        assert.equal((await verifyPolicyBundle(await res.text(), keys.jwks)).policy.name, 'embedded');
      } finally {
        await second.close();
      }
    } finally {
      await issuer.close();
      keys.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
