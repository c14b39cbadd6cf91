import assert from 'node:assert/strict';
import { analyzeSql } from '../../src/core/sql/analyze';
import { loadSqlParser } from '../../src/core/sql/parser';
import { qualifiedName, type StatementFacts } from '../../src/core/sql/facts';

function one(sql: string): StatementFacts {
  const a = analyzeSql(sql);
  assert.ok(a.ok, `did not parse: ${sql}`);
  assert.equal(a.statements.length, 1, sql);
  return a.statements[0];
}
const rels = (f: StatementFacts) => f.relations.map((r) => `${qualifiedName(r)}:${r.access}`).sort();
const fns = (f: StatementFacts) => f.functions.map((x) => `${x.name}:${x.classification.class}`).sort();

describe('statement analysis (libpg-query parse tree)', () => {
  before(() => loadSqlParser());

  it('classifies statements by what they do', () => {
    const cases: Array<[string, string, string]> = [
      ['select 1', 'read', 'SELECT'],
      ['select * from t for update', 'write', 'SELECT FOR UPDATE/SHARE'],
      ['select * into t2 from t', 'ddl', 'SELECT INTO'],
      ['create table t2 as select 1', 'ddl', 'CREATE TABLE AS'],
      ['insert into t values (1) on conflict do nothing', 'write', 'INSERT'],
      ['merge into t using s on t.a = s.a when matched then delete', 'write', 'MERGE'],
      ['copy t to stdout', 'read', 'COPY TO STDOUT'],
      ['copy t from stdin', 'write', 'COPY FROM STDIN'],
      ["copy t to '/tmp/x'", 'utility', 'COPY TO FILE'],
      ["copy t from program 'ls'", 'utility', 'COPY FROM PROGRAM'],
      ['copy (delete from t returning *) to stdout', 'write', 'COPY TO STDOUT'],
      ['explain delete from t', 'read', 'EXPLAIN DELETE'],
      ['explain analyze delete from t', 'write', 'EXPLAIN ANALYZE DELETE'],
      ['explain (analyze false) delete from t', 'read', 'EXPLAIN DELETE'],
      ['explain (analyze on, buffers) select 1', 'read', 'EXPLAIN ANALYZE SELECT'],
      ['explain (analyze off, analyze on) delete from t', 'write', 'EXPLAIN ANALYZE DELETE'],
      ['explain (analyze on, analyze off) delete from t', 'read', 'EXPLAIN DELETE'],
      ['show work_mem', 'read', 'SHOW'],
      ['set work_mem = 1000', 'session', 'SET'],
      ['reset all', 'session', 'RESET'],
      ['begin', 'transaction', 'BEGIN'],
      ['prepare p as delete from t', 'write', 'PREPARE DELETE'],
      ['declare c cursor for select 1', 'read', 'DECLARE CURSOR SELECT'],
      ['fetch 10 from c', 'read', 'FETCH'],
      ['vacuum t', 'utility', 'VACUUM'],
      ['analyze t', 'utility', 'ANALYZE'],
      ['lock t', 'utility', 'LOCK'],
      ['do $$begin end$$', 'utility', 'DO'],
      ['notify ch', 'write', 'NOTIFY'],
      ['listen ch', 'session', 'LISTEN'],
      ['drop table t', 'ddl', 'DROP TABLE'],
      ['create index on t (a)', 'ddl', 'CREATE INDEX'],
      ['alter system set work_mem = 1', 'dcl', 'ALTER SYSTEM'],
      ['grant select on t to public', 'dcl', 'GRANT'],
      ['truncate t', 'write', 'TRUNCATE'],
    ];
    for (const [sql, kind, command] of cases) {
      const f = one(sql);
      assert.equal(f.kind, kind, `${sql}: kind`);
      assert.equal(f.command, command, `${sql}: command`);
      assert.deepEqual(f.problems, [], `${sql}: problems`);
    }
  });

  it('flags read-write transactions and security settings', () => {
    assert.ok(one('start transaction read write').flags.includes('read-write-transaction'));
    assert.ok(!one('start transaction read only').flags.includes('read-write-transaction'));
    assert.ok(one('set transaction read write').flags.includes('read-write-transaction'));
    assert.ok(
      one('set session characteristics as transaction read write').flags.includes('read-write-transaction'),
    );
    assert.ok(one('set default_transaction_read_only = off').flags.includes('read-write-transaction'));
    assert.ok(!one('set default_transaction_read_only = on').flags.includes('read-write-transaction'));
    assert.ok(one('set role postgres').flags.includes('security-setting'));
    assert.ok(one('set session authorization postgres').flags.includes('security-setting'));
    assert.ok(one("select set_config('role', 'x', false)").flags.includes('security-setting'));
    // pg_catalog after another schema would let a user function shadow a built-in.
    assert.deepEqual(one('set search_path = public, app').flags, []);
    assert.deepEqual(one('set search_path = pg_catalog, public').flags, []);
    assert.ok(one('set search_path = public, pg_catalog').flags.includes('security-setting'));
    assert.ok(
      one("select set_config('search_path', 'public, pg_catalog', false)").flags.includes('security-setting'),
    );
    assert.deepEqual(one("select set_config('search_path', '', false)").flags, []);
  });

  it('flags every spelling that could leave read-only off: only a constant "on" is not flagged', () => {
    const flagged = [
      'set default_transaction_read_only = off',
      "set default_transaction_read_only = 'of'",
      'set local transaction_read_only = false',
      'set transaction_read_only = 0',
      'reset transaction_read_only',
      'reset default_transaction_read_only',
      'set transaction_read_only to default',
      'set local default_transaction_read_only to default',
      'set default_transaction_read_only from current',
      'set "Transaction_Read_Only" = off',
      "select set_config('transaction_read_only', 'off', true)",
      "select set_config('default_transaction_read_only', current_setting('x'), false)",
      "select pg_catalog.set_config('Default_Transaction_Read_Only', 'no', false)",
      'begin read write',
      'begin read only, read write',
      'start transaction isolation level serializable, read write',
      'set transaction read write',
      'set session characteristics as transaction read write',
      "select set_config(name, 'off', false) from pg_settings where name = 'transaction_read_only'",
    ];
    for (const sql of flagged) assert.ok(one(sql).flags.includes('read-write-transaction'), sql);
    for (const sql of [
      'set default_transaction_read_only = on',
      "set transaction_read_only = 'TRUE'",
      'set local transaction_read_only = 1',
      "select set_config('transaction_read_only', 'on', true)",
      'begin read only',
      'set session characteristics as transaction read only',
      'commit and chain',
      // The proxy pins default_transaction_read_only in the startup packet: RESET ALL returns to it.
      'reset all',
      'discard all',
    ]) {
      assert.deepEqual(one(sql).flags, [], sql);
    }
  });

  it('flags every change of role, session authorization and session_replication_role, RESET included', () => {
    for (const sql of [
      'set role postgres',
      'reset role',
      'set role to default',
      'set role none',
      'set session authorization postgres',
      'set session authorization default',
      'reset session authorization',
      'set session_replication_role = replica',
      'reset session_replication_role',
      'set local session_replication_role to default',
      'set search_path to default',
      'reset search_path',
      'set search_path from current',
      "select set_config('session_replication_role', 'replica', false)",
    ]) {
      assert.ok(one(sql).flags.includes('security-setting'), sql);
    }
  });

  it('flags changes to the lexical environment Airlock parses with, however spelled', () => {
    const lexical = (sql: string) => one(sql).flags.includes('lexical-setting');
    for (const sql of [
      'set standard_conforming_strings = off',
      'set local standard_conforming_strings to false',
      'set "STANDARD_CONFORMING_STRINGS" = 0',
      "set client_encoding = 'SJIS'",
      "set names 'gbk'",
      "set client_encoding to 'Shift_JIS'",
      "set client_encoding to 'mskanji'",
      "set client_encoding to 'EUC_TW'",
      'set backslash_quote = off',
      "select set_config('standard_conforming_strings', 'off', false)",
      "select pg_catalog.set_config('client_encoding', 'big5', true)",
      "select set_config('client_encoding', current_setting('x'), false)",
      "select set_config(name, 'off', false) from pg_settings where name = 'standard_conforming_strings'",
      "alter role postgres set client_encoding = 'sjis'",
      'alter database d set standard_conforming_strings = off',
      'alter role r in database d set standard_conforming_strings to off',
      'alter system set standard_conforming_strings = off',
      "create function f() returns int language sql set client_encoding = 'sjis' as 'select 1'",
      'create procedure p() language sql set standard_conforming_strings = off as $$ select 1 $$',
      'alter function f() set standard_conforming_strings = off',
      'alter procedure p() set backslash_quote = off',
    ]) {
      assert.ok(lexical(sql), sql);
    }
    for (const sql of [
      'set standard_conforming_strings = on',
      "set client_encoding = 'UTF8'",
      "set client_encoding = 'utf-8'",
      "set names 'Unicode'",
      "set client_encoding = 'sql_ascii'",
      // ASCII-safe encodings the proxy decodes exactly (client-encodings.ts).
      "set client_encoding to 'LATIN1'",
      "set client_encoding to 'iso-8859-15'",
      "set names 'EUC_JP'",
      // RESET and DEFAULT return to the value the proxy pins in the upstream startup packet.
      'reset client_encoding',
      'set standard_conforming_strings to default',
      'set names default',
      'set backslash_quote = safe_encoding',
      "select set_config('client_encoding', 'UTF8', false)",
      'alter role r reset standard_conforming_strings',
    ]) {
      assert.ok(!lexical(sql), sql);
    }
    // Settings for sessions to come, or for a function's calls, are also DDL/DCL (denied by read-only).
    for (const [sql, kind] of [
      ['alter role r set default_transaction_read_only = off', 'dcl'],
      ['alter role r in database d set transaction_read_only = off', 'dcl'],
      ['alter system set default_transaction_read_only = off', 'dcl'],
      ['alter database d set default_transaction_read_only = off', 'ddl'],
      [
        "create function f() returns int language sql set default_transaction_read_only = off as 'select 1'",
        'ddl',
      ],
      ['alter function f() set default_transaction_read_only = off', 'ddl'],
    ]) {
      const f = one(sql);
      assert.equal(f.kind, kind, sql);
      assert.ok(f.flags.includes('read-write-transaction'), sql);
    }
    assert.deepEqual(one("select set_config('client_encoding', 'sjis', false)").details.lexical, [
      'client_encoding',
    ]);
  });

  it("classifies set_config over pg_settings by the names its WHERE allows (pg_dump's prologue)", () => {
    const pgDump = one(
      "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings WHERE name = 'restrict_nonsystem_relation_kind'",
    );
    assert.deepEqual(fns(pgDump), ['set_config:safe']);
    assert.deepEqual(pgDump.flags, []);
    for (const sql of [
      "select set_config(s.name, 'x', false) from pg_catalog.pg_settings s where s.name in ('work_mem', 'jit') and true",
      "select set_config(name, 'x', false) from pg_settings where 'work_mem' = name",
      "select set_config(name, 'x', false) from pg_settings where name = any (array['work_mem', 'jit'])",
    ]) {
      // (s.name also reads as the function name(s): attribute notation)
      assert.deepEqual(
        fns(one(sql)).filter((f) => f.startsWith('set_config')),
        ['set_config:safe'],
        sql,
      );
    }
    assert.ok(
      one(
        "select set_config(name, 'x', false) from pg_settings where name in ('work_mem', 'role')",
      ).flags.includes('security-setting'),
    );
    // Anything else may name any setting: a config change rules must permit.
    for (const sql of [
      "select set_config(name, 'x', false) from pg_settings where name = 'work_mem' or true",
      "select set_config(name, 'x', false) from pg_settings where name like 'work_mem'",
      "select set_config(name, 'x', false) from pg_settings, t where name = 'work_mem'",
      "select set_config(name, 'x', false) from public.pg_settings where name = 'work_mem'",
      "with pg_settings as (select 'role'::char(9) as name) select set_config(name, 'x', false) from pg_settings where name = 'work_mem'",
      "select set_config(name, 'x', false) from pg_settings where name = 'role   '",
      "select 1 from pg_settings where name = 'work_mem' and set_config(name, 'x', false) is not null",
      "select (select set_config(name, 'x', false)) from pg_settings where name = 'work_mem'",
    ]) {
      assert.deepEqual(fns(one(sql)), ['set_config:dangerous'], sql);
    }
    // pg_settings' update rule calls set_config for each row.
    assert.deepEqual(fns(one("update pg_settings set setting = 'x' where name = 'role'")), [
      'set_config:dangerous',
    ]);
  });

  it('takes LOCK … IN ACCESS SHARE MODE for a read, other lock modes for utility', () => {
    const share = one('lock table only t, s.u in access share mode');
    assert.equal(share.kind, 'read');
    assert.deepEqual(rels(share), ['s.u:read', 't:read']);
    for (const mode of ['', ' in row share mode', ' in share mode', ' in access exclusive mode']) {
      const f = one(`lock table t${mode}`);
      assert.equal(f.kind, 'utility', mode);
      assert.deepEqual(rels(f), ['t:write'], mode);
    }
  });

  it('treats set_config of an ordinary setting as a SET, and of a computed setting name as a config change', () => {
    assert.deepEqual(fns(one("select set_config('search_path', '', false)")), ['set_config:safe']);
    const computed = one("select set_config(name, 'x', false) from pg_settings where name like 'work%'");
    assert.deepEqual(fns(computed), ['set_config:dangerous']);
    assert.deepEqual(computed.problems, []);
  });

  it('finds relations with their access through CTEs, subqueries, joins and set operations', () => {
    assert.deepEqual(rels(one('update t set a = s.a from s where t.id = s.id')), ['s:read', 't:write']);
    assert.deepEqual(rels(one('delete from t using u where t.id = u.id')), ['t:write', 'u:read']);
    assert.deepEqual(rels(one('merge into t using s on t.a = s.a when matched then delete')), [
      's:read',
      't:write',
    ]);
    assert.deepEqual(rels(one('select * from a union select * from b.c')), ['a:read', 'b.c:read']);
    assert.deepEqual(rels(one('select (select max(x) from m) from n where exists (select 1 from o)')), [
      'm:read',
      'n:read',
      'o:read',
    ]);
    const cte = one('with d as (delete from t returning *) select * from d');
    assert.equal(cte.kind, 'write');
    assert.ok(cte.flags.includes('writable-cte'));
    assert.deepEqual(rels(cte), ['t:write']);
  });

  it('never takes the target of a write for a CTE of the same name', () => {
    assert.deepEqual(rels(one('with t as (select 1) delete from t')), ['t:write']);
    assert.deepEqual(rels(one('with t as (select 1) insert into t select * from t')), ['t:write']);
  });

  it('scopes CTE names: a later CTE name does not hide a real table an earlier CTE reads', () => {
    assert.deepEqual(rels(one('with a as (select * from b), b as (select 1) select * from a, b')), [
      'b:read',
    ]);
    assert.deepEqual(
      rels(one('with recursive r(n) as (select 1 union all select n + 1 from r) select * from r')),
      [],
    );
    // A CTE defined inside a subquery is not visible outside it.
    assert.deepEqual(
      rels(one('select * from secrets, (with secrets as (select 1) select * from secrets) s')),
      ['secrets:read'],
    );
  });

  it('finds functions anywhere: FROM, WHERE, ORDER BY, joins, VALUES, defaults, nested subqueries', () => {
    assert.deepEqual(fns(one("select * from pg_read_file('/etc/passwd')")), ['pg_read_file:dangerous']);
    assert.deepEqual(fns(one('select 1 from t where a = f1() order by f2()')), ['f1:unknown', 'f2:unknown']);
    assert.deepEqual(fns(one('select 1 from t join u on t.a = lower(u.b)')), ['lower:safe']);
    assert.deepEqual(fns(one("insert into t values (nextval('s'))")), ['nextval:dangerous']);
    assert.deepEqual(fns(one('create table t (a int default myfn())')), ['myfn:unknown']);
    assert.deepEqual(fns(one('select (select (select lo_import(1)))')), ['lo_import:dangerous']);
    assert.deepEqual(fns(one('select 1 operator(myschema.+) 2')), ['operator(myschema.+):unknown']);
  });

  it('resolves columns to relations through aliases, and whole-row references to every column', () => {
    const f = one('select c.email, o.total, t from customers c join orders o on o.cid = c.id, things t');
    const cols = f.columns.map((c) => `${c.relation}.${c.column}`);
    assert.ok(cols.includes('customers.email'));
    assert.ok(cols.includes('orders.total'));
    assert.ok(cols.includes('things.*'), cols.join());
    assert.deepEqual(
      one('select * from customers').columns.map((c) => `${c.relation}.${c.column}`),
      ['customers.*'],
    );
  });

  it('sees through unicode escapes and comments, because the server grammar does', () => {
    assert.deepEqual(rels(one('delete from U&"d\\0061ta"')), ['data:write']);
    const a = analyzeSql('select/**/1;/*x*/drop/**/table/**/t');
    assert.ok(a.ok);
    assert.deepEqual(
      a.statements.map((s) => s.kind),
      ['read', 'ddl'],
    );
  });

  it('splits multi-statement strings with each statement its own text, also after non-ASCII text', () => {
    const a = analyzeSql("select 'héllo ✓'; delete from t");
    assert.ok(a.ok);
    assert.deepEqual(
      a.statements.map((s) => s.text),
      ["select 'héllo ✓'", 'delete from t'],
    );
  });

  it('reports a parse error instead of facts', () => {
    const a = analyzeSql('selec 1');
    assert.equal(a.ok, false);
    assert.match(a.ok ? '' : a.error, /syntax error/);
  });
});
