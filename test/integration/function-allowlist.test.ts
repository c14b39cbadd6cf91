import assert from 'node:assert/strict';
import path from 'node:path';
import pg from 'pg';
import { classifyFunction } from '../../src/core/sql/function-catalog';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import { assertAirlockDenial, dropDatabase, repoRoot } from '../helpers/policy-fixtures';
import {
  RAW_TYPES,
  collectSecrets,
  errorText,
  findLeaks,
  loadDemoDatabase,
  rowsText,
  type Secrets,
} from '../helpers/masking-fixtures';

/**
 * Functions by allowlist, everywhere: PostgreSQL calls a function not only as f(x) but in attribute
 * notation (`c.record_send` is record_send(c) when c has no such column) and by field selection
 * (`(v).pg_cancel_backend`), and a cast to a user type runs the user's code. The corpus is generated from
 * the server's own pg_proc, so the next record_* is covered without anyone listing it. Under the
 * read-only preset every function the curated list does not call safe is refused; under pii-masking any
 * call on a row of the masked table is refused; nothing masked comes back and the database is unchanged.
 */
const DB = 'function_allowlist';
const PII_POLICY = path.join(repoRoot, 'examples/policies/pii-masking.yaml');

const SCHEMA = `
create table words (id int primary key, length int, lower text, count int);
insert into words values (1, 5, 'five', 7);
-- Running this is what a cast to the domain must never get to do (it takes an advisory lock to show it ran).
create function public.audit_check(v text) returns boolean language plpgsql
  as $$ begin perform pg_advisory_lock(4711); return true; end $$;
create domain checked_text as text check (public.audit_check(value));
create type mood as enum ('calm', 'angry');
`;

/** Everything the statements could change or leave behind, read directly. */
const SNAPSHOT_SQL = `
select
  (select md5(string_agg(c::text, ',' order by id)) from customers c) as customers,
  (select md5(string_agg(w::text, ',' order by id)) from words w) as words,
  (select count(*) from pg_locks where locktype = 'advisory')::int as advisory_locks,
  (select string_agg(p.oid::regprocedure::text, ',' order by 1) from pg_proc p
    where p.pronamespace = 'public'::regnamespace) as functions
`;

/** Row-taking argument types: a whole row (record or composite) is accepted by these. */
const ROW_TYPES = `('record', 'anyelement', 'anynonarray', 'anycompatible', 'anycompatiblenonarray', 'any')`;

describe('functions by allowlist: attribute notation, field selection and casts decided from the real catalog', function () {
  this.timeout(180_000);
  let readOnly: ProxyUnderTest;
  let pii: ProxyUnderTest;
  let direct: pg.Client;
  let secrets: Secrets;
  /** pg_catalog functions taking one whole-row argument, by name. */
  let rowFunctions: string[];
  /** pg_catalog functions taking one argument of an ordinary type, not curated safe: name and type. */
  let valueFunctions: Array<{ name: string; type: string }>;

  const snapshot = async () => (await direct.query(SNAPSHOT_SQL)).rows[0] as Record<string, unknown>;

  type Outcome = { denied: true; text: string } | { denied: false; text: string; rows: number };

  /** Runs sql on `client`; a denial is checked to be Airlock's (42501, rule, hint). */
  async function outcome(client: pg.Client, sql: string, extended = false): Promise<Outcome> {
    try {
      const r = await client.query({
        text: sql,
        queryMode: extended ? 'extended' : undefined,
      } as pg.QueryConfig);
      return { denied: false, text: rowsText(r.rows ?? []), rows: r.rows?.length ?? 0 };
    } catch (err) {
      const e = err as pg.DatabaseError;
      if (e.code === '42501' && /^airlock: denied/.test(e.message)) {
        assertAirlockDenial(e, sql);
        return { denied: true, text: errorText(err) };
      }
      return { denied: false, text: `server error ${e.code}: ${errorText(err)}`, rows: 0 };
    }
  }

  /** Every statement is denied, nothing sensitive reaches the client, the database is unchanged. */
  async function expectAllDenied(p: ProxyUnderTest, sqls: string[], modes: boolean[] = [false]) {
    const before = await snapshot();
    const client = await p.connect({ types: RAW_TYPES });
    client.on('error', () => undefined);
    const failures: string[] = [];
    try {
      for (const sql of sqls) {
        for (const extended of modes) {
          const out = await outcome(client, sql, extended);
          const leaks = findLeaks(out.text, secrets);
          if (!out.denied) failures.push(`${sql}: not denied (${out.text.split('\n')[0].slice(0, 120)})`);
          if (leaks.length)
            failures.push(`${sql}: values reached the client: ${leaks.slice(0, 3).join(' | ')}`);
        }
      }
      assert.deepEqual(await snapshot(), before, 'the database changed');
    } finally {
      await client.end();
    }
    assert.deepEqual(failures, [], `${failures.length} failures in ${sqls.length} statements`);
  }

  before(async () => {
    const cluster = sharedCluster();
    await loadDemoDatabase(cluster, DB);
    direct = new pg.Client({
      host: cluster.host,
      port: cluster.port,
      user: cluster.user,
      password: cluster.password,
      database: DB,
      types: RAW_TYPES,
    });
    await direct.connect();
    await direct.query(SCHEMA);
    secrets = await collectSecrets(direct);
    rowFunctions = (
      await direct.query<{ proname: string }>(
        `select distinct p.proname from pg_proc p join pg_type t on t.oid = p.proargtypes[0]
          where p.pronamespace = 'pg_catalog'::regnamespace and p.pronargs = 1 and t.typname in ${ROW_TYPES}
          order by 1`,
      )
    ).rows.map((r) => r.proname);
    // Strict functions only: should one get through, a NULL argument makes the call do nothing.
    valueFunctions = (
      await direct.query<{ proname: string; type: string }>(
        `select distinct on (p.proname) p.proname, pg_catalog.format_type(p.proargtypes[0], null) as type
           from pg_proc p join pg_type t on t.oid = p.proargtypes[0]
          where p.pronamespace = 'pg_catalog'::regnamespace and p.pronargs = 1 and p.proisstrict
            and t.typtype <> 'p' order by p.proname, p.oid`,
      )
    ).rows
      .map((r) => ({ name: r.proname, type: r.type }))
      .filter((f) => classifyFunction(f.name).class !== 'safe');
    readOnly = await proxyFor(cluster, { database: DB, config: { policy: 'read-only' } });
    pii = await proxyFor(cluster, {
      database: DB,
      config: { policy: PII_POLICY, allowUnsignedPolicy: true },
    });
  });

  after(async () => {
    await readOnly?.close();
    await pii?.close();
    await direct?.end();
    await dropDatabase(sharedCluster(), DB);
  });

  it('control: the generated corpus holds the functions the curated list misses', () => {
    for (const name of ['record_send', 'record_out', 'hash_record', 'to_jsonb', 'row_to_json'])
      assert.ok(rowFunctions.includes(name), `${name} is not among ${rowFunctions.join(' ')}`);
    assert.ok(rowFunctions.some((n) => classifyFunction(n).class === 'unknown'));
    for (const name of ['pg_cancel_backend', 'pg_read_file', 'int4send', 'int4out'])
      assert.ok(
        valueFunctions.some((f) => f.name === name),
        `${name} is not in the value corpus`,
      );
    assert.ok(valueFunctions.length > 200, `only ${valueFunctions.length} value functions`);
  });

  it('control: run directly, a row call hands out the whole row and a cast to the domain runs user code', async () => {
    const { rows } = await direct.query<{ r: string }>(
      'select c.record_out as r from customers c where id = 1',
    );
    assert.ok(findLeaks(rows[0].r, secrets).length > 0, 'record_out of a customer carries its values');
    const before = await snapshot();
    await direct.query(`select 'calm'::checked_text`);
    assert.notDeepEqual(await snapshot(), before, 'the snapshot sees the lock the user code took');
    await direct.query('select pg_advisory_unlock_all()');
    assert.deepEqual(await snapshot(), before);
  });

  describe('read-only preset', () => {
    it('a built-in the curated list does not call safe, in attribute notation on a row, is refused', async () => {
      const unknown = rowFunctions.filter((n) => classifyFunction(n).class !== 'safe');
      await expectAllDenied(
        readOnly,
        unknown.flatMap((n) => [
          `select c.${n} from words c`,
          `select s.${n} from (select * from words) s`,
          `with x as (select * from words) select x.${n} from x`,
          `select (c).${n} from words c`,
          `select (c.*).${n} from words c`,
          `select id from words c where c.${n} is not null`,
        ]),
        [false, true],
      );
    });

    it('every pg_catalog function of one argument the curated list does not call safe, by field selection, is refused', async () => {
      await expectAllDenied(
        readOnly,
        valueFunctions.map((f) => `select (null::${f.type}).${f.name}`),
      );
    });

    it('field selection or attribute notation of a dangerous function on a value is refused by its category', async () => {
      const client = await readOnly.connect();
      try {
        for (const sql of [
          'select (1).pg_cancel_backend',
          'select (w.id).pg_terminate_backend from words w',
          "select ('/etc/hostname').pg_read_file",
          'select (42).pg_advisory_lock from words',
          'select g.pg_cancel_backend from generate_series(1, 1) g',
          'select generate_series.pg_terminate_backend from generate_series(1, 1)',
        ]) {
          const out = await outcome(client, sql);
          assert.ok(out.denied, `${sql}: ${out.text}`);
          assert.match(out.text, /pg_cancel_backend|pg_terminate_backend|pg_read_file|pg_advisory_lock/);
        }
      } finally {
        await client.end();
      }
    });

    it('a cast to a user domain (whose CHECK runs a user function) is refused, in every spelling', async () => {
      await expectAllDenied(readOnly, [
        "select 'calm'::checked_text",
        "select 'calm'::public.checked_text",
        "select cast('calm' as checked_text)",
        "select checked_text 'calm'",
        "select array['calm']::checked_text[]",
        'select id from words where lower::checked_text is not null',
        `select * from json_to_record('{"a": "calm"}') as x(a checked_text)`,
        "select * from xmltable('/r' passing '<r><b>calm</b></r>' columns b checked_text path 'b') x",
      ]);
    });

    it('benign: columns named like functions are columns; casts to built-in types and enums pass', async () => {
      const client = await readOnly.connect();
      try {
        const r = await client.query(
          "select w.length, w.lower, w.count, words.length as l2, 'calm'::mood as m, '5'::int as i from words w, words",
        );
        assert.deepEqual(r.rows, [{ length: 5, lower: 'five', count: 7, l2: 5, m: 'calm', i: 5 }]);
        const safe = await client.query('select c.to_jsonb as j, (c).count as n from words c');
        assert.equal(safe.rows.length, 1, 'curated-safe calls on rows without masking are allowed');
      } finally {
        await client.end();
      }
    });
  });

  describe('pii-masking policy', () => {
    it('every row-taking built-in on a row of the masked table is refused, in every notation', async () => {
      await expectAllDenied(
        pii,
        rowFunctions.flatMap((n) => [
          `select c.${n} from customers c`,
          `select s.${n} from (select full_name, ssn from customers) s`,
          `select (c).${n} from customers c`,
          `select x.${n} from customer_contacts x`,
        ]),
        [false, true],
      );
    });

    it('masked columns through casts, operators, type I/O and aggregates are refused', async () => {
      await expectAllDenied(
        pii,
        [
          'select email::bytea from customers',
          'select cast(email as bytea) from customers',
          'select (email).textlen from customers',
          'select (email).md5 from customers',
          'select c::text from customers c',
          'select (c.*)::json from customers c',
          'select record_out(c) from customers c',
          'select textin(record_out(c)) from customers c',
          'select c::text::bytea from customers c',
          'select json_agg(c) from customers c',
          'select array_agg(c) from customers c',
          "select 'calm'::checked_text from customers",
        ],
        [false, true],
      );
    });

    it('benign: a plain masked column still comes back masked, and a column named like a function is a column', async () => {
      const client = await pii.connect({ types: RAW_TYPES });
      try {
        const r = await client.query('select c.email, c.full_name from customers c order by id limit 5');
        assert.equal(r.rows.length, 5);
        assert.deepEqual(findLeaks(rowsText(r.rows), secrets), []);
        const w = await client.query('select w.length, w.lower from words w');
        assert.deepEqual(w.rows, [{ length: '5', lower: 'five' }]);
      } finally {
        await client.end();
      }
    });
  });
});
