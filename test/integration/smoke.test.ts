import assert from 'node:assert/strict';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';

describe('postgres proxy: basic data path', () => {
  let p: ProxyUnderTest;
  before(async () => {
    p = await proxyFor(sharedCluster());
  });
  after(() => p.close());

  it('runs a simple query and reports the upstream server version', async () => {
    const c = await p.connect();
    try {
      const r = await c.query('select 1 + 1 as two, current_user as who');
      assert.deepEqual(r.rows, [{ two: 2, who: 'postgres' }]);
      const v = await c.query('show server_version');
      assert.match(v.rows[0].server_version, /^15\./);
    } finally {
      await c.end();
    }
  });

  it('reaches the upstream over TLS', async () => {
    const c = await p.connect();
    try {
      const r = await c.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
      assert.equal(r.rows[0].ssl, true);
    } finally {
      await c.end();
    }
  });
});
