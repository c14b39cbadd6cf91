import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import pg, { type DatabaseError } from 'pg';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import { runProgram } from '../helpers/clients';
import { freePort, startCluster, type PostgresCluster } from '../../src/demo/postgres-cluster';
import type { ConnectionConfig } from '../../src/config/config';

/**
 * The upstream side of the proxy against real PostgreSQL servers: every sslmode (checked from the server's
 * own view in pg_stat_ssl), every password method the server may demand, and the errors a client sees
 * when the upstream cannot be reached, cannot be trusted, or refuses the credentials — which must never
 * reveal the upstream password. Then TLS on the client side of the proxy, with node-postgres and psql.
 */

const enc = encodeURIComponent;
const WRONG_PASSWORD = 'wrong-upstream-password-0f3c';
const WRONG_ENV = 'AIRLOCK_TEST_WRONG_UPSTREAM_PW';
const UNSET_ENV = 'AIRLOCK_TEST_UNSET_UPSTREAM_PW';

/** The upstream URL for `cluster` with the given host and query string. */
const upstreamUrl = (cluster: PostgresCluster, query: string, host = cluster.host) =>
  `postgres://${cluster.user}@${host}:${cluster.port}/postgres?${query}`;

interface SessionFacts {
  user: string;
  ssl: boolean;
}

async function facts(c: pg.Client): Promise<SessionFacts> {
  const r = await c.query(
    'select current_user as user, (select ssl from pg_stat_ssl where pid = pg_backend_pid()) as ssl',
  );
  return r.rows[0] as SessionFacts;
}

describe('postgres proxy: upstream TLS modes and authentication methods', function () {
  this.timeout(60_000);
  let shared: PostgresCluster;
  /**
   * ssl = off, md5 for host connections; a role "trustme" has a trust rule of its own. (Starting a cluster
   * costs seconds, so two extra clusters cover every configuration the tests need.)
   */
  let plain: PostgresCluster;
  /**
   * Cleartext password auth; listens on 127.0.0.1 and 127.0.0.2; its certificate (IP SAN 127.0.0.1, DNS SAN
   * localhost) is signed by a CA of its own, which did not sign the shared cluster's certificate.
   */
  let twoAddr: PostgresCluster;
  /** The cluster serving each password method. */
  const byAuth = (method: 'scram-sha-256' | 'md5' | 'password') =>
    method === 'scram-sha-256' ? shared : method === 'md5' ? plain : twoAddr;
  /** sslmode that reaches each method's cluster (the md5 one has no TLS). */
  const sslFor = (method: string) => (method === 'md5' ? 'prefer' : 'require');
  const proxies: ProxyUnderTest[] = [];
  const secrets: string[] = [WRONG_PASSWORD];
  let tmp: string;

  before(async function () {
    this.timeout(120_000);
    shared = sharedCluster();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'airlock-upstream-'));
    process.env[WRONG_ENV] = WRONG_PASSWORD;
    delete process.env[UNSET_ENV];
    const started = await Promise.allSettled([
      startCluster({ hostAuth: 'md5', settings: { ssl: 'off' } }),
      startCluster({ hostAuth: 'password', settings: { listen_addresses: '127.0.0.1,127.0.0.2' } }),
    ]);
    const ok = started.map((s) => (s.status === 'fulfilled' ? s.value : null));
    [plain, twoAddr] = ok as PostgresCluster[];
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    for (const c of [shared, plain, twoAddr]) secrets.push(c.password);
    // A trust rule for one role, ahead of the md5 rule for everyone.
    const hba = path.join(plain.dir, 'data', 'pg_hba.conf');
    await writeFile(hba, `host all trustme 127.0.0.1/32 trust\n${await readFile(hba, 'utf8')}`);
    await plain.client('psql', ['-h', plain.dir, '-d', 'postgres', '-c', 'create role trustme login']);
    await plain.client('psql', ['-h', plain.dir, '-d', 'postgres', '-c', 'select pg_reload_conf()']);
  });

  after(async () => {
    await Promise.all(proxies.map((p) => p.close().catch(() => undefined)));
    await Promise.all([plain, twoAddr].map((c) => c?.stop()));
    delete process.env[WRONG_ENV];
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function proxy(
    cluster: PostgresCluster,
    options: { sslmode?: string; connection?: Partial<ConnectionConfig> } = {},
  ): Promise<ProxyUnderTest> {
    const p = await proxyFor(cluster, options);
    proxies.push(p);
    return p;
  }

  /** Connects through `p` and runs `fn`, always closing the client. */
  async function through<T>(p: ProxyUnderTest, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = await p.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  /** The error a client gets when connecting through `p`; fails if the connection succeeds. */
  async function refusal(
    p: ProxyUnderTest,
    why = 'the connection through the proxy succeeded',
  ): Promise<DatabaseError> {
    const err = await p.connect().then(
      async (c) => {
        await c.end();
        return assert.fail(why);
      },
      (e: DatabaseError) => e,
    );
    assertNoSecrets(err);
    return err;
  }

  /** No upstream password (right or wrong) appears anywhere in what the client got. */
  function assertNoSecrets(err: DatabaseError): void {
    const seen = [err.message, err.detail, err.hint, err.where, JSON.stringify(err)].join('\n');
    for (const s of secrets) assert.ok(!seen.includes(s), 'an upstream password is visible to the client');
  }

  describe('sslmode', () => {
    it('disable: the upstream session is not encrypted', async () => {
      const p = await proxy(shared, { sslmode: 'disable' });
      assert.deepEqual(await through(p, facts), { user: 'postgres', ssl: false });
    });

    it('prefer: TLS against a TLS server, plain against a server with ssl = off', async () => {
      assert.deepEqual(await through(await proxy(shared, { sslmode: 'prefer' }), facts), {
        user: 'postgres',
        ssl: true,
      });
      assert.deepEqual(await through(await proxy(plain, { sslmode: 'prefer' }), facts), {
        user: 'postgres',
        ssl: false,
      });
    });

    it('prefer is the default when the URL names no sslmode', async () => {
      const p = await proxy(shared, {
        connection: { upstream: `postgres://${shared.user}@${shared.host}:${shared.port}/postgres` },
      });
      assert.equal((await through(p, facts)).ssl, true);
    });

    it('require: TLS against a TLS server; a server with ssl = off is refused with an SSL error', async () => {
      assert.deepEqual(await through(await proxy(shared, { sslmode: 'require' }), facts), {
        user: 'postgres',
        ssl: true,
      });
      const err = await refusal(await proxy(plain, { sslmode: 'require' }));
      assert.equal(err.code, '08001');
      assert.equal(err.severity, 'FATAL');
      assert.match(err.message, /SSL/);
      assert.match(err.message, /sslmode=require/);
    });

    it('verify-ca with the CA that signed the server certificate works', async () => {
      const p = await proxy(shared, { sslmode: 'verify-ca' });
      assert.deepEqual(await through(p, facts), { user: 'postgres', ssl: true });
    });

    it('verify-ca with a different CA is refused with a clear certificate error', async () => {
      const p = await proxy(shared, {
        connection: { upstream: upstreamUrl(shared, `sslmode=verify-ca&sslrootcert=${enc(twoAddr.caFile)}`) },
      });
      const err = await refusal(p);
      assert.equal(err.code, '08001');
      assert.match(err.message, /upstream TLS failed \(sslmode=verify-ca\)/);
      assert.match(err.message, /certificate/i);
      assert.match(err.hint ?? '', /sslrootcert/);
    });

    it('verify-ca without sslrootcert checks against the system CAs, which do not know the test CA', async () => {
      const p = await proxy(shared, { connection: { upstream: upstreamUrl(shared, 'sslmode=verify-ca') } });
      const err = await refusal(p);
      assert.equal(err.code, '08001');
      assert.match(err.message, /sslmode=verify-ca/);
    });

    it('verify-ca against a server with ssl = off is refused', async () => {
      const p = await proxy(plain, { sslmode: 'verify-ca' });
      const err = await refusal(p);
      assert.equal(err.code, '08001');
      assert.match(err.message, /does not support SSL/);
    });

    it('verify-full with host 127.0.0.1 (IP SAN) and with host localhost (DNS SAN) works', async () => {
      const byIp = await proxy(shared, { sslmode: 'verify-full' });
      assert.deepEqual(await through(byIp, facts), { user: 'postgres', ssl: true });
      const byName = await proxy(shared, {
        connection: {
          upstream: upstreamUrl(shared, `sslmode=verify-full&sslrootcert=${enc(shared.caFile)}`, 'localhost'),
        },
      });
      assert.deepEqual(await through(byName, facts), { user: 'postgres', ssl: true });
    });

    it('verify-full refuses a host name that is not in the certificate (127.0.0.2), verify-ca accepts it', async () => {
      const root = `sslrootcert=${enc(twoAddr.caFile)}`;
      // The same server, reached at an address its certificate does not name.
      const full = await proxy(twoAddr, {
        connection: { upstream: upstreamUrl(twoAddr, `sslmode=verify-full&${root}`, '127.0.0.2') },
      });
      const err = await refusal(
        full,
        'sslmode=verify-full accepted upstream 127.0.0.2 although its certificate names only 127.0.0.1 and localhost',
      );
      assert.equal(err.code, '08001');
      assert.match(err.message, /sslmode=verify-full/);
      assert.match(err.message, /127\.0\.0\.2/);
      // verify-ca checks the chain only, so the same target is accepted …
      const ca = await proxy(twoAddr, {
        connection: { upstream: upstreamUrl(twoAddr, `sslmode=verify-ca&${root}`, '127.0.0.2') },
      });
      assert.deepEqual(await through(ca, facts), { user: 'postgres', ssl: true });
      // … and verify-full accepts the address the certificate does name.
      const named = await proxy(twoAddr, {
        connection: { upstream: upstreamUrl(twoAddr, `sslmode=verify-full&${root}`) },
      });
      assert.deepEqual(await through(named, facts), { user: 'postgres', ssl: true });
    });
  });

  describe('authentication methods the server asks for', () => {
    /** The pg_hba method that applies to `user` from 127.0.0.1, as the server reports it. */
    async function hostAuthMethod(cluster: PostgresCluster, user: string): Promise<string> {
      const { stdout } = await cluster.client('psql', [
        '-h',
        cluster.dir,
        '-d',
        'postgres',
        '-XAtc',
        `select auth_method from pg_hba_file_rules where type = 'host' and (user_name = '{all}' or '${user}' = any(user_name)) order by line_number limit 1`,
      ]);
      return stdout.trim();
    }

    for (const method of ['scram-sha-256', 'md5', 'password'] as const) {
      it(`${method}: a client gets through`, async () => {
        const cluster = byAuth(method);
        assert.equal(
          await hostAuthMethod(cluster, 'postgres'),
          method,
          'the test cluster is not configured as intended',
        );
        const p = await proxy(cluster, { sslmode: sslFor(method) });
        assert.deepEqual(await through(p, facts), { user: 'postgres', ssl: method !== 'md5' });
      });
    }

    it('trust: a client gets through with no upstream password configured', async () => {
      assert.equal(await hostAuthMethod(plain, 'trustme'), 'trust');
      const p = await proxy(plain, {
        connection: {
          upstream: `postgres://trustme@${plain.host}:${plain.port}/postgres?sslmode=prefer`,
          passwordEnv: undefined,
        },
      });
      assert.deepEqual(await through(p, facts), { user: 'trustme', ssl: false });
    });

    for (const method of ['scram-sha-256', 'md5', 'password'] as const) {
      it(`${method}: a wrong upstream password reaches the client as the server's 28P01`, async () => {
        const cluster = byAuth(method);
        const p = await proxy(cluster, { sslmode: sslFor(method), connection: { passwordEnv: WRONG_ENV } });
        const err = await refusal(p);
        assert.equal(err.code, '28P01');
        assert.equal(err.severity, 'FATAL');
        assert.match(err.message, /password authentication failed for user "postgres"/);
      });
    }

    it('reads the upstream password from passwordFile (trailing newline stripped)', async () => {
      const file = path.join(tmp, 'pw');
      await writeFile(file, shared.password + '\n', { mode: 0o600 });
      const p = await proxy(shared, { connection: { passwordEnv: undefined, passwordFile: file } });
      assert.equal((await through(p, facts)).user, 'postgres');
    });

    it('a passwordFile that cannot be read: an error naming the file and the reason', async () => {
      const missing = path.join(tmp, 'no-such-password-file');
      const err = await refusal(
        await proxy(shared, { connection: { passwordEnv: undefined, passwordFile: missing } }),
      );
      assert.equal(err.code, '28P01');
      assert.match(
        err.message,
        new RegExp(`from ${missing} \\(passwordFile\\), which cannot be read: ENOENT`),
      );
      assert.match(err.hint ?? '', /0600/);
    });

    for (const method of ['scram-sha-256', 'md5', 'password'] as const) {
      it(`${method}: no configured password → an error telling to set passwordEnv or passwordFile`, async () => {
        const unconfigured = await refusal(
          await proxy(byAuth(method), { sslmode: sslFor(method), connection: { passwordEnv: undefined } }),
        );
        assert.equal(unconfigured.code, '28P01');
        assert.match(unconfigured.message, /no password is configured/);
        assert.match(`${unconfigured.message}\n${unconfigured.hint ?? ''}`, /passwordEnv[\s\S]*passwordFile/);
        // Configured, but the variable is not set where Airlock runs: the error names it and the process.
        const unset = await refusal(
          await proxy(byAuth(method), { sslmode: sslFor(method), connection: { passwordEnv: UNSET_ENV } }),
        );
        assert.equal(unset.code, '28P01');
        assert.match(
          unset.message,
          new RegExp(`environment variable ${UNSET_ENV} \\(passwordEnv\\), which is not set`),
        );
        assert.match(unset.message, new RegExp(`pid ${process.pid}`));
        assert.match(unset.hint ?? '', /before VS Code starts[\s\S]*passwordFile/);
      });
    }

    it('an unreachable upstream (closed port) fails quickly with 08001 naming the address', async () => {
      const port = await freePort();
      const p = await proxy(shared, {
        connection: { upstream: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=require` },
      });
      const started = Date.now();
      const err = await refusal(p);
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      assert.equal(err.code, '08001');
      assert.equal(err.severity, 'FATAL');
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(err.message, /unreachable/);
    });
  });

  describe('TLS between the client and the proxy', () => {
    let withTls: ProxyUnderTest;
    let withoutTls: ProxyUnderTest;
    const conninfo = (p: ProxyUnderTest, extra: string) =>
      `host=${p.endpoint.host} port=${p.endpoint.port} user=${p.endpoint.user} dbname=${p.endpoint.database} ${extra}`;

    before(async () => {
      withTls = await proxy(shared, {
        connection: {
          tls: { cert: path.join(shared.dir, 'server.crt'), key: path.join(shared.dir, 'server.key') },
        },
      });
      withoutTls = await proxy(shared);
    });

    it('node-postgres with rejectUnauthorized and the CA connects over TLS', async () => {
      const c = await withTls.connect({
        ssl: { rejectUnauthorized: true, ca: readFileSync(shared.caFile, 'utf8') },
      });
      try {
        const stream = (c as unknown as { connection: { stream: tls.TLSSocket } }).connection.stream;
        assert.equal(stream.encrypted, true, 'the client connection is not encrypted');
        assert.match(String(stream.getProtocol()), /^TLSv1\.[23]$/);
        assert.deepEqual(await facts(c), { user: 'postgres', ssl: true });
      } finally {
        await c.end();
      }
    });

    it('psql with sslmode=verify-full connects over TLS, by IP and by name', async () => {
      for (const host of ['127.0.0.1', 'localhost']) {
        const r = await runProgram(
          shared,
          'psql',
          [
            conninfo(withTls, `host=${host} sslmode=verify-full sslrootcert=${shared.caFile}`),
            '-X',
            '-c',
            '\\conninfo',
            '-Atc',
            'select 1',
          ],
          { PGPASSWORD: withTls.endpoint.password },
        );
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /SSL connection \(protocol: TLSv1\.[23]/);
        assert.match(r.stdout, /^1$/m);
      }
    });

    it('without client TLS configured, sslmode=require fails clearly and sslmode=prefer falls back to plain', async () => {
      const required = await runProgram(
        shared,
        'psql',
        [conninfo(withoutTls, 'sslmode=require'), '-X', '-Atc', 'select 1'],
        {
          PGPASSWORD: withoutTls.endpoint.password,
        },
      );
      assert.notEqual(required.code, 0);
      assert.match(required.stderr, /server does not support SSL, but SSL was required/);

      const preferred = await runProgram(
        shared,
        'psql',
        [conninfo(withoutTls, 'sslmode=prefer'), '-X', '-c', '\\conninfo', '-Atc', 'select 1'],
        { PGPASSWORD: withoutTls.endpoint.password },
      );
      assert.equal(preferred.code, 0, preferred.stderr);
      assert.doesNotMatch(preferred.stdout, /SSL connection/);
      assert.match(preferred.stdout, /^1$/m);

      const err = await withoutTls.connect({ ssl: { rejectUnauthorized: false } }).then(
        async (c) => {
          await c.end();
          return assert.fail('node-postgres with ssl connected to a proxy without TLS');
        },
        (e: Error) => e,
      );
      assert.match(err.message, /does not support SSL/);
    });
  });
});
