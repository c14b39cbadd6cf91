import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import pg from 'pg';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import {
  directPg,
  dropDatabase,
  expectDenied,
  freshDatabase,
  proxiedPsqlEnv,
  psql,
  rejection,
} from '../helpers/policy-fixtures';

/**
 * Under the built-in read-only preset, every way of changing something (or of reaching around statement
 * analysis) is refused BY AIRLOCK — SQLSTATE 42501, `airlock: denied`, a DETAIL naming the rule — not
 * merely by the server's read-only transaction, and the database (and the session) is exactly as before.
 *
 * The corpus is a plain table: add a { name, sql } row to test another way around the policy.
 */
const DB = 'ro_bypass';

/** Paths a COPY … TO PROGRAM / TO file would create if it ran (the server runs on this machine). */
const PROGRAM_FILE = `/tmp/airlock-ro-bypass-${process.pid}-program`;
const COPY_FILE = `/tmp/airlock-ro-bypass-${process.pid}-copy`;
const CONTROL_PROGRAM_FILE = `/tmp/airlock-ro-bypass-${process.pid}-control-program`;
const CONTROL_COPY_FILE = `/tmp/airlock-ro-bypass-${process.pid}-control-copy`;
const FILES = [PROGRAM_FILE, COPY_FILE, CONTROL_PROGRAM_FILE, CONTROL_COPY_FILE];

const SCHEMA = `
create table t (id int primary key, name text not null) with (autovacuum_enabled = off);
insert into t select g, 'row ' || g from generate_series(1, 10) g;
create sequence seq;
select setval('seq', 7);
-- A harmless user function (unknown to Airlock), one that writes, and a procedure that writes.
create function public.myfunc() returns int language sql immutable as 'select 42';
create function public.purge_t() returns bigint language sql
  as $$ with d as (delete from t returning 1) select count(*) from d $$;
create procedure public.some_proc() language sql as $$ delete from t $$;
`;

/** Everything a bypass could change, read directly as the superuser. */
const SNAPSHOT_SQL = `
select
  (select count(*) from t)::int as t_rows,
  (select md5(coalesce(string_agg(t::text, ',' order by id), '')) from t) as t_md5,
  (select string_agg(c.relname || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, '-') || ':' || c.reltuples,
                     ',' order by c.relname)
     from pg_class c where c.relnamespace = 'public'::regnamespace) as relations,
  (select string_agg(p.oid::regprocedure::text, ',' order by p.oid::regprocedure::text)
     from pg_proc p where p.pronamespace = 'public'::regnamespace) as functions,
  (select string_agg(o.oid::regoperator::text, ',' order by o.oid::regoperator::text)
     from pg_operator o where o.oprnamespace = 'public'::regnamespace) as operators,
  (select last_value || ':' || is_called from seq) as seq,
  (select coalesce(last_vacuum::text, '-') || '/' || coalesce(last_analyze::text, '-')
     from pg_stat_user_tables where relname = 't') as maintenance,
  (select coalesce(string_agg(setrole::text || '/' || setdatabase::text || '=' || array_to_string(setconfig, ';'),
                              ',' order by setrole, setdatabase), '') from pg_db_role_setting) as role_settings,
  (select coalesce(string_agg(rolname || '=' || array_to_string(rolconfig, ';'), ',' order by rolname), '')
     from pg_roles where rolconfig is not null) as role_config,
  (select count(*) from pg_largeobject_metadata)::int as large_objects,
  (select count(*) from pg_largeobject)::int as large_object_pages,
  (select count(*) from pg_file_settings where name = 'work_mem')::int as work_mem_in_files,
  (select count(*) from pg_locks where locktype = 'advisory')::int as advisory_locks,
  (select count(*) from pg_prepared_xacts)::int as prepared_xacts
`;

interface Case {
  name: string;
  sql: string;
}

/** Ways around a read-only policy. Each must be denied by Airlock and change nothing. */
const CORPUS: Case[] = [
  // several statements in one Query: all or nothing
  { name: 'a read followed by DROP in one Query', sql: 'SELECT 1; DROP TABLE t' },
  { name: 'COMMIT followed by DROP in one Query', sql: 'COMMIT; DROP TABLE t' },
  { name: 'a read followed by DELETE in one Query', sql: 'SELECT count(*) FROM t; DELETE FROM t' },
  // writes hidden in queries
  { name: 'writable CTE (DELETE)', sql: 'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d' },
  {
    name: 'writable CTE (UPDATE)',
    sql: 'WITH u AS (UPDATE t SET name = name RETURNING 1) SELECT count(*) FROM u',
  },
  { name: 'writable CTE (INSERT)', sql: "WITH i AS (INSERT INTO t VALUES (100, 'x') RETURNING 1) SELECT 1" },
  {
    name: 'writable CTE nested in a subquery',
    sql: 'SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) s',
  },
  {
    name: 'writable CTE nested in another CTE',
    sql: 'WITH x AS (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) SELECT * FROM x',
  },
  // functions that read files, run SQL text or change settings
  { name: 'pg_read_file in the select list', sql: "SELECT pg_read_file('/etc/passwd')" },
  { name: 'pg_read_file in FROM', sql: "SELECT * FROM pg_read_file('/etc/passwd')" },
  { name: 'pg_ls_dir', sql: "SELECT pg_ls_dir('.')" },
  { name: 'pg_ls_dir in FROM', sql: "SELECT * FROM pg_ls_dir('.') AS f" },
  { name: 'query_to_xml running a DELETE', sql: "SELECT query_to_xml('delete from t', true, true, '')" },
  {
    name: 'set_config turning read-only off',
    sql: "SELECT set_config('default_transaction_read_only', 'off', false)",
  },
  { name: 'set_config of role', sql: "SELECT set_config('role', 'postgres', false)" },
  { name: 'pg_catalog.set_config of role', sql: "SELECT pg_catalog.set_config('role', 'postgres', false)" },
  // spelling games
  { name: 'unicode-escaped table name on a DELETE', sql: 'DELETE FROM U&"\\0074"' },
  { name: 'comments between keywords', sql: 'DELETE/**/FROM/**/t' },
  { name: 'a line comment before the DELETE', sql: '-- x\nDELETE FROM t' },
  { name: 'comments everywhere', sql: '/* a */ DELETE /* b */ FROM /* c */ t -- d' },
  { name: 'mixed case', sql: 'DeLeTe FrOm t' },
  { name: 'quoted identifiers', sql: 'DELETE FROM "public"."t"' },
  // EXPLAIN that executes
  { name: 'EXPLAIN ANALYZE DELETE', sql: 'EXPLAIN ANALYZE DELETE FROM t' },
  { name: 'EXPLAIN ANALYSE (British spelling) DELETE', sql: 'EXPLAIN ANALYSE DELETE FROM t' },
  { name: 'EXPLAIN (ANALYZE) DELETE', sql: 'EXPLAIN (ANALYZE) DELETE FROM t' },
  { name: 'EXPLAIN (ANALYZE true) DELETE', sql: 'EXPLAIN (ANALYZE true) DELETE FROM t' },
  { name: 'EXPLAIN (ANALYZE 1) DELETE', sql: 'EXPLAIN (ANALYZE 1) DELETE FROM t' },
  {
    name: "EXPLAIN (ANALYZE 'on', COSTS off) UPDATE",
    sql: "EXPLAIN (ANALYZE 'on', COSTS off) UPDATE t SET name = 'x'",
  },
  // PostgreSQL takes the LAST of repeated EXPLAIN options: this one runs the DELETE.
  {
    name: 'EXPLAIN (ANALYZE off, ANALYZE on) DELETE',
    sql: 'EXPLAIN (ANALYZE off, ANALYZE on) DELETE FROM t',
  },
  // reads that create tables
  { name: 'SELECT INTO', sql: 'SELECT * INTO t2 FROM t' },
  { name: 'CREATE TABLE AS', sql: 'CREATE TABLE t3 AS SELECT * FROM t' },
  { name: 'CREATE MATERIALIZED VIEW', sql: 'CREATE MATERIALIZED VIEW mv AS SELECT * FROM t' },
  // COPY other than to the client
  { name: 'COPY TO PROGRAM', sql: `COPY t TO PROGRAM 'touch ${PROGRAM_FILE}'` },
  { name: 'COPY TO a server file', sql: `COPY t TO '${COPY_FILE}'` },
  { name: 'COPY (query) TO a server file', sql: `COPY (SELECT * FROM t) TO '${COPY_FILE}'` },
  { name: 'COPY (DELETE … RETURNING) TO STDOUT', sql: 'COPY (DELETE FROM t RETURNING *) TO STDOUT' },
  { name: 'COPY FROM a server file', sql: "COPY t FROM '/etc/hostname'" },
  { name: 'COPY FROM PROGRAM', sql: `COPY t FROM PROGRAM 'echo 99'` },
  // large objects
  { name: 'lo_import', sql: "SELECT lo_import('/etc/passwd')" },
  { name: 'lo_create', sql: 'SELECT lo_create(0)' },
  { name: 'lo_from_bytea', sql: "SELECT lo_from_bytea(0, '\\x41')" },
  // locks and maintenance
  { name: 'SELECT … FOR UPDATE', sql: 'SELECT * FROM t FOR UPDATE' },
  { name: 'SELECT … FOR SHARE', sql: 'SELECT * FROM t FOR SHARE' },
  { name: 'FOR UPDATE in a subquery', sql: 'SELECT * FROM t WHERE id IN (SELECT id FROM t FOR UPDATE)' },
  { name: 'LOCK', sql: 'LOCK t' },
  { name: 'VACUUM', sql: 'VACUUM t' },
  { name: 'ANALYZE', sql: 'ANALYZE t' },
  { name: 'CHECKPOINT', sql: 'CHECKPOINT' },
  { name: 'pg_advisory_lock', sql: 'SELECT pg_advisory_lock(1)' },
  // server and permissions
  { name: 'ALTER SYSTEM', sql: "ALTER SYSTEM SET work_mem = '1GB'" },
  { name: 'GRANT', sql: 'GRANT SELECT ON t TO PUBLIC' },
  { name: 'ALTER ROLE … SET', sql: 'ALTER ROLE postgres SET default_transaction_read_only = off' },
  { name: 'DROP TABLE', sql: 'DROP TABLE t' },
  // code
  {
    name: 'CREATE FUNCTION',
    sql: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'DELETE FROM t RETURNING 1'",
  },
  { name: 'calling the function CREATE FUNCTION would have made', sql: 'SELECT f()' },
  {
    name: 'CREATE FUNCTION and its call in one Query',
    sql: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'DELETE FROM t RETURNING 1'; SELECT f()",
  },
  { name: 'an existing user function that writes', sql: 'SELECT purge_t()' },
  { name: 'an existing user function that writes, schema-qualified', sql: 'SELECT * FROM public.purge_t()' },
  { name: 'a harmless but unknown user function', sql: 'SELECT public.myfunc()' },
  { name: 'DO block', sql: 'DO $$ BEGIN DELETE FROM t; END $$' },
  { name: 'CALL of a procedure', sql: 'CALL some_proc()' },
  { name: 'dblink', sql: "SELECT dblink('dbname=ro_bypass', 'delete from t')" },
  { name: 'dblink_exec in FROM', sql: "SELECT * FROM dblink_exec('dbname=ro_bypass', 'delete from t')" },
  // transactions and session characteristics
  { name: 'START TRANSACTION READ WRITE', sql: 'START TRANSACTION READ WRITE' },
  { name: 'BEGIN READ WRITE', sql: 'BEGIN READ WRITE' },
  {
    name: 'BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE',
    sql: 'BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE',
  },
  { name: 'BEGIN; SET TRANSACTION READ WRITE in one Query', sql: 'BEGIN; SET TRANSACTION READ WRITE' },
  {
    name: 'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE',
    sql: 'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE',
  },
  { name: 'SET default_transaction_read_only = off', sql: 'SET default_transaction_read_only = off' },
  { name: 'SET default_transaction_read_only TO false', sql: 'SET default_transaction_read_only TO false' },
  { name: 'SET transaction_read_only = off', sql: 'SET transaction_read_only = off' },
  // every spelling that could leave read-only off: RESET, DEFAULT, FROM CURRENT, LOCAL, set_config, rules
  { name: 'RESET transaction_read_only', sql: 'RESET transaction_read_only' },
  {
    name: 'BEGIN; RESET transaction_read_only; COMMIT AND CHAIN in one Query',
    sql: 'BEGIN; RESET transaction_read_only; COMMIT AND CHAIN',
  },
  { name: 'SET transaction_read_only TO DEFAULT', sql: 'SET transaction_read_only TO DEFAULT' },
  { name: 'SET LOCAL transaction_read_only TO DEFAULT', sql: 'SET LOCAL transaction_read_only TO DEFAULT' },
  { name: 'SET LOCAL transaction_read_only = off', sql: 'SET LOCAL transaction_read_only = off' },
  { name: 'RESET default_transaction_read_only', sql: 'RESET default_transaction_read_only' },
  {
    name: 'SET default_transaction_read_only TO DEFAULT',
    sql: 'SET default_transaction_read_only TO DEFAULT',
  },
  {
    name: 'SET default_transaction_read_only FROM CURRENT',
    sql: 'SET default_transaction_read_only FROM CURRENT',
  },
  { name: 'SET "Default_Transaction_Read_Only" = \'of\'', sql: `SET "Default_Transaction_Read_Only" = 'of'` },
  {
    name: 'set_config of transaction_read_only, local',
    sql: "SELECT set_config('transaction_read_only', 'off', true)",
  },
  {
    name: 'set_config of default_transaction_read_only to a computed value',
    sql: "SELECT set_config('default_transaction_read_only', lower('OFF'), false)",
  },
  {
    name: 'set_config over pg_settings, WHERE naming transaction_read_only',
    sql: "SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = 'transaction_read_only'",
  },
  {
    name: 'set_config over pg_settings, WHERE LIKE',
    sql: "SELECT set_config(name, 'off', false) FROM pg_settings WHERE name LIKE '%transaction_read_only'",
  },
  {
    name: 'UPDATE pg_settings (its rule calls set_config)',
    sql: "UPDATE pg_settings SET setting = 'off' WHERE name = 'default_transaction_read_only'",
  },
  { name: 'BEGIN READ ONLY, READ WRITE (the last one wins)', sql: 'BEGIN READ ONLY, READ WRITE' },
  {
    name: 'SET SESSION CHARACTERISTICS … ISOLATION LEVEL SERIALIZABLE, READ WRITE',
    sql: 'SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE',
  },
  {
    name: 'ALTER DATABASE … SET default_transaction_read_only',
    sql: 'ALTER DATABASE ro_bypass SET default_transaction_read_only = off',
  },
  {
    name: 'a function SET clause turning read-only off',
    sql: "CREATE FUNCTION rw() RETURNS int LANGUAGE sql SET default_transaction_read_only = off AS 'select 1'",
  },
  {
    name: 'ALTER FUNCTION … SET default_transaction_read_only',
    sql: 'ALTER FUNCTION myfunc() SET default_transaction_read_only = off',
  },
  { name: 'SET ROLE', sql: 'SET ROLE postgres' },
  { name: 'RESET ROLE', sql: 'RESET ROLE' },
  { name: 'SET SESSION AUTHORIZATION', sql: 'SET SESSION AUTHORIZATION postgres' },
  { name: 'SET SESSION AUTHORIZATION DEFAULT', sql: 'SET SESSION AUTHORIZATION DEFAULT' },
  { name: 'SET session_replication_role = replica', sql: 'SET session_replication_role = replica' },
  { name: 'RESET session_replication_role', sql: 'RESET session_replication_role' },
  {
    name: 'set_config of session_replication_role',
    sql: "SELECT set_config('session_replication_role', 'replica', false)",
  },
  { name: 'SET search_path FROM CURRENT', sql: 'SET search_path FROM CURRENT' },
  // the lexical environment Airlock parses with
  { name: 'SET standard_conforming_strings = off', sql: 'SET standard_conforming_strings = off' },
  { name: "SET client_encoding = 'SJIS'", sql: "SET client_encoding = 'SJIS'" },
  { name: "SET NAMES 'GBK'", sql: "SET NAMES 'GBK'" },
  {
    name: 'set_config of standard_conforming_strings',
    sql: "SELECT set_config('standard_conforming_strings', 'off', false)",
  },
  { name: 'PREPARE TRANSACTION', sql: "PREPARE TRANSACTION 'x'" },
  // plain writes
  {
    name: 'MERGE',
    sql: 'MERGE INTO t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE',
  },
  { name: 'INSERT … ON CONFLICT DO NOTHING', sql: "INSERT INTO t VALUES (1, 'x') ON CONFLICT DO NOTHING" },
  {
    name: 'INSERT … ON CONFLICT DO UPDATE',
    sql: "INSERT INTO t VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET name = excluded.name",
  },
  { name: 'UPDATE', sql: "UPDATE t SET name = 'changed'" },
  { name: 'DELETE', sql: 'DELETE FROM t WHERE id = 1' },
  { name: 'TRUNCATE', sql: 'TRUNCATE t' },
  // functions with side effects
  { name: 'nextval', sql: "SELECT nextval('seq')" },
  { name: 'setval', sql: "SELECT setval('seq', 1000)" },
  { name: 'pg_terminate_backend', sql: 'SELECT pg_terminate_backend(pg_backend_pid())' },
  { name: 'pg_notify', sql: "SELECT pg_notify('ch', 'x')" },
  { name: 'NOTIFY', sql: 'NOTIFY ch' },
  // prepared statements
  { name: 'PREPARE of a DELETE', sql: 'PREPARE p AS DELETE FROM t' },
  { name: 'EXECUTE of a statement not prepared through Airlock', sql: 'EXECUTE p' },
];

describe('read-only policy: ways around it are denied by Airlock and change nothing', function () {
  this.timeout(120_000);
  let p: ProxyUnderTest;
  let direct: pg.Client;
  let listener: pg.Client;
  const notifications: string[] = [];

  const snapshot = async () => (await direct.query(SNAPSHOT_SQL)).rows[0] as Record<string, unknown>;

  /**
   * The session is still read-only (also in the next explicit transaction, where RESET
   * transaction_read_only would bite), still the same role, still lexes as Airlock does, and answers.
   */
  async function assertSessionIntact(client: pg.Client, what: string) {
    const { rows } = await client.query(
      `select current_user as u, session_user as s,
              current_setting('default_transaction_read_only') as d,
              current_setting('transaction_read_only') as r,
              current_setting('session_replication_role') as repl,
              current_setting('standard_conforming_strings') as scs,
              current_setting('client_encoding') as enc`,
    );
    assert.deepEqual(
      rows,
      [{ u: 'postgres', s: 'postgres', d: 'on', r: 'on', repl: 'origin', scs: 'on', enc: 'UTF8' }],
      `${what}: session changed`,
    );
    await client.query('BEGIN');
    try {
      assert.deepEqual((await client.query('SHOW transaction_read_only')).rows, [
        { transaction_read_only: 'on' },
      ]);
    } finally {
      await client.query('ROLLBACK');
    }
  }

  /** Nothing in the database changed, no file appeared, nobody was notified. */
  async function assertNothingChanged(before: Record<string, unknown>, what: string) {
    assert.deepEqual(await snapshot(), before, `${what}: the database changed`);
    for (const f of [PROGRAM_FILE, COPY_FILE]) assert.ok(!existsSync(f), `${what}: ${f} was written`);
    await listener.query('select 1'); // notifications from other sessions arrive before its ReadyForQuery
    assert.deepEqual(notifications, [], `${what}: a notification was delivered`);
  }

  before(async () => {
    for (const f of FILES) rmSync(f, { force: true });
    await freshDatabase(sharedCluster(), DB, SCHEMA);
    direct = await directPg(sharedCluster(), DB);
    listener = await directPg(sharedCluster(), DB);
    listener.on('notification', (n) => notifications.push(`${n.channel}:${n.payload}`));
    await listener.query('listen ch');
    p = await proxyFor(sharedCluster(), { database: DB, config: { policy: 'read-only' } });
  });

  after(async () => {
    await p?.close();
    await listener?.end();
    await direct?.end();
    for (const f of FILES) rmSync(f, { force: true });
    await dropDatabase(sharedCluster(), DB);
  });

  describe('controls: the checks see a change when there is one', () => {
    it('the snapshot notices writes, DDL, grants, sequences, large objects and advisory locks', async () => {
      const before = await snapshot();
      await direct.query('begin');
      try {
        await direct.query("update t set name = 'changed' where id = 1");
        await direct.query('create table control_t (a int)');
        await direct.query('grant select on t to public');
        await direct.query("select setval('seq', 99)");
        await direct.query('select lo_create(0)');
        await direct.query('select pg_advisory_xact_lock(5)');
        const during = await snapshot();
        for (const k of ['t_md5', 'relations', 'seq', 'large_objects', 'advisory_locks'])
          assert.notDeepEqual(during[k], before[k], `snapshot field ${k} did not notice the change`);
      } finally {
        await direct.query('rollback');
      }
      // setval is not transactional: put the sequence back where it was.
      await direct.query("select setval('seq', 7)");
      assert.deepEqual(await snapshot(), before);
    });

    it('the server can write the files COPY TO PROGRAM / TO file would create', async () => {
      await direct.query(`copy t to program 'touch ${CONTROL_PROGRAM_FILE}'`);
      await direct.query(`copy t to '${CONTROL_COPY_FILE}'`);
      assert.ok(existsSync(CONTROL_PROGRAM_FILE));
      assert.ok(existsSync(CONTROL_COPY_FILE));
    });

    it('the listener hears a NOTIFY on the channel', async () => {
      await direct.query("notify ch, 'control'");
      await listener.query('select 1');
      assert.deepEqual(notifications.splice(0), ['ch:control']);
    });

    it('the proxy session is read-only upstream (defence in depth), a direct one is not', async () => {
      const c = await p.connect();
      try {
        assert.deepEqual((await c.query('SHOW default_transaction_read_only')).rows, [
          { default_transaction_read_only: 'on' },
        ]);
        assert.deepEqual((await c.query('SHOW transaction_read_only')).rows, [
          { transaction_read_only: 'on' },
        ]);
      } finally {
        await c.end();
      }
      assert.deepEqual((await direct.query('SHOW default_transaction_read_only')).rows, [
        { default_transaction_read_only: 'off' },
      ]);
    });

    it('reads, EXPLAIN without ANALYZE and harmless settings are allowed', async () => {
      const c = await p.connect();
      try {
        assert.deepEqual((await c.query('select count(*)::int as n from t')).rows, [{ n: 10 }]);
        await c.query("set work_mem = '8MB'");
        assert.deepEqual((await c.query('show work_mem')).rows, [{ work_mem: '8MB' }]);
      } finally {
        await c.end();
      }
    });
  });

  describe('the corpus, as a simple-protocol Query', () => {
    for (const c of CORPUS) {
      it(c.name, async () => {
        const before = await snapshot();
        const client = await p.connect();
        try {
          await expectDenied(client.query(c.sql), c.sql);
          await assertSessionIntact(client, c.sql);
          await assertNothingChanged(before, c.sql);
        } finally {
          await client.end();
        }
      });
    }
  });

  describe('the corpus, through the extended protocol (Parse/Bind/Execute)', () => {
    for (const c of CORPUS) {
      it(c.name, async () => {
        const before = await snapshot();
        const client = await p.connect();
        try {
          await expectDenied(client.query({ text: c.sql, queryMode: 'extended' } as pg.QueryConfig), c.sql);
          await assertSessionIntact(client, c.sql);
          await assertNothingChanged(before, c.sql);
        } finally {
          await client.end();
        }
      });
    }
  });

  describe('the corpus, inside an explicit transaction', () => {
    for (const c of CORPUS) {
      it(c.name, async () => {
        const before = await snapshot();
        const client = await p.connect();
        try {
          await client.query('BEGIN');
          await expectDenied(client.query(c.sql), c.sql);
          await assert.rejects(client.query('select 1'), { code: '25P02' });
          await client.query('ROLLBACK');
          await assertSessionIntact(client, c.sql);
          await assertNothingChanged(before, c.sql);
        } finally {
          await client.end();
        }
      });
    }
  });

  describe('targeted', () => {
    it('EXPLAIN (ANALYZE 0) DELETE is a plain EXPLAIN: allowed, and nothing is deleted', async () => {
      const before = await snapshot();
      const client = await p.connect();
      try {
        const { rows } = await client.query('EXPLAIN (ANALYZE 0, COSTS off) DELETE FROM t');
        const plan = rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
        assert.match(plan, /^Delete on t/);
        assert.doesNotMatch(plan, /actual/);
        await assertNothingChanged(before, 'EXPLAIN (ANALYZE 0) DELETE');
        assert.equal(before.t_rows, 10);
      } finally {
        await client.end();
      }
    });

    it('an allowed EXPLAIN (ANALYZE 0) does not make the same text with ANALYZE 1 pass (analysis cache)', async () => {
      const before = await snapshot();
      const client = await p.connect();
      try {
        await client.query('EXPLAIN (ANALYZE 0) DELETE FROM t WHERE id > 7');
        await expectDenied(
          client.query('EXPLAIN (ANALYZE 1) DELETE FROM t WHERE id > 7'),
          'EXPLAIN (ANALYZE 1) after 0',
        );
        await client.query('EXPLAIN (ANALYZE 0) DELETE FROM t WHERE id > 8');
        await expectDenied(
          client.query('EXPLAIN (ANALYZE 1) DELETE FROM t WHERE id > 9'),
          'EXPLAIN (ANALYZE 1), other number',
        );
        await assertNothingChanged(before, 'EXPLAIN ANALYZE 0/1');
      } finally {
        await client.end();
      }
    });

    it('a denial inside BEGIN leaves the transaction aborted (25P02), and ROLLBACK recovers', async () => {
      const before = await snapshot();
      const client = await p.connect();
      try {
        await client.query('BEGIN');
        await expectDenied(client.query('DELETE FROM t'), 'DELETE in a transaction');
        await assert.rejects(client.query('select 1'), { code: '25P02' });
        await client.query('ROLLBACK');
        await assertSessionIntact(client, 'after ROLLBACK');
        await assertNothingChanged(before, 'DELETE in a transaction');
      } finally {
        await client.end();
      }
    });

    it('BEGIN, then SET TRANSACTION READ WRITE as its own statement: denied, the transaction stays read-only', async () => {
      const before = await snapshot();
      const client = await p.connect();
      try {
        await client.query('BEGIN');
        await expectDenied(client.query('SET TRANSACTION READ WRITE'), 'SET TRANSACTION READ WRITE');
        await assert.rejects(client.query('select 1'), { code: '25P02' });
        await client.query('ROLLBACK');
        await client.query('BEGIN');
        assert.deepEqual((await client.query('SHOW transaction_read_only')).rows, [
          { transaction_read_only: 'on' },
        ]);
        await client.query('COMMIT');
        await assertSessionIntact(client, 'after SET TRANSACTION READ WRITE');
        await assertNothingChanged(before, 'SET TRANSACTION READ WRITE');
      } finally {
        await client.end();
      }
    });

    it('control, on the server directly: RESET transaction_read_only makes a read-only transaction read-write, COMMIT AND CHAIN keeps it', async () => {
      // The proxy's pin, as a startup setting: the session's default is read-only.
      const pinned = await directPg(sharedCluster(), DB, { options: '-c default_transaction_read_only=on' });
      try {
        await pinned.query('BEGIN');
        assert.deepEqual((await pinned.query('SHOW transaction_read_only')).rows, [
          { transaction_read_only: 'on' },
        ]);
        await pinned.query('RESET transaction_read_only');
        assert.deepEqual((await pinned.query('SHOW transaction_read_only')).rows, [
          { transaction_read_only: 'off' },
        ]);
        await pinned.query('COMMIT AND CHAIN');
        assert.deepEqual((await pinned.query('SHOW transaction_read_only')).rows, [
          { transaction_read_only: 'off' },
        ]);
        await pinned.query("UPDATE t SET name = 'written' WHERE id = 1"); // the server lets it write
        await pinned.query('ROLLBACK');
      } finally {
        await pinned.end();
      }
    });

    it('control, on the server directly: with the pin, RESET ALL, DISCARD ALL and DEFAULT return to read-only', async () => {
      const pinned = await directPg(sharedCluster(), DB, { options: '-c default_transaction_read_only=on' });
      try {
        const dtro = async () =>
          (await pinned.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only;
        for (const back of [
          'RESET ALL',
          'DISCARD ALL',
          'RESET default_transaction_read_only',
          'SET default_transaction_read_only TO DEFAULT',
        ]) {
          await pinned.query('SET default_transaction_read_only = off');
          assert.equal(await dtro(), 'off');
          await pinned.query(back);
          assert.equal(await dtro(), 'on', back);
        }
      } finally {
        await pinned.end();
      }
    });

    it('through Airlock: RESET ALL and DISCARD ALL are allowed and leave the session read-only', async () => {
      const client = await p.connect();
      try {
        await client.query('RESET ALL');
        await assertSessionIntact(client, 'RESET ALL');
        await client.query('DISCARD ALL');
        await assertSessionIntact(client, 'DISCARD ALL');
        await client.query({ text: 'RESET ALL', queryMode: 'extended' } as pg.QueryConfig);
        await assertSessionIntact(client, 'RESET ALL (extended)');
      } finally {
        await client.end();
      }
    });

    it('BEGIN, then RESET transaction_read_only as its own statement: denied, the transaction stays read-only', async () => {
      const before = await snapshot();
      const client = await p.connect();
      try {
        await client.query('BEGIN');
        await expectDenied(
          client.query('RESET transaction_read_only'),
          'RESET transaction_read_only',
          'default',
        );
        await assert.rejects(client.query('select 1'), { code: '25P02' });
        await client.query('ROLLBACK');
        await assertSessionIntact(client, 'after RESET transaction_read_only');
        await assertNothingChanged(before, 'RESET transaction_read_only');
      } finally {
        await client.end();
      }
    });

    it("pg_dump's set_config over pg_settings and LOCK … IN ACCESS SHARE MODE are allowed", async () => {
      const client = await p.connect();
      try {
        const { rows } = await client.query(
          "SELECT set_config(name, 'view, foreign-table', false) AS v FROM pg_settings WHERE name = 'restrict_nonsystem_relation_kind'",
        );
        assert.deepEqual(rows, [{ v: 'view, foreign-table' }]);
        await client.query('BEGIN');
        await client.query('LOCK TABLE t IN ACCESS SHARE MODE');
        const locks = await direct.query(
          "select mode from pg_locks where relation = 't'::regclass and pid <> pg_backend_pid()",
        );
        assert.deepEqual(locks.rows, [{ mode: 'AccessShareLock' }]);
        await client.query('COMMIT');
        await assertSessionIntact(client, 'LOCK IN ACCESS SHARE MODE');
      } finally {
        await client.end();
      }
    });

    it('PREPARE of a DELETE and its EXECUTE are both denied by Airlock (not "does not exist" from the server)', async () => {
      const before = await snapshot();
      const client = await p.connect();
      try {
        await expectDenied(client.query('PREPARE p AS DELETE FROM t'), 'PREPARE p AS DELETE');
        const err = await expectDenied(client.query('EXECUTE p'), 'EXECUTE p');
        assert.match(err.message, /not prepared through Airlock/);
        await assertNothingChanged(before, 'PREPARE/EXECUTE');
      } finally {
        await client.end();
      }
    });

    it('PREPARE of a read and its EXECUTE are allowed', async () => {
      const client = await p.connect();
      try {
        await client.query('PREPARE r(int) AS SELECT count(*)::int AS n FROM t WHERE id > $1');
        assert.deepEqual((await client.query('EXECUTE r(5)')).rows, [{ n: 5 }]);
        await client.query('DEALLOCATE r');
        await expectDenied(client.query('EXECUTE r(5)'), 'EXECUTE after DEALLOCATE');
      } finally {
        await client.end();
      }
    });

    it('EXECUTE of a protocol-level prepared statement (never PREPAREd through Airlock) is denied', async () => {
      const client = await p.connect();
      try {
        // node-postgres prepares a named statement with Parse: the server knows "q1", Airlock's SQL
        // PREPARE bookkeeping does not.
        const named = await client.query({
          name: 'q1',
          text: 'select count(*)::int as n from t',
          values: [],
        });
        assert.deepEqual(named.rows, [{ n: 10 }]);
        const err = await expectDenied(client.query('EXECUTE q1'), 'EXECUTE q1');
        assert.match(err.message, /q1/);
      } finally {
        await client.end();
      }
    });

    it('parameterized writes through the extended protocol are denied', async () => {
      const before = await snapshot();
      const client = await p.connect();
      try {
        await expectDenied(client.query('DELETE FROM t WHERE id = $1', [1]), 'DELETE $1');
        await expectDenied(client.query('UPDATE t SET name = $1 WHERE id = $2', ['x', 2]), 'UPDATE $1');
        await expectDenied(client.query('INSERT INTO t VALUES ($1, $2)', [50, 'x']), 'INSERT $1');
        await expectDenied(
          client.query("SELECT set_config($1, 'off', false)", ['default_transaction_read_only']),
          'set_config($1)',
        );
        await assertSessionIntact(client, 'parameterized writes');
        await assertNothingChanged(before, 'parameterized writes');
      } finally {
        await client.end();
      }
    });

    it('a named prepared DELETE is denied at Parse, every time, and is never created', async () => {
      const before = await snapshot();
      const client = await p.connect();
      try {
        const del = { name: 'del', text: 'DELETE FROM t WHERE id = $1', values: [1] };
        await expectDenied(client.query(del), 'named DELETE (1st)');
        await expectDenied(client.query(del), 'named DELETE (2nd)');
        const { rows } = await client.query(
          "select count(*)::int as n from pg_prepared_statements where name = 'del'",
        );
        assert.deepEqual(rows, [{ n: 0 }]);
        // A named read on the same session works and can be executed again.
        const sel = { name: 'sel', text: 'select count(*)::int as n from t where id > $1', values: [0] };
        assert.deepEqual((await client.query(sel)).rows, [{ n: 10 }]);
        assert.deepEqual((await client.query({ ...sel, values: [8] })).rows, [{ n: 2 }]);
        await assertNothingChanged(before, 'named DELETE');
      } finally {
        await client.end();
      }
    });

    for (const setting of [
      'default_transaction_read_only=off',
      'role=postgres',
      'transaction_read_only=off',
    ]) {
      it(`a startup packet with -c ${setting} is refused with FATAL 42501`, async () => {
        const err = await rejection(p.connect({ options: `-c ${setting}` }), setting);
        assert.equal(err.code, '42501', `${err.code} ${err.message}`);
        assert.equal(err.severity, 'FATAL');
        assert.match(err.message, /^airlock: denied: /);
        assert.match(err.detail ?? '', /^Rule: [\w-]+$/);
      });
    }

    it('psql with PGOPTIONS="-c session_authorization=postgres" is refused at startup', async () => {
      const r = await psql(
        sharedCluster(),
        { ...proxiedPsqlEnv(p), PGOPTIONS: '-c session_authorization=postgres' },
        ['-c', 'select 1'],
      );
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /FATAL: {2}airlock: denied/);
    });

    it('an ordinary startup setting is accepted (control)', async () => {
      const c = await p.connect({ options: '-c work_mem=8MB' });
      try {
        assert.deepEqual((await c.query('show work_mem')).rows, [{ work_mem: '8MB' }]);
        await assertSessionIntact(c, 'startup work_mem');
      } finally {
        await c.end();
      }
    });

    it('psql \\copy t from stdin is denied and loads nothing', async () => {
      const before = await snapshot();
      const r = await psql(
        sharedCluster(),
        proxiedPsqlEnv(p),
        ['-v', 'ON_ERROR_STOP=1', '-c', '\\copy t from stdin'],
        '99\tsmuggled\n\\.\n',
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /ERROR: {2}airlock: denied/);
      assert.match(r.stderr, /DETAIL: {2}Rule: [\w-]+/);
      await assertNothingChanged(before, '\\copy from stdin');
    });

    it('psql sending "SELECT 1; DROP TABLE t" as one Query: denied as a whole, nothing printed', async () => {
      const before = await snapshot();
      const r = await psql(sharedCluster(), proxiedPsqlEnv(p), ['-c', 'SELECT 1 AS one; DROP TABLE t']);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /ERROR: {2}airlock: denied: statement 2 of 2/);
      await assertNothingChanged(before, 'SELECT 1; DROP TABLE t (psql)');
    });

    it('the user function is refused by name, as a function Airlock does not know', async () => {
      const client = await p.connect();
      try {
        const err = await expectDenied(client.query('SELECT purge_t()'), 'SELECT purge_t()');
        assert.match(err.message, /purge_t/);
        assert.match(err.message, /does not know to be safe/);
      } finally {
        await client.end();
      }
    });
  });

  /**
   * PostgreSQL resolves a function name by argument types and search_path, not by spelling: a user
   * function can answer to a built-in's name (an overload, or a search_path that puts public first), and
   * an operator is a function call too. Airlock must not take them for the safe built-ins.
   */
  describe('user functions that PostgreSQL resolves in place of a built-in', () => {
    before(async () => {
      await direct.query(`
        create function public.length(i integer) returns text language sql
          as $$ select 'user length(' || i || ') ran' $$;
        create function public.lower(s text) returns text language sql
          as $$ select 'user lower(' || s || ') ran' $$;
        create function public.sneaky_eq(a int, b int) returns boolean language sql
          as $$ select pg_advisory_lock(4242) is not null $$;
        create operator public.=== (leftarg = int, rightarg = int, function = public.sneaky_eq);
      `);
    });
    after(async () => {
      await direct.query(`
        drop operator if exists public.=== (int, int);
        drop function if exists public.sneaky_eq(int, int);
        drop function if exists public.lower(text);
        drop function if exists public.length(integer);
      `);
    });

    it('an overload of a built-in name (length(integer)) is not taken for the built-in', async () => {
      const client = await p.connect();
      try {
        await expectDenied(client.query('SELECT length(42)'), 'SELECT length(42)');
      } finally {
        await client.end();
      }
    });

    it('SET search_path = public, pg_catalog is refused; and a user lower(text) never passes for the built-in', async () => {
      const client = await p.connect();
      try {
        await expectDenied(
          client.query('SET search_path = public, pg_catalog'),
          'SET search_path = public, pg_catalog',
        );
        await expectDenied(
          client.query("SELECT set_config('search_path', 'public, pg_catalog', false)"),
          'set_config search_path with public first',
        );
        // Even without a search_path change, a user function named like a built-in is not trusted.
        await expectDenied(client.query("SELECT lower('X')"), "SELECT lower('X') while public.lower exists");
      } finally {
        await client.end();
      }
    });

    it('a user-defined operator (which calls a user function) is not taken for a built-in one', async () => {
      const before = await snapshot();
      const client = await p.connect();
      try {
        await expectDenied(client.query('SELECT 1 === 1'), 'SELECT 1 === 1');
        await assertNothingChanged(before, 'user operator');
      } finally {
        await client.end();
      }
    });
  });
});
