import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import {
  createDatabase,
  directClientConfig,
  directSql,
  dropDatabase,
  proxiedClientConfig,
  waitFor,
} from '../helpers/clients';

/**
 * node-postgres through the proxy: the extended protocol in all its uses (parameters, named statements,
 * binary formats, row-limited portals, pipelining), asynchronous messages (notices, notifications,
 * parameter changes), errors and transactions, and large messages in both directions. Where a result
 * is not fixed by the data the test inserts, it is compared with the same query run directly.
 */
const DB = 'node_pg_compat';

type Side = 'direct' | 'proxied';

/** node-postgres keeps the BackendKeyData it received on the client (not in @types/pg). */
const keyOf = (c: pg.Client) => c as pg.Client & { processID: number; secretKey: number };

/** Query options node-postgres supports but @types/pg does not declare. */
type ExtraQueryConfig = pg.QueryConfig & { queryMode?: 'extended'; rows?: number };
const q = (config: ExtraQueryConfig) => config as pg.QueryConfig;

describe('node-postgres through the proxy', function () {
  let p: ProxyUnderTest;
  const open: pg.Client[] = [];

  before(async () => {
    await createDatabase(sharedCluster(), DB);
    await directSql(
      sharedCluster(),
      DB,
      `create table kv (k text primary key, v int not null);
       create table types_t (
         id serial primary key, i8 int8, num numeric, ts timestamptz, d date, f8 float8, flag bool, u uuid,
         iv interval, j json, jb jsonb, ia int[], ta text[], b bytea, t text
       );
       create table blob_t (id int primary key, b bytea);`,
    );
    p = await proxyFor(sharedCluster(), { database: DB });
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.end().catch(() => undefined)));
  });

  after(async () => {
    await p?.close();
    await dropDatabase(sharedCluster(), DB);
  });

  function config(side: Side, extra: Partial<pg.ClientConfig> = {}): pg.ClientConfig {
    return side === 'direct' ? directClientConfig(sharedCluster(), DB, extra) : proxiedClientConfig(p, extra);
  }

  /** A client that is ended after the test; `setup` runs before connect (to attach listeners). */
  async function connect(
    side: Side,
    extra: Partial<pg.ClientConfig> = {},
    setup?: (c: pg.Client) => void,
  ): Promise<pg.Client> {
    const c = new pg.Client(config(side, extra));
    c.on('error', () => undefined);
    open.push(c);
    setup?.(c);
    await c.connect();
    return c;
  }

  /** Runs `fn` directly and through the proxy; the results must be deep-equal. Returns the direct one. */
  async function sameBothWays<T>(
    fn: (c: pg.Client, side: Side) => Promise<T>,
    extra: Partial<pg.ClientConfig> = {},
  ): Promise<T> {
    const d = await fn(await connect('direct', extra), 'direct');
    const x = await fn(await connect('proxied', extra), 'proxied');
    assert.deepEqual(x, d);
    return d;
  }

  /** The parts of an error a client acts on. */
  function errorShape(err: unknown): Record<string, unknown> {
    const e = err as pg.DatabaseError;
    return {
      name: e.name,
      message: e.message,
      severity: e.severity,
      code: e.code,
      detail: e.detail,
      hint: e.hint,
      position: e.position,
      where: e.where,
      schema: e.schema,
      table: e.table,
      column: e.column,
      constraint: e.constraint,
      routine: e.routine,
    };
  }

  async function failure(promise: Promise<unknown>): Promise<Record<string, unknown>> {
    try {
      await promise;
    } catch (err) {
      return errorShape(err);
    }
    throw new Error('expected the query to fail');
  }

  function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      promise.finally(() => clearTimeout(timer)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      }),
    ]);
  }

  describe('extended protocol', () => {
    it('parameterized queries return the values sent', async () => {
      const c = await connect('proxied');
      const r = await c.query(
        'select $1::int + 1 as n, $2::text as s, $3::text is null as isnull, $4::bool as b',
        [41, 'héllo 🚀', null, true],
      );
      assert.deepEqual(r.rows, [{ n: 42, s: 'héllo 🚀', isnull: true, b: true }]);
      assert.deepEqual(
        r.fields.map((f) => [f.name, f.dataTypeID]),
        [
          ['n', 23],
          ['s', 25],
          ['isnull', 16],
          ['b', 16],
        ],
      );
      // Explicitly extended even without parameters.
      const e = await c.query(q({ text: "select 'x' as v", queryMode: 'extended' }));
      assert.deepEqual(e.rows, [{ v: 'x' }]);
    });

    it('a named prepared statement is parsed once on the server and reused many times', async () => {
      const c = await connect('proxied');
      for (let i = 0; i < 300; i++) {
        const r = await c.query({
          name: 'double_it',
          text: 'select $1::int * 2 as v, $2::text as t',
          values: [i, `n${i}`],
        });
        assert.deepEqual(r.rows, [{ v: i * 2, t: `n${i}` }]);
      }
      const ps = await c.query(
        "select name, statement, parameter_types::text from pg_prepared_statements where name = 'double_it'",
      );
      assert.deepEqual(ps.rows, [
        {
          name: 'double_it',
          statement: 'select $1::int * 2 as v, $2::text as t',
          parameter_types: '{integer,text}',
        },
      ]);
      // Writes through a prepared statement land in the table (checked directly).
      for (let i = 0; i < 50; i++) {
        await c.query({
          name: 'put',
          text: 'insert into kv values ($1, $2) on conflict (k) do update set v = excluded.v',
          values: [`prep-${i % 10}`, i],
        });
      }
      const direct = await directSql(
        sharedCluster(),
        DB,
        "select string_agg(k || '=' || v, ',' order by k) from kv where k like 'prep-%'",
      );
      assert.equal(
        direct.stdout.trim(),
        Array.from({ length: 10 }, (_, k) => `prep-${k}=${40 + k}`).join(','),
      );
    });

    it('a Buffer parameter is sent in binary format and stored byte for byte', async () => {
      const c = await connect('proxied');
      const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const big = randomBytes(2 * 1024 * 1024 + 13);
      await c.query('insert into blob_t values ($1, $2), ($3, $4)', [1, every, 2, big]);
      const r = await c.query('select id, b, md5(b) as md5, length(b) as len from blob_t order by id');
      assert.ok(Buffer.isBuffer(r.rows[0].b));
      assert.ok((r.rows[0].b as Buffer).equals(every));
      assert.equal(r.rows[0].md5, createHash('md5').update(every).digest('hex'));
      assert.ok((r.rows[1].b as Buffer).equals(big));
      assert.equal(r.rows[1].md5, createHash('md5').update(big).digest('hex'));
      assert.equal(r.rows[1].len, big.length);
      // A binary parameter of a non-bytea type: the int4 300 in network byte order.
      const n = await c.query('select $1::int4 + 0 as n', [Buffer.from([0, 0, 1, 44])]);
      assert.deepEqual(n.rows, [{ n: 300 }]);
    });

    it('results in binary format (binary: true) decode to the same values as direct', async () => {
      // Values whose binary encodings survive node-postgres's text decoding of DataRow fields.
      const binaryQuery = {
        text: `select 7::int4 as i4, 3::int2 as i2, 42::int8 as i8, true as b, 'plain text ✓'::text as t,
                      array[1, 2, 3]::int4[] as arr, $1::int4 as p
               from generate_series(1, 3)`,
        values: [5],
        binary: true,
      };
      const rows = await sameBothWays(async (c) => {
        const r = await c.query(binaryQuery);
        return { rows: r.rows, formats: r.fields.map((f) => f.format) };
      });
      assert.deepEqual(rows.formats, Array(7).fill('binary'));
      assert.deepEqual(rows.rows[0], {
        i4: 7,
        i2: 3,
        i8: '42',
        b: true,
        t: 'plain text ✓',
        arr: [1, 2, 3],
        p: 5,
      });
      assert.equal(rows.rows.length, 3);
    });

    it('a row-limited portal (Execute with a row count, Flush, PortalSuspended) returns every row', async () => {
      const c = await connect('proxied');
      const r = await c.query(q({ text: 'select g from generate_series(1, 95) g', rows: 10 }));
      assert.deepEqual(
        r.rows.map((x: { g: number }) => x.g),
        Array.from({ length: 95 }, (_, i) => i + 1),
      );
      const after = await c.query('select 1 as ok');
      assert.deepEqual(after.rows, [{ ok: 1 }]);
    });

    it('many types round trip as they do directly', async () => {
      const values = [
        '9223372036854775807',
        '-12345678901234567890.123456789',
        new Date('2024-02-29T12:34:56.789Z'),
        '2024-02-29',
        Math.PI,
        false,
        '0f8c2f0e-8a4a-4b5d-9a3e-2f1d2c3b4a59',
        '1 year 2 mons 3 days 04:05:06.789',
        JSON.stringify({ a: [1, 'two', { b: null }], s: 'é🚀' }),
        JSON.stringify({ z: 1, a: { nested: [true, false, null] }, s: 'Zoë' }),
        [1, null, -3],
        ['a', 'b,c', '"q"', null, '🚀', ''],
        Buffer.from([0, 1, 2, 253, 254, 255, 92, 39]),
        'Zoë 🚀 漢字\ttab\nnewline \\ backslash \'quote\' "dq"',
      ];
      const insert =
        'insert into types_t (i8, num, ts, d, f8, flag, u, iv, j, jb, ia, ta, b, t) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) returning id';
      const c = await connect('proxied');
      const { rows } = await c.query(insert, values);
      const id = rows[0].id as number;
      const select =
        'select i8, num, ts, d::text as d, f8, flag, u, iv::text as iv, j, jb, ia, ta, b, t, iv as iv_obj from types_t where id = $1';
      const proxied = (await c.query(select, [id])).rows[0];
      assert.equal(proxied.i8, values[0]);
      assert.equal(proxied.num, values[1]);
      assert.equal((proxied.ts as Date).toISOString(), (values[2] as Date).toISOString());
      assert.equal(proxied.d, values[3]);
      assert.equal(proxied.f8, values[4]);
      assert.equal(proxied.flag, values[5]);
      assert.equal(proxied.u, values[6]);
      assert.equal(proxied.iv, values[7]);
      assert.deepEqual(proxied.j, JSON.parse(values[8] as string));
      assert.deepEqual(proxied.jb, JSON.parse(values[9] as string));
      assert.deepEqual(proxied.ia, values[10]);
      assert.deepEqual(proxied.ta, values[11]);
      assert.ok((proxied.b as Buffer).equals(values[12] as Buffer));
      assert.equal(proxied.t, values[13]);
      // The same row read directly decodes identically (simple and extended protocol).
      const d = await connect('direct');
      assert.deepEqual((await d.query(select, [id])).rows[0], proxied);
      const simple = `select i8, num, ts, d::text as d, f8, flag, u, iv::text as iv, j, jb, ia, ta, b, t, iv as iv_obj from types_t where id = ${id}`;
      assert.deepEqual((await c.query(simple)).rows[0], (await d.query(simple)).rows[0]);
    });

    it('text with every kind of Unicode round trips unchanged', async () => {
      const c = await connect('proxied');
      const samples = [
        '',
        'ascii',
        'Zoë',
        '漢字かなカナ',
        '🚀👩‍👩‍👧‍👦🏳️‍🌈',
        'עברית العربية',
        '\u00a0\u2028\u2029',
        'x'.repeat(100_000) + '✓',
      ];
      for (const s of samples) {
        const r = await c.query(
          'select $1::text as s, length($1::text) as n, octet_length($1::text) as bytes',
          [s],
        );
        assert.equal(r.rows[0].s, s);
        assert.equal(r.rows[0].bytes, Buffer.byteLength(s));
        assert.equal(r.rows[0].n, [...s].length);
      }
    });
  });

  describe('asynchronous messages', () => {
    function waitForNotification(c: pg.Client, channel: string): Promise<pg.Notification> {
      return withTimeout(
        new Promise((resolve) => {
          const on = (n: pg.Notification) => {
            if (n.channel === channel) {
              c.off('notification', on);
              resolve(n);
            }
          };
          c.on('notification', on);
        }),
        5000,
        `a notification on ${channel}`,
      );
    }

    it('LISTEN/NOTIFY across two proxied clients delivers the payload', async () => {
      const listener = await connect('proxied');
      const notifier = await connect('proxied');
      await listener.query('LISTEN "Chan ✓"');
      const got = waitForNotification(listener, 'Chan ✓');
      await notifier.query("select pg_notify('Chan ✓', $1)", ['payload ✓ 🚀 with "quotes"']);
      const n = await got;
      assert.equal(n.channel, 'Chan ✓');
      assert.equal(n.payload, 'payload ✓ 🚀 with "quotes"');
      // A notification of a rolled-back transaction is never delivered; the committed one is next.
      const next = waitForNotification(listener, 'Chan ✓');
      await notifier.query(`begin; notify "Chan ✓", 'rolled back'; rollback; notify "Chan ✓", 'committed'`);
      assert.equal((await next).payload, 'committed');
      // A notification arriving while the listener is idle (no query in flight) is delivered too.
      const idle = waitForNotification(listener, 'Chan ✓');
      await notifier.query(`notify "Chan ✓", 'while idle'`);
      assert.equal((await idle).payload, 'while idle');
    });

    it("a notification's sender pid matches the sender's BackendKeyData, as on a real server", async () => {
      // libpq/JDBC applications skip their own notifications by comparing the sender pid of a
      // notification with the pid their connection reported in BackendKeyData (PQbackendPID).
      const observe = async (side: Side) => {
        const a = await connect(side);
        const b = await connect(side);
        await a.query('LISTEN pidcheck');
        const fromB = waitForNotification(a, 'pidcheck');
        await b.query("notify pidcheck, 'from b'");
        const nb = await fromB;
        const fromSelf = waitForNotification(a, 'pidcheck');
        await a.query("notify pidcheck, 'from a'");
        const na = await fromSelf;
        return {
          fromOtherIsOther: nb.processId === keyOf(b).processID,
          fromSelfIsSelf: na.processId === keyOf(a).processID,
        };
      };
      const direct = await observe('direct');
      assert.deepEqual(direct, { fromOtherIsOther: true, fromSelfIsSelf: true });
      assert.deepEqual(await observe('proxied'), direct);
    });

    it('NOTICEs reach the client with all their fields, as directly', async () => {
      const notices = await sameBothWays(async (c) => {
        const seen: Array<Record<string, unknown>> = [];
        c.on('notice', (n) => seen.push({ ...errorShape(n), where: n.where }));
        await c.query(
          "DO $$ BEGIN RAISE NOTICE 'hi'; RAISE WARNING 'careful %', 42 USING DETAIL = 'det', HINT = 'hin', ERRCODE = '01234'; END $$",
        );
        await c.query('create temp table if not exists nt (i int)');
        await c.query('create temp table if not exists nt (i int)');
        return seen;
      });
      assert.equal(notices.length, 3);
      assert.equal(notices[0].message, 'hi');
      assert.equal(notices[1].code, '01234');
    });

    it('ParameterStatus messages (startup and after SET) are the same as directly', async () => {
      const observe = async (side: Side) => {
        const seen: Array<[string, string]> = [];
        const c = await connect(side, { application_name: 'airlock-compat' }, (client) => {
          (client as unknown as { connection: NodeJS.EventEmitter }).connection.on(
            'parameterStatus',
            (m: { parameterName: string; parameterValue: string }) =>
              seen.push([m.parameterName, m.parameterValue]),
          );
        });
        const startup = seen.splice(0);
        await c.query("SET application_name = 'renamed ✓'");
        await c.query("SET TimeZone = 'Asia/Tokyo'");
        await c.query("SET DateStyle = 'SQL, DMY'");
        await c.query('SET IntervalStyle = iso_8601');
        await c.query("begin; set application_name = 'temporary'; rollback");
        await c.query('select $1::int', [1]);
        const afterSet = seen.splice(0);
        const shown = (
          await c.query(
            "select current_setting('application_name') as a, current_setting('TimeZone') as tz, extract(timezone from now())::int as offset_s",
          )
        ).rows[0];
        const activity = (
          await c.query('select application_name from pg_stat_activity where pid = pg_backend_pid()')
        ).rows[0];
        return { startup, afterSet, shown, activity };
      };
      const direct = await observe('direct');
      assert.ok(direct.startup.some(([k, v]) => k === 'application_name' && v === 'airlock-compat'));
      assert.ok(direct.afterSet.some(([k, v]) => k === 'TimeZone' && v === 'Asia/Tokyo'));
      assert.deepEqual(await observe('proxied'), direct);
    });

    it('startup options (-c settings) reach the server as directly', async () => {
      const shown = await sameBothWays(
        async (c) =>
          (
            await c.query(
              "select current_setting('statement_timeout') as st, current_setting('search_path') as sp, current_setting('application_name') as an",
            )
          ).rows[0],
        {
          options: '-c statement_timeout=12345 -c search_path=pg_catalog,public',
          application_name: 'opt-test',
        },
      );
      assert.deepEqual(shown, { st: '12345ms', sp: 'pg_catalog,public', an: 'opt-test' });
    });
  });

  describe('errors and transactions', () => {
    it('a failed query leaves the connection usable, with the same error as directly', async () => {
      const errors = await sameBothWays(async (c) => {
        const out: Array<Record<string, unknown>> = [];
        out.push(await failure(c.query('select 1/0')));
        out.push((await c.query('select 1 as ok')).rows[0]);
        out.push(await failure(c.query('select $1::int / 0', [7])));
        out.push((await c.query('select $1::int as ok', [2])).rows[0]);
        out.push(await failure(c.query({ name: 'bad_stmt', text: 'select no_such_column from kv' })));
        out.push(await failure(c.query('select * from no_such_table where x = $1', [1])));
        out.push(await failure(c.query("insert into kv values ('dup-check', 1), ('dup-check', 2)")));
        out.push(await failure(c.query('select $1::int', ['not a number'])));
        out.push(await failure(c.query('select g, 1/(g-5) from generate_series(1, 10) g')));
        out.push((await c.query('select 3 as ok')).rows[0]);
        return out;
      });
      assert.equal(errors[0].code, '22012');
      assert.deepEqual(errors[1], { ok: 1 });
      assert.equal(errors[4].code, '42703');
      assert.equal(errors[6].code, '23505');
      assert.deepEqual(errors[9], { ok: 3 });
    });

    it('BEGIN/ROLLBACK discards and BEGIN/COMMIT keeps writes (checked directly)', async () => {
      const c = await connect('proxied');
      const count = async () =>
        (await directSql(sharedCluster(), DB, "select count(*) from kv where k like 'tx-%'")).stdout.trim();
      await c.query('BEGIN');
      await c.query("insert into kv values ('tx-1', 1), ('tx-2', 2)");
      assert.deepEqual((await c.query("select count(*)::int as n from kv where k like 'tx-%'")).rows, [
        { n: 2 },
      ]);
      assert.equal(await count(), '0', 'uncommitted rows are visible to another session');
      await c.query('ROLLBACK');
      assert.equal(await count(), '0');
      await c.query('BEGIN');
      await c.query("insert into kv values ('tx-3', 3)");
      await c.query('COMMIT');
      assert.equal(await count(), '1');
    });

    it('an error inside a transaction aborts it until ROLLBACK, as directly', async () => {
      const seen = await sameBothWays(async (c) => {
        const out: unknown[] = [];
        await c.query('begin');
        await c.query('savepoint s');
        out.push((await failure(c.query('select 1/0'))).code);
        out.push((await failure(c.query('select 1'))).code);
        await c.query('rollback to savepoint s');
        out.push((await c.query('select 1 as ok')).rows[0]);
        out.push((await failure(c.query('select $1::int/0', [1]))).code);
        out.push((await failure(c.query('select $1::int', [1]))).code);
        out.push((await c.query('commit')).command);
        out.push((await c.query('select 2 as ok')).rows[0]);
        return out;
      });
      assert.deepEqual(seen, ['22012', '25P02', { ok: 1 }, '22012', '25P02', 'ROLLBACK', { ok: 2 }]);
    });
  });

  describe('session end', () => {
    async function upstreamPidOf(c: pg.Client): Promise<number> {
      return (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    }
    async function backendGone(pid: number): Promise<void> {
      await waitFor(
        async () =>
          (
            await directSql(sharedCluster(), DB, `select count(*) from pg_stat_activity where pid = ${pid}`)
          ).stdout.trim() === '0',
        5000,
        `upstream backend ${pid} to exit`,
      );
    }

    it('the upstream backend ends when the client ends the session (Terminate)', async () => {
      const c = await connect('proxied');
      const pid = await upstreamPidOf(c);
      await c.end();
      await backendGone(pid);
    });

    it('the upstream backend ends when the client drops the connection without Terminate', async () => {
      const c = await connect('proxied');
      const pid = await upstreamPidOf(c);
      await c.query('begin');
      await c.query("insert into kv values ('dropped-tx', 1)");
      (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      await backendGone(pid);
      // Its open transaction was rolled back, as when any client vanishes.
      assert.equal(
        (
          await directSql(sharedCluster(), DB, "select count(*) from kv where k = 'dropped-tx'")
        ).stdout.trim(),
        '0',
      );
    });
  });

  describe('volume and concurrency', () => {
    it('200 queries queued at once on one client all get their own answers', async () => {
      const c = await connect('proxied');
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          i % 2
            ? c.query('select $1::int as i, $2::text as s', [i, `s${i}`])
            : c.query(`select ${i} as i, 's${i}' as s`),
        ),
      );
      results.forEach((r, i) => assert.deepEqual(r.rows, [{ i, s: `s${i}` }]));
    });

    it('200 pipelined queries (pipeline mode, all on the wire at once) with errors among them', async () => {
      const c = await connect('proxied', { pipeline: true } as Partial<pg.ClientConfig>);
      const settled = await Promise.allSettled(
        Array.from({ length: 200 }, (_, i) => {
          if (i % 17 === 5) return c.query('select 1/($1::int - $1::int) as boom', [i]);
          if (i % 3 === 0)
            return c.query({
              name: 'pipe_named',
              text: 'select $1::int as i, repeat($2, 3) as s',
              values: [i, 'ab'],
            });
          return c.query('select $1::int as i, repeat($2, 3) as s', [i, 'ab']);
        }),
      );
      settled.forEach((s, i) => {
        if (i % 17 === 5) {
          assert.equal(s.status, 'rejected', `query ${i} should have failed`);
          assert.equal((s as PromiseRejectedResult).reason.code, '22012');
        } else {
          assert.equal(s.status, 'fulfilled', `query ${i}: ${(s as PromiseRejectedResult).reason}`);
          assert.deepEqual((s as PromiseFulfilledResult<pg.QueryResult>).value.rows, [{ i, s: 'ababab' }]);
        }
      });
      assert.deepEqual((await c.query('select 1 as ok')).rows, [{ ok: 1 }]);
    });

    it('a 200k-row result arrives complete, with the same checksum as directly', async () => {
      const sql =
        'select g, md5(g::text) as h, repeat(chr(65 + g % 26), g % 50) as pad from generate_series(1, 200000) g';
      const digest = async (c: pg.Client) => {
        const r = await c.query({ text: sql, rowMode: 'array' });
        const hash = createHash('sha256');
        for (const row of r.rows as Array<[number, string, string]>)
          hash.update(`${row[0]}|${row[1]}|${row[2]}\n`);
        return {
          count: r.rowCount,
          rows: r.rows.length,
          sha: hash.digest('hex'),
          last: r.rows[r.rows.length - 1],
        };
      };
      const x = await digest(await connect('proxied'));
      assert.equal(x.rows, 200000);
      assert.equal(x.count, 200000);
      const g = 200000;
      assert.deepEqual(x.last, [
        g,
        createHash('md5').update(String(g)).digest('hex'),
        String.fromCharCode(65 + (g % 26)).repeat(g % 50),
      ]);
      const d = await digest(await connect('direct'));
      assert.deepEqual(x, d);
    });

    it('a single 4 MB value comes back intact', async () => {
      const c = await connect('proxied');
      const r = await c.query("select repeat('0123456789abcdef', 262144) || '✓' as big");
      const big = r.rows[0].big as string;
      assert.equal(big.length, 16 * 262144 + 1);
      assert.equal(big, '0123456789abcdef'.repeat(262144) + '✓');
    });

    it('many proxied sessions at once stay separate', async () => {
      const clients = await Promise.all(Array.from({ length: 20 }, () => connect('proxied')));
      const results = await Promise.all(
        clients.map(async (c, i) => {
          await c.query(`set application_name = 'session-${i}'`);
          await c.query(`create temp table mine (i int)`);
          await c.query('insert into mine select $1::int from generate_series(1, $1::int)', [i + 1]);
          const r = await c.query(
            "select current_setting('application_name') as app, count(*)::int as n, sum(i)::int as s, pg_backend_pid() as pid from mine",
          );
          return { ...r.rows[0], key: keyOf(c).processID };
        }),
      );
      results.forEach((r, i) =>
        assert.deepEqual(
          { app: r.app, n: r.n, s: r.s },
          { app: `session-${i}`, n: i + 1, s: (i + 1) * (i + 1) },
        ),
      );
      assert.equal(new Set(results.map((r) => r.pid)).size, 20);
      assert.equal(new Set(results.map((r) => r.key)).size, 20);
    });
  });
});
