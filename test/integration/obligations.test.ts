import assert from 'node:assert/strict';
import pg from 'pg';
import type { NoticeMessage } from 'pg-protocol/dist/messages';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import {
  directPg,
  dropDatabase,
  freshDatabase,
  proxiedPsqlEnv,
  psql,
  rejection,
  tempPolicy,
} from '../helpers/policy-fixtures';

/**
 * Obligations of an allowing rule, enforced on the result stream: maxRows (truncate with a notice, or fail
 * with 54000) and statementTimeout (the upstream statement is cancelled; 57014 naming the policy).
 */
const DB = 'obligations_test';

const SCHEMA = `
create table t (id int primary key, v text);
insert into t select g, 'v' || g from generate_series(1, 100) g;
`;

const policyYaml = (name: string, readRule: string) => `
version: 1
name: ${name}
rules:
${readRule}
  - name: session-and-transactions
    effect: allow
    when:
      kinds: [session, transaction]
`;

const TRUNCATE = policyYaml(
  'obligations-truncate',
  `  - name: capped-reads
    effect: allow
    when:
      kinds: [read]
    obligations:
      maxRows: 5`,
);

const ERROR = policyYaml(
  'obligations-error',
  `  - name: capped-reads-strict
    effect: allow
    when:
      kinds: [read]
    obligations:
      maxRows: 5
      onExceed: error`,
);

// pg_sleep is in the 'sleep' danger category: the rule has to permit it by name.
const TIMEOUT = policyYaml(
  'obligations-timeout',
  `  - name: reads-with-deadline
    effect: allow
    when:
      kinds: [read]
      functions: [pg_sleep]
    obligations:
      statementTimeout: 1s`,
);

/** Starts a proxy with a policy written to a temp file. */
async function proxyWithPolicy(name: string, yaml: string) {
  const policy = await tempPolicy(name, yaml);
  const p = await proxyFor(sharedCluster(), {
    database: DB,
    config: { policy: policy.file, allowUnsignedPolicy: true },
  });
  return {
    p,
    close: async () => {
      await p.close();
      await policy.dispose();
    },
  };
}

const values = (r: pg.QueryResult) =>
  r.rows.map((row: Record<string, unknown>) => Number(Object.values(row)[0]));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('obligations', function () {
  this.timeout(60_000);
  before(() => freshDatabase(sharedCluster(), DB, SCHEMA));
  after(() => dropDatabase(sharedCluster(), DB));

  describe('maxRows: 5 (truncate)', () => {
    let env: { p: ProxyUnderTest; close: () => Promise<void> };
    let client: pg.Client;
    const notices: NoticeMessage[] = [];
    before(async () => {
      env = await proxyWithPolicy('truncate', TRUNCATE);
      client = await env.p.connect();
      client.on('notice', (n) => notices.push(n));
    });
    after(async () => {
      await client?.end();
      await env?.close();
    });
    beforeEach(() => {
      notices.length = 0;
    });

    it('cuts a 100-row result to 5 rows, says so in a NOTICE, and the command tag says 5', async () => {
      const r = await client.query('SELECT * FROM generate_series(1, 100) AS g');
      assert.deepEqual(values(r), range(1, 5));
      assert.equal(r.command, 'SELECT');
      assert.equal(r.rowCount, 5);
      assert.equal(notices.length, 1);
      assert.match(notices[0].message ?? '', /truncated to 5 of 100 rows/);
      assert.equal(notices[0].detail, 'Rule: capped-reads');
    });

    it('the session continues normally: later results are whole, with no notice', async () => {
      await client.query('SELECT * FROM generate_series(1, 100)');
      notices.length = 0;
      assert.deepEqual((await client.query('select 42 as x')).rows, [{ x: 42 }]);
      const r = await client.query('SELECT * FROM generate_series(1, 3)');
      assert.deepEqual(values(r), [1, 2, 3]);
      assert.equal(r.rowCount, 3);
      assert.deepEqual(notices, []);
    });

    it('a result of exactly the limit is not truncated', async () => {
      const r = await client.query('select id from t where id <= 5 order by id');
      assert.deepEqual(values(r), range(1, 5));
      assert.equal(r.rowCount, 5);
      assert.deepEqual(notices, []);
    });

    it('applies to table reads too', async () => {
      const r = await client.query('select id, v from t order by id');
      assert.deepEqual(
        r.rows,
        range(1, 5).map((i) => ({ id: i, v: `v${i}` })),
      );
      assert.equal(r.rowCount, 5);
      assert.equal(notices.length, 1);
    });

    it('extended protocol with a parameter is cut to 5 as well, every execution', async () => {
      const r = await client.query('SELECT * FROM generate_series(1, $1::int) AS g', [100]);
      assert.deepEqual(values(r), range(1, 5));
      assert.equal(r.rowCount, 5);
      const named = { name: 'series', text: 'SELECT * FROM generate_series(1, $1::int) AS g' };
      for (const n of [50, 7]) {
        const rn = await client.query({ ...named, values: [n] });
        assert.deepEqual(values(rn), range(1, 5));
        assert.equal(rn.rowCount, 5);
      }
      assert.equal(notices.length, 3);
      assert.match(notices[0].message ?? '', /truncated to 5 of 100 rows/);
      assert.match(notices[2].message ?? '', /truncated to 5 of 7 rows/);
    });

    it('psql: 5 rows, the NOTICE on stderr', async () => {
      const r = await psql(sharedCluster(), proxiedPsqlEnv(env.p), [
        '-At',
        '-c',
        'SELECT * FROM generate_series(1, 100)',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '1\n2\n3\n4\n5\n');
      assert.match(r.stderr, /NOTICE: {2}airlock: result truncated to 5 of 100 rows/);
    });

    it('psql: several statements in one Query are each limited separately', async () => {
      const r = await psql(sharedCluster(), proxiedPsqlEnv(env.p), [
        '-At',
        '-c',
        'select * from generate_series(1,10); select * from generate_series(1,3); select * from generate_series(101,107)',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, [...range(1, 5), 1, 2, 3, ...range(101, 105)].map((n) => `${n}\n`).join(''));
      const truncations = r.stderr.match(/NOTICE: {2}airlock: result truncated to 5 of \d+ rows/g) ?? [];
      assert.deepEqual(truncations, [
        'NOTICE:  airlock: result truncated to 5 of 10 rows',
        'NOTICE:  airlock: result truncated to 5 of 7 rows',
      ]);
    });

    it('psql \\copy (query) to stdout is cut to 5 lines', async () => {
      const r = await psql(sharedCluster(), proxiedPsqlEnv(env.p), [
        '-c',
        '\\copy (select generate_series(1,100)) to stdout',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '1\n2\n3\n4\n5\n');
      assert.match(r.stderr, /NOTICE: {2}airlock: result truncated to 5 of 100 rows/);
    });

    it('a cursor FETCH is limited per FETCH', async () => {
      await client.query('BEGIN');
      try {
        await client.query('DECLARE c CURSOR FOR SELECT * FROM generate_series(1, 100)');
        const r = await client.query('FETCH 20 FROM c');
        assert.deepEqual(values(r), range(1, 5));
        assert.equal(r.rowCount, 5);
      } finally {
        await client.query('ROLLBACK');
      }
    });
  });

  describe('maxRows: 5, onExceed: error', () => {
    /** Rows enough that the server is still sending them when the proxy cancels the statement. */
    const STREAMING = 3_000_000;
    let env: { p: ProxyUnderTest; close: () => Promise<void> };
    before(async () => {
      env = await proxyWithPolicy('error', ERROR);
    });
    after(() => env?.close());

    it('a result over the limit fails with 54000 naming the limit, and the next query works', async () => {
      const c = await env.p.connect();
      try {
        const err = await rejection(c.query('SELECT * FROM generate_series(1, 100)'), 'over the limit');
        assert.equal(err.code, '54000', err.message);
        assert.match(err.message, /limit of 5/);
        assert.equal(err.detail, 'Rule: capped-reads-strict');
        assert.deepEqual((await c.query('select 42 as x')).rows, [{ x: 42 }]);
        const ok = await c.query('SELECT * FROM generate_series(1, 5)');
        assert.deepEqual(values(ok), range(1, 5));
      } finally {
        await c.end();
      }
    });

    it('through the extended protocol too', async () => {
      const c = await env.p.connect();
      try {
        const err = await rejection(
          c.query('SELECT * FROM generate_series(1, $1::int)', [6]),
          'over the limit',
        );
        assert.equal(err.code, '54000', err.message);
        assert.deepEqual(
          values(await c.query('SELECT * FROM generate_series(1, $1::int)', [4])),
          range(1, 4),
        );
      } finally {
        await c.end();
      }
    });

    // An ERROR ends a Query: PostgreSQL never runs (or returns) the statements after a failed one. A result
    // still streaming when the limit is passed is cancelled upstream, so the server itself fails it.
    it('after the 54000, the rest of a multi-statement Query does not run, as after any error', async () => {
      const r = await psql(sharedCluster(), proxiedPsqlEnv(env.p), [
        '-At',
        '-c',
        `SELECT * FROM generate_series(1, ${STREAMING}); SELECT 'second statement ran'`,
      ]);
      assert.match(r.stderr, /ERROR: {2}airlock: the result exceeds the policy's limit of 5 rows/);
      assert.doesNotMatch(r.stdout, /second statement ran/);
    });

    // Truthful transaction state: a statement that failed inside BEGIN leaves the block failed (25P02).
    it('a 54000 inside BEGIN leaves the transaction aborted, as any failed statement does', async () => {
      const c = await env.p.connect();
      try {
        await c.query('BEGIN');
        await assert.rejects(c.query(`SELECT * FROM generate_series(1, ${STREAMING})`), { code: '54000' });
        const next = await rejection(c.query('select 1 as after_error'), 'the statement after the 54000');
        assert.equal(next.code, '25P02', next.message);
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.end();
      }
    });

    it('psql reports the error and exits 1 with ON_ERROR_STOP', async () => {
      const r = await psql(sharedCluster(), proxiedPsqlEnv(env.p), [
        '-At',
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        'SELECT * FROM generate_series(1, 100)',
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /ERROR: {2}airlock: the result exceeds the policy's limit of 5 rows/);
    });
  });

  describe('statementTimeout: 1s', () => {
    let env: { p: ProxyUnderTest; close: () => Promise<void> };
    let direct: pg.Client;
    before(async () => {
      env = await proxyWithPolicy('timeout', TIMEOUT);
      direct = await directPg(sharedCluster(), DB);
    });
    after(async () => {
      await direct?.end();
      await env?.close();
    });

    const activeSleeps = async (marker: string) =>
      (
        await direct.query(
          "select count(*)::int as n from pg_stat_activity where state = 'active' and query like $1",
          [`%${marker}%`],
        )
      ).rows[0].n as number;

    it('select pg_sleep(5) fails within ~2 s with 57014 from Airlock, the server stops it, the session goes on', async () => {
      const c = await env.p.connect();
      try {
        const started = Date.now();
        const err = await rejection(c.query('select pg_sleep(5) as slow_one_marker'), 'pg_sleep(5)');
        const ms = Date.now() - started;
        assert.equal(err.code, '57014', err.message);
        assert.match(err.message, /^airlock: statement exceeded the policy's timeout of 1s/);
        assert.equal(err.detail, 'Rule: reads-with-deadline');
        assert.ok(ms >= 900 && ms < 2500, `failed after ${ms} ms`);
        assert.equal(await activeSleeps('slow_one_marker'), 0, 'the statement is still running upstream');
        assert.deepEqual((await c.query('select 1 as one')).rows, [{ one: 1 }]);
      } finally {
        await c.end();
      }
    });

    it('fast statements under the same rule are unaffected, also back to back past the timeout in total', async () => {
      const c = await env.p.connect();
      try {
        const started = Date.now();
        assert.deepEqual((await c.query('select pg_sleep(0.1)::text as s, 2 as two')).rows, [
          { s: '', two: 2 },
        ]);
        for (let i = 0; i < 3; i++) await c.query('select pg_sleep(0.6)');
        assert.ok(Date.now() - started > 1000, 'the statements together should outlast one timeout');
        assert.deepEqual((await c.query('select count(*)::int as n from t')).rows, [{ n: 100 }]);
      } finally {
        await c.end();
      }
    });

    it('through the extended protocol too', async () => {
      const c = await env.p.connect();
      try {
        const started = Date.now();
        const err = await rejection(c.query('select pg_sleep($1) as slow_two_marker', [5]), 'pg_sleep($1)');
        const ms = Date.now() - started;
        assert.equal(err.code, '57014', err.message);
        assert.match(err.message, /timeout of 1s/);
        assert.ok(ms >= 900 && ms < 2500, `failed after ${ms} ms`);
        assert.deepEqual((await c.query('select $1::int as x', [7])).rows, [{ x: 7 }]);
      } finally {
        await c.end();
      }
    });

    it('psql shows the Airlock timeout error', async () => {
      const started = Date.now();
      const r = await psql(sharedCluster(), proxiedPsqlEnv(env.p), ['-c', 'select pg_sleep(5)']);
      const ms = Date.now() - started;
      assert.equal(r.code, 1);
      assert.match(r.stderr, /ERROR: {2}airlock: statement exceeded the policy's timeout of 1s/);
      assert.ok(ms < 4000, `psql took ${ms} ms`);
    });
  });
});
