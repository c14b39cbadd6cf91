import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { analyzeSql } from '../../src/core/sql/analyze';
import { loadSqlParser } from '../../src/core/sql/parser';
import { tagFits } from '../../src/proxy/postgres/reply-verifier';
import { sharedCluster } from '../helpers/global-fixtures';
import { RawClient } from '../helpers/raw-client';
import { dropDatabase, freshDatabase } from '../helpers/policy-fixtures';

/**
 * The reply verifier's table of command tags against the real server: every statement of the corpus is
 * analysed as the gate would, run directly on PostgreSQL 15, and the tag the server answers must fit the
 * analysed command — while the tag of another command must not.
 */
const DB = 'reply_tags';

const CORPUS = `
select 1; values (1); table t; select * into t2 from t; select * from t for update;
create table t3 as select 1 as a; create materialized view mv as select 1 as a;
insert into t values (9, 'x'); update t set name = name where id = 9; delete from t where id = 9;
merge into t using (select 1 as id) s on t.id = s.id when matched then do nothing;
with d as (delete from t where id = 99 returning 1) select count(*) from d;
copy (select 1) to stdout; explain select 1; explain (analyze) select 1;
set work_mem = '4MB'; set local work_mem = '4MB'; reset work_mem; reset all; show work_mem;
begin; set constraints all deferred; savepoint s; release s; savepoint s2; rollback to savepoint s2;
lock t in access share mode; declare c cursor for select 1; fetch c; move c; close c; close all;
set transaction isolation level repeatable read; commit;
start transaction; rollback; end; abort; begin; select 1/0; commit;
prepare p as select 1; execute p; deallocate p; prepare q as select 1; deallocate all;
listen x; unlisten x; unlisten *; notify x; discard plans; discard sequences; discard temp; discard all;
do $$ begin end $$; call pr(); vacuum t; analyze t; reindex table t; checkpoint; truncate t3;
create table x (a int); alter table x add column b int; create index xi on x (a); alter index xi rename to xj;
cluster x using xj; comment on table x is 'x'; create view v as select 1 as a; drop view v;
create function f() returns int language sql as 'select 1'; alter function f() stable; drop function f();
create role tag_role; grant select on t to tag_role; revoke select on t from tag_role; drop owned by tag_role;
drop role tag_role; refresh materialized view mv; create schema s1; drop schema s1; drop table x;
create sequence sq; alter sequence sq restart; drop sequence sq; create type ty as (a int); drop type ty;
create extension if not exists plpgsql; security label for dummy on table t is 'x'
`;

describe('reply verification: command tags of the real server', () => {
  before(async () => {
    await loadSqlParser();
    await freshDatabase(
      sharedCluster(),
      DB,
      `create table t (id int primary key, name text);
       create procedure pr() language sql as 'select 1';`,
    );
  });
  after(() => dropDatabase(sharedCluster(), DB));

  it('every tag the server answers fits the analysed command, and no other command', async () => {
    const analysis = analyzeSql(CORPUS);
    assert.ok(analysis.ok, 'the corpus parses');
    const cluster = sharedCluster();
    const c = await RawClient.connect({
      name: 'direct',
      kind: 'postgres',
      host: cluster.host,
      port: cluster.port,
      user: cluster.user,
      password: cluster.password,
      database: DB,
    });
    const checked: string[] = [];
    const prepared = new Map<string, string>();
    try {
      for (const s of analysis.statements) {
        if (s.command.startsWith('PREPARE ') && s.details.prepared)
          prepared.set(s.details.prepared, s.command.slice('PREPARE '.length));
        c.send(serialize.query(s.text));
        const replies = await c.untilReady();
        const error = replies.find((r) => r.type === 'E');
        const tag = replies.find((r) => r.type === 'C')?.text;
        if (tag === undefined) {
          // Expected failures: division by zero, COMMIT of the failed block, an unknown label provider.
          assert.ok(error, `${s.text}: neither a tag nor an error`);
          continue;
        }
        // The gate decides EXECUTE as what was prepared ("EXECUTE SELECT").
        const command =
          s.command === 'EXECUTE' ? `EXECUTE ${prepared.get(s.details.prepared ?? '')}` : s.command;
        const summary = { command, kind: s.kind, relations: [] };
        assert.ok(tagFits(summary, tag), `${s.text}: "${tag}" does not fit ${s.command} (${s.kind})`);
        checked.push(s.command);
        // A row-count tag of another command, or a definition's tag outside DDL, never fits.
        for (const other of ['DELETE 3', 'INSERT 0 1', 'COPY 1', 'DROP TABLE']) {
          const definition = s.kind === 'ddl' || s.kind === 'dcl';
          if (other.split(' ')[0] === tag.split(' ')[0] || (definition && other === 'DROP TABLE')) continue;
          assert.ok(!tagFits(summary, other), `${s.text}: "${other}" must not fit ${s.command}`);
        }
      }
    } finally {
      c.close();
    }
    assert.ok(checked.length >= 80, `only ${checked.length} statements answered with a tag`);
  });
});
