import assert from 'node:assert/strict';
import pg from 'pg';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import {
  directPg,
  directPsqlEnv,
  dropDatabase,
  freshDatabase,
  proxiedPsqlEnv,
  psql,
  type PsqlResult,
} from '../helpers/policy-fixtures';

/**
 * What a read-only policy must let through untouched: everything an agent does to look at a database.
 * Each psql command or script runs once directly and once through Airlock (built-in read-only preset),
 * and what the user sees — stdout, stderr, exit status — must be exactly the same.
 */
const DB = 'ro_compat';

const SCHEMA = `
create schema app;
create table app.customers (id int primary key, name text not null, region text);
create table public.t (id int primary key, name text not null, customer_id int references app.customers(id), amount numeric(10,2));
create index t_name_idx on public.t (name);
create view public.v as select id, name from public.t where id % 2 = 0;
create sequence public.s;
create function app.total(cid int) returns numeric language sql stable
  as $$ select coalesce(sum(amount), 0) from public.t where customer_id = cid $$;
create table public.tree (id int primary key, parent int references public.tree(id), label text);
create type app.tier as enum ('free', 'pro');
create table public.serials (id serial primary key, tier app.tier, check (id > 0));
insert into app.customers values (1, 'Ada', 'eu'), (2, 'Bob', 'us'), (3, 'Cy', null);
insert into public.t select g, 'item ' || g, 1 + g % 3, g * 1.5 from generate_series(1, 30) g;
insert into public.tree values (1, null, 'root'), (2, 1, 'a'), (3, 1, 'b'), (4, 2, 'a.1'), (5, 4, 'a.1.x');
analyze;
`;

describe('read-only policy: reads behave exactly as on a direct connection', function () {
  this.timeout(60_000);
  let p: ProxyUnderTest;

  before(async () => {
    await freshDatabase(sharedCluster(), DB, SCHEMA);
    p = await proxyFor(sharedCluster(), { database: DB, config: { policy: 'read-only' } });
  });
  after(async () => {
    await p?.close();
    await dropDatabase(sharedCluster(), DB);
  });

  /** Runs psql once directly and once through Airlock; the two must be identical (and succeed). */
  async function same(args: string[], input = ''): Promise<PsqlResult> {
    const direct = await psql(sharedCluster(), directPsqlEnv(sharedCluster(), DB), args, input);
    const proxied = await psql(sharedCluster(), proxiedPsqlEnv(p), args, input);
    assert.equal(direct.code, 0, `direct psql failed: ${direct.stderr}`);
    assert.deepEqual(
      { code: proxied.code, stdout: proxied.stdout, stderr: proxied.stderr },
      { code: direct.code, stdout: direct.stdout, stderr: direct.stderr },
    );
    assert.ok(direct.stdout.length > 0, 'the command printed nothing, so the comparison proves little');
    return direct;
  }

  it('control: psql through Airlock is in a read-only session and writes are denied', async () => {
    const args = ['-At', '-c', 'show default_transaction_read_only'];
    assert.equal((await psql(sharedCluster(), directPsqlEnv(sharedCluster(), DB), args)).stdout, 'off\n');
    assert.equal((await psql(sharedCluster(), proxiedPsqlEnv(p), args)).stdout, 'on\n');
    const write = await psql(sharedCluster(), proxiedPsqlEnv(p), ['-c', 'delete from t']);
    assert.equal(write.code, 1);
    assert.match(write.stderr, /ERROR: {2}airlock: denied/);
  });

  describe('psql meta-commands', () => {
    for (const cmd of [
      '\\d',
      '\\dt',
      '\\df',
      '\\l',
      '\\dn',
      '\\dv',
      '\\d t',
      '\\du',
      '\\di',
      '\\ds',
      '\\df app.*',
      '\\d+ t',
      '\\dt+',
      '\\sf app.total',
      '\\dx',
      '\\dT',
      '\\dp t',
    ]) {
      it(cmd, async () => {
        await same(['-v', 'ON_ERROR_STOP=1', '-c', cmd]);
      });
    }

    it('\\d t shows the table, its index and foreign key (the output is real)', async () => {
      const r = await same(['-c', '\\d t']);
      assert.match(r.stdout, /Table "public\.t"/);
      assert.match(r.stdout, /"t_name_idx" btree \(name\)/);
      assert.match(r.stdout, /FOREIGN KEY \(customer_id\) REFERENCES app\.customers\(id\)/);
    });
  });

  describe('queries', () => {
    const QUERIES: Array<{ name: string; sql: string }> = [
      {
        name: 'information_schema.columns',
        sql: "select table_name, column_name, data_type from information_schema.columns where table_schema = 'public' order by 1, 2",
      },
      {
        name: 'information_schema.tables and table_constraints',
        sql: `select t.table_schema, t.table_name, t.table_type, c.constraint_type
                from information_schema.tables t
                left join information_schema.table_constraints c
                  on c.table_schema = t.table_schema and c.table_name = t.table_name
               where t.table_schema in ('public', 'app') order by 1, 2, 4`,
      },
      {
        name: 'pg_catalog introspection',
        sql: `select n.nspname, c.relname, c.relkind, pg_catalog.pg_get_userbyid(c.relowner) as owner,
                     pg_catalog.obj_description(c.oid, 'pg_class') is null as no_comment
                from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
               where n.nspname in ('public', 'app') order by 1, 2`,
      },
      {
        name: 'constraint and index definitions',
        sql: `select conname, pg_get_constraintdef(oid) from pg_constraint where conrelid = 'public.t'::regclass order by 1;
              select indexrelid::regclass, pg_get_indexdef(indexrelid) from pg_index where indrelid = 'public.t'::regclass order by 1;`,
      },
      {
        name: 'CTE',
        sql: 'with big as (select * from t where amount > 30) select count(*), sum(amount) from big',
      },
      {
        name: 'recursive CTE',
        sql: `with recursive walk(id, path, depth) as (
                select id, label, 0 from tree where parent is null
                union all
                select c.id, w.path || '/' || c.label, w.depth + 1 from tree c join walk w on c.parent = w.id)
              select * from walk order by path`,
      },
      {
        name: 'window functions',
        sql: `select id, customer_id, amount,
                     row_number() over (partition by customer_id order by amount desc) as rn,
                     sum(amount) over (partition by customer_id) as total,
                     lag(amount) over (order by id) as prev
                from t order by id`,
      },
      {
        name: 'aggregates with GROUP BY / HAVING',
        sql: `select customer_id, count(*), min(amount), max(amount), avg(amount)::numeric(10,2), string_agg(id::text, ',' order by id)
                from t group by customer_id having count(*) > 5 order by 1`,
      },
      {
        name: 'joins',
        sql: `select c.name, c.region, count(t.id) as n
                from app.customers c left join t on t.customer_id = c.id
               group by c.name, c.region order by c.name`,
      },
      {
        name: 'subqueries (IN, EXISTS, scalar)',
        sql: `select id, (select name from app.customers c where c.id = t.customer_id) as customer
                from t
               where customer_id in (select id from app.customers where region is not null)
                 and exists (select 1 from app.customers c where c.id = t.customer_id and c.name <> 'Cy')
               order by id limit 7`,
      },
      {
        name: 'a view and set operations',
        sql: 'select * from v union all select 0, $$zero$$ except select 2, $$item 2$$ order by 1',
      },
      {
        name: 'EXPLAIN without ANALYZE',
        sql: 'explain (costs off) select c.name, count(*) from t join app.customers c on c.id = t.customer_id group by c.name',
      },
      {
        name: 'EXPLAIN (ANALYZE false) of a DELETE (plans, never runs)',
        sql: 'explain (analyze false, costs off) delete from t where id = 1',
      },
      { name: 'SHOW', sql: 'show work_mem; show search_path; show server_encoding' },
      {
        name: 'sequence reads',
        sql: "select last_value, is_called from s; select pg_get_serial_sequence('t', 'id') is null",
      },
      {
        name: 'explicit read-only transaction',
        sql: 'begin read only; select count(*) from t; select name from app.customers order by id; commit',
      },
      { name: 'transaction rolled back', sql: 'begin; select max(id) from t; rollback' },
      {
        name: 'savepoints in a read-only transaction',
        sql: 'begin; savepoint a; select 1; rollback to savepoint a; release savepoint a; commit',
      },
      {
        name: 'DECLARE CURSOR / FETCH / CLOSE in a transaction',
        sql: `begin;
              declare c cursor for select id, name from t order by id;
              fetch 3 from c;
              fetch next from c;
              move forward 10 in c;
              fetch 2 from c;
              close c;
              commit`,
      },
      {
        name: 'ordinary settings: SET statement_timeout, SET LOCAL, RESET',
        sql: "set statement_timeout = '5s'; show statement_timeout; begin; set local work_mem = '2MB'; show work_mem; commit; show work_mem; reset statement_timeout; show statement_timeout",
      },
      { name: 'LISTEN / UNLISTEN', sql: 'listen ch; unlisten ch; listen other; unlisten *' },
      {
        name: 'prepared statements',
        sql: 'prepare q(int) as select name from t where id = $1; execute q(3); deallocate q',
      },
      {
        name: 'psql variables and \\gset',
        sql: 'select count(*) as n from t \\gset\n\\echo rows: :n\nselect :n * 2 as twice;',
      },
      { name: 'COPY t TO STDOUT (psql \\copy)', sql: '\\copy t to stdout' },
      {
        name: 'COPY (query) TO STDOUT as CSV (psql \\copy)',
        sql: '\\copy (select * from t where id < 5 order by id) to stdout with (format csv, header)',
      },
    ];

    for (const q of QUERIES) {
      it(q.name, async () => {
        await same(['-v', 'ON_ERROR_STOP=1', '-f', '-'], q.sql + '\n');
      });
    }

    it('psql \\copy t to stdout prints the table, row for row', async () => {
      const r = await same(['-c', '\\copy t to stdout']);
      assert.equal(r.stdout.trimEnd().split('\n').length, 30);
      assert.equal(r.stdout.split('\n')[0], '1\titem 1\t2\t1.50');
    });
  });

  describe('node-postgres (simple and extended protocol): same rows, fields and tags', () => {
    let direct: pg.Client;
    let proxied: pg.Client;
    before(async () => {
      direct = await directPg(sharedCluster(), DB);
      proxied = await p.connect();
    });
    after(async () => {
      await proxied?.end();
      await direct?.end();
    });

    const shape = (r: pg.QueryResult) => ({
      command: r.command,
      rowCount: r.rowCount,
      fields: r.fields.map((f) => [f.name, f.dataTypeID]),
      rows: r.rows,
    });

    const CASES: Array<{ name: string; query: pg.QueryConfig }> = [
      {
        name: 'a join',
        query: {
          text: 'select c.name, t.id, t.amount from t join app.customers c on c.id = t.customer_id order by t.id',
        },
      },
      {
        name: 'parameters',
        query: { text: 'select id, name from t where id between $1 and $2 order by id', values: [3, 6] },
      },
      {
        name: 'a named prepared statement',
        query: { name: 'by_customer', text: 'select count(*) from t where customer_id = $1', values: [2] },
      },
      {
        name: 'the same named statement again',
        query: { name: 'by_customer', text: 'select count(*) from t where customer_id = $1', values: [3] },
      },
      {
        name: 'catalog query with parameters',
        query: {
          text: 'select attname, atttypid::regtype::text from pg_attribute where attrelid = $1::regclass and attnum > 0 order by attnum',
          values: ['t'],
        },
      },
      {
        name: 'json and arrays',
        query: {
          text: "select json_agg(json_build_object('id', id, 'name', name) order by id) as j, array_agg(id order by id) as a from t where id < $1",
          values: [4],
        },
      },
      { name: 'SHOW', query: { text: 'show work_mem' } },
    ];

    for (const c of CASES) {
      it(c.name, async () => {
        const expected = shape(await direct.query(c.query));
        assert.ok(expected.rows.length > 0);
        assert.deepEqual(shape(await proxied.query(c.query)), expected);
      });
    }
  });

  /**
   * What IDEs, drivers and ORMs send when they connect and introspect (DataGrip, DBeaver over pgjdbc,
   * Prisma's schema engine, Django's introspection), written after their sources; parameters where the
   * tool binds them. `volatile`: the values legitimately differ between two sessions (transaction ids,
   * locks, sizes), so only the command, fields and row count are compared.
   */
  describe('IDE, driver and ORM connection prologues and introspection', () => {
    let direct: pg.Client;
    let proxied: pg.Client;
    before(async () => {
      direct = await directPg(sharedCluster(), DB);
      proxied = await p.connect();
    });
    after(async () => {
      await proxied?.end();
      await direct?.end();
    });

    const shape = (r: pg.QueryResult, volatile: boolean) => ({
      command: r.command,
      rowCount: r.rowCount,
      fields: r.fields.map((f) => [f.name, f.dataTypeID]),
      rows: volatile ? undefined : r.rows,
    });

    const SCHEMAS = ['public', 'app'];
    const TOOLS: Array<{ name: string; text: string; values?: unknown[]; volatile?: boolean }> = [
      // --- DataGrip ---
      {
        name: 'DataGrip: database and schemas',
        text: 'select current_database() as a, current_schemas(false) as b',
      },
      { name: 'DataGrip: version', text: 'select version()' },
      { name: 'DataGrip: isolation level', text: 'SHOW TRANSACTION ISOLATION LEVEL' },
      { name: 'DataGrip: application_name', text: "SET application_name = 'DataGrip 2023.3.4'" },
      {
        name: 'DataGrip: current transaction id',
        text: 'select case when pg_catalog.pg_is_in_recovery() then null else pg_catalog.txid_current()::varchar::bigint end as current_txid',
        volatile: true,
      },
      {
        name: 'DataGrip: server start time',
        text: "select round(extract(epoch from pg_catalog.pg_postmaster_start_time() at time zone 'UTC')) as startup_time",
      },
      {
        name: 'DataGrip: oldest transaction holding a lock',
        text: 'select L.transactionid::varchar::bigint as transaction_id from pg_catalog.pg_locks L where L.transactionid is not null order by pg_catalog.age(L.transactionid) desc limit 1',
        volatile: true,
      },
      {
        name: 'DataGrip: databases',
        text: `select N.oid::bigint as id, datname as name, D.description, datistemplate as is_template,
                      datallowconn as allow_connections, pg_catalog.pg_get_userbyid(N.datdba) as "owner"
                 from pg_catalog.pg_database N left join pg_catalog.pg_shdescription D on N.oid = D.objoid
                order by case when datname = pg_catalog.current_database() then -1::bigint else N.oid::bigint end`,
      },
      {
        name: 'DataGrip: schemas',
        text: `select N.oid::bigint as id, N.xmin as state_number, nspname as name, D.description,
                      pg_catalog.pg_get_userbyid(N.nspowner) as "owner"
                 from pg_catalog.pg_namespace N left join pg_catalog.pg_description D on N.oid = D.objoid
                order by case when nspname = pg_catalog.current_schema() then -1::bigint else N.oid::bigint end`,
      },
      {
        name: 'DataGrip: tables of a schema',
        text: `select T.relkind as table_kind, T.relname as table_name, T.oid as table_id, T.xmin as table_state_number,
                      T.reltablespace as tablespace_id, T.reloptions as options, T.relpersistence as persistence,
                      (select pg_catalog.array_agg(inhparent::bigint order by inhseqno)::varchar from pg_catalog.pg_inherits where T.oid = inhrelid) as ancestors,
                      (select pg_catalog.array_agg(inhrelid::bigint order by inhrelid)::varchar from pg_catalog.pg_inherits where T.oid = inhparent) as successors,
                      T.relispartition as is_partition, pg_catalog.pg_get_partkeydef(T.oid) as partition_key,
                      pg_catalog.pg_get_expr(T.relpartbound, T.oid) as partition_expression, T.relam am_id,
                      pg_catalog.pg_get_userbyid(T.relowner) as "owner"
                 from pg_catalog.pg_class T
                where relnamespace = $1::regnamespace and relkind in ('r', 'm', 'v', 'f', 'p')
                order by table_kind, table_id`,
        values: ['public'],
      },
      {
        name: 'DataGrip: columns of a schema',
        text: `with T as (select distinct T.oid as table_id, T.relname as table_name from pg_catalog.pg_class T
                           where T.relnamespace = $1::regnamespace and T.relkind in ('r', 'm', 'v', 'f', 'p'))
               select T.table_id, C.attnum as column_position, C.attname as column_name, C.xmin as column_state_number,
                      C.atttypmod as type_mod, C.attndims as dimensions_number,
                      pg_catalog.format_type(C.atttypid, C.atttypmod) as type_spec, C.atttypid as type_id,
                      C.attnotnull as mandatory, pg_catalog.pg_get_expr(D.adbin, T.table_id) as default_expression,
                      C.attisdropped as column_is_dropped, C.attidentity as identity_kind, C.attgenerated as generated
                 from T join pg_catalog.pg_attribute C on T.table_id = C.attrelid
                 left join pg_catalog.pg_attrdef D on (C.attrelid, C.attnum) = (D.adrelid, D.adnum)
                where attnum > 0 order by table_id, attnum`,
        values: ['public'],
      },
      {
        name: 'DataGrip: routines of a schema',
        text: `select P.oid as id, P.proname as name, pg_catalog.pg_get_function_arguments(P.oid) as arguments_def,
                      pg_catalog.pg_get_function_result(P.oid) as result_def, P.provolatile as volatile_kind,
                      P.prokind as kind, pg_catalog.pg_get_functiondef(P.oid) as source
                 from pg_catalog.pg_proc P where P.pronamespace = $1::regnamespace order by P.oid`,
        values: ['app'],
      },
      // --- DBeaver over pgjdbc ---
      { name: 'pgjdbc: extra_float_digits', text: 'SET extra_float_digits = 3' },
      {
        name: 'DBeaver: application_name',
        text: "SET application_name = 'DBeaver 23.1.0 - Main <ro_compat>'",
      },
      { name: 'DBeaver: schema and user', text: 'SELECT current_schema(),session_user' },
      {
        name: 'DBeaver/DataGrip: a read-only connection',
        text: 'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY',
      },
      { name: 'DBeaver: search_path', text: 'show search_path' },
      {
        name: 'DBeaver: standard_conforming_strings',
        text: "select name, setting from pg_catalog.pg_settings where name='standard_conforming_strings'",
      },
      {
        name: 'DBeaver: databases',
        text: `SELECT db.oid, db.datname, db.datdba, db.encoding, db.datallowconn, db.datistemplate
                 FROM pg_catalog.pg_database db WHERE datallowconn AND NOT datistemplate OR db.datname = $1
                ORDER BY db.datname`,
        values: ['ro_compat'],
      },
      {
        name: 'DBeaver: schemas',
        text: `SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n
                 LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass
                ORDER BY nspname`,
      },
      {
        name: 'DBeaver: data types',
        text: `SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description
                 FROM pg_catalog.pg_type t
                 LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem
                 LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid
                 LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid
                WHERE t.typname IS NOT NULL AND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C')
                ORDER BY t.oid`,
      },
      {
        name: 'DBeaver: keywords',
        text: "select string_agg(word, ',') from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all,allocate,alter,always,and,any,are,array,as,asc}'::text[])",
      },
      {
        name: 'DBeaver: tables of a schema',
        text: `SELECT c.oid, c.relname, c.relkind, c.relowner, c.relhasindex, d.description,
                      pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,
                      pg_catalog.pg_get_partkeydef(c.oid) as partition_key
                 FROM pg_catalog.pg_class c
                 LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass
                WHERE c.relnamespace=$1::regnamespace AND c.relkind not in ('i','I','c') ORDER BY c.oid`,
        values: ['public'],
      },
      {
        name: 'DBeaver: relation sizes',
        text: 'select c.oid,pg_catalog.pg_total_relation_size(c.oid) as total_rel_size,pg_catalog.pg_relation_size(c.oid) as rel_size FROM pg_class c WHERE c.relnamespace=$1::regnamespace ORDER BY c.oid',
        values: ['public'],
        volatile: true,
      },
      {
        name: 'pgjdbc: getTables',
        text: `SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME,
                 CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema'
                   WHEN true THEN CASE WHEN n.nspname = 'pg_catalog' OR n.nspname = 'information_schema' THEN CASE c.relkind WHEN 'r' THEN 'SYSTEM TABLE' WHEN 'v' THEN 'SYSTEM VIEW' WHEN 'i' THEN 'SYSTEM INDEX' ELSE NULL END
                                       WHEN n.nspname = 'pg_toast' THEN CASE c.relkind WHEN 'r' THEN 'SYSTEM TOAST TABLE' WHEN 'i' THEN 'SYSTEM TOAST INDEX' ELSE NULL END
                                       ELSE CASE c.relkind WHEN 'r' THEN 'TEMPORARY TABLE' WHEN 'p' THEN 'TEMPORARY TABLE' WHEN 'i' THEN 'TEMPORARY INDEX' WHEN 'S' THEN 'TEMPORARY SEQUENCE' WHEN 'v' THEN 'TEMPORARY VIEW' ELSE NULL END END
                   WHEN false THEN CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'i' THEN 'INDEX' WHEN 'I' THEN 'PARTITIONED INDEX' WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'c' THEN 'TYPE' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END
                   ELSE NULL END AS TABLE_TYPE,
                 d.description AS REMARKS, '' as TYPE_CAT, '' as TYPE_SCHEM, '' as TYPE_NAME, '' AS SELF_REFERENCING_COL_NAME, '' AS REF_GENERATION
               FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c
               LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0 and d.classoid = 'pg_class'::regclass)
               WHERE c.relnamespace = n.oid AND n.nspname LIKE 'public' AND c.relname LIKE '%'
                 AND (false OR ( c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' )
                      OR ( c.relkind = 'v' AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' ) )
               ORDER BY TABLE_TYPE,TABLE_SCHEM,TABLE_NAME`,
      },
      {
        name: 'pgjdbc: getColumns',
        text: `SELECT * FROM (SELECT n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,
                      a.atttypmod,a.attlen,t.typtypmod,row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum,
                      nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,
                      pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype
                 FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)
                 JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid) JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)
                 LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)
                 LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
                 LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')
                 LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')
                WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped AND n.nspname LIKE 'public' AND c.relname LIKE '%') c
               WHERE true ORDER BY nspname,c.relname,attnum`,
      },
      {
        name: 'pgjdbc: getPrimaryKeys',
        text: `SELECT result.TABLE_CAT, result.TABLE_SCHEM, result.TABLE_NAME, result.COLUMN_NAME, result.KEY_SEQ, result.PK_NAME
                 FROM (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, ct.relname AS TABLE_NAME, a.attname AS COLUMN_NAME,
                              (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, ci.relname AS PK_NAME,
                              information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS A_ATTNUM
                         FROM pg_catalog.pg_class ct JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid)
                         JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)
                         JOIN pg_catalog.pg_index i ON ( a.attrelid = i.indrelid)
                         JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid)
                        WHERE true AND n.nspname = E'public' AND ct.relname = E't' AND i.indisprimary) result
                where result.A_ATTNUM = (result.KEYS).x ORDER BY result.table_name, result.pk_name, result.key_seq`,
      },
      // --- Prisma (schema engine introspection) ---
      {
        name: 'Prisma: schema exists',
        text: 'SELECT EXISTS(SELECT 1 FROM pg_namespace WHERE nspname = $1)',
        values: ['app'],
      },
      {
        name: 'Prisma: server version',
        text: "SELECT current_setting('server_version_num')::integer AS server_version_num, version()",
      },
      {
        name: 'Prisma: tables',
        text: `SELECT tbl.relname AS table_name, namespace.nspname as namespace,
                      (tbl.relhassubclass and tbl.relkind = 'p') as is_partition,
                      (tbl.relhassubclass and tbl.relkind = 'r') as has_subclass,
                      tbl.relrowsecurity as has_row_level_security, reloptions,
                      obj_description(tbl.oid, 'pg_class') as description
                 FROM pg_class AS tbl
                 INNER JOIN pg_namespace AS namespace ON namespace.oid = tbl.relnamespace
                WHERE
                  ( -- (relkind = 'r' and relispartition = 't') matches partition table "duplicates"
                    (tbl.relkind = 'r' AND tbl.relispartition = 'f')
                      OR -- when it's a partition
                    tbl.relkind = 'p'
                  )
                  AND namespace.nspname = ANY ( $1 )
                ORDER BY namespace, table_name`,
        values: [SCHEMAS],
      },
      {
        name: 'Prisma: columns',
        text: `SELECT oid.namespace, info.table_name, info.column_name, format_type(att.atttypid, att.atttypmod) as formatted_type,
                      info.numeric_precision, info.numeric_scale, info.numeric_precision_radix, info.datetime_precision,
                      info.data_type, info.udt_schema as type_schema_name, info.udt_name as full_data_type,
                      pg_get_expr(attdef.adbin, attdef.adrelid) AS column_default, info.is_nullable, info.is_identity,
                      info.character_maximum_length, col_description(att.attrelid, ordinal_position) AS description
                 FROM information_schema.columns info
                 JOIN pg_attribute att ON att.attname = info.column_name
                 JOIN (SELECT pg_class.oid, relname, pg_namespace.nspname as namespace
                         FROM pg_class JOIN pg_namespace on pg_namespace.oid = pg_class.relnamespace
                          AND pg_namespace.nspname = ANY ( $1 ) WHERE reltype > 0) as oid
                   on oid.oid = att.attrelid AND relname = info.table_name AND namespace = info.table_schema
                 LEFT OUTER JOIN pg_attrdef attdef ON attdef.adrelid = att.attrelid AND attdef.adnum = att.attnum AND table_schema = namespace
                WHERE table_schema = ANY ( $1 )
                ORDER BY namespace, table_name, ordinal_position`,
        values: [SCHEMAS],
      },
      {
        name: 'Prisma: foreign keys',
        text: `SELECT con.oid AS "con_id", att2.attname AS "child_column", cl.relname AS "parent_table",
                      att.attname AS "parent_column", con.confdeltype, con.confupdtype, rel_ns.nspname AS "referenced_schema_name",
                      conname AS constraint_name, child, parent, table_name, namespace, condeferrable, condeferred
                 FROM (SELECT ns.nspname AS "namespace", unnest(con1.conkey) AS "parent", unnest(con1.confkey) AS "child",
                              cl.relname AS table_name, ns.nspname AS schema_name, generate_subscripts(con1.conkey, 1) AS colidx,
                              con1.oid, con1.confrelid, con1.conrelid, con1.conname, con1.contype, con1.confdeltype,
                              con1.confupdtype, con1.condeferrable AS condeferrable, con1.condeferred AS condeferred
                         FROM pg_class cl
                         join pg_constraint con1 on con1.conrelid = cl.oid
                         join pg_namespace ns on cl.relnamespace = ns.oid
                        WHERE ns.nspname = ANY ( $1 ) and con1.contype = 'f'
                        ORDER BY colidx) con
                 JOIN pg_attribute att on att.attrelid = con.confrelid and att.attnum = con.child
                 JOIN pg_class cl on cl.oid = con.confrelid
                 JOIN pg_attribute att2 on att2.attrelid = con.conrelid and att2.attnum = con.parent
                 JOIN pg_class rel_cl on con.confrelid = rel_cl.oid
                 JOIN pg_namespace rel_ns on rel_cl.relnamespace = rel_ns.oid
                ORDER BY namespace, table_name, constraint_name, con_id, con.colidx`,
        values: [SCHEMAS],
      },
      {
        name: 'Prisma: indexes',
        text: `WITH rawindex AS (
                 SELECT indrelid, indexrelid, indisunique, indisprimary, unnest(indkey) AS indkeyid,
                        generate_subscripts(indkey, 1) AS indkeyidx, unnest(indclass) AS indclass, unnest(indoption) AS indoption
                   FROM pg_index WHERE indpred IS NULL AND NOT indisexclusion)
               SELECT schemainfo.nspname AS namespace, indexinfo.relname AS index_name, tableinfo.relname AS table_name,
                      columninfo.attname AS column_name, rawindex.indisunique AS is_unique, rawindex.indisprimary AS is_primary_key,
                      rawindex.indkeyidx AS column_index, opclass.opcname AS opclass, opclass.opcdefault AS opcdefault,
                      indexaccess.amname AS index_algo,
                      CASE rawindex.indoption & 1 WHEN 1 THEN 'DESC' ELSE 'ASC' END AS column_order,
                      CASE rawindex.indoption & 2 WHEN 2 THEN true ELSE false END AS nulls_first,
                      pc.condeferrable AS condeferrable, pc.condeferred AS condeferred
                 FROM rawindex
                 INNER JOIN pg_class AS tableinfo ON tableinfo.oid = rawindex.indrelid
                 INNER JOIN pg_class AS indexinfo ON indexinfo.oid = rawindex.indexrelid
                 INNER JOIN pg_namespace AS schemainfo ON schemainfo.oid = tableinfo.relnamespace
                 LEFT JOIN pg_attribute AS columninfo ON columninfo.attrelid = tableinfo.oid AND columninfo.attnum = rawindex.indkeyid
                 INNER JOIN pg_am AS indexaccess ON indexaccess.oid = indexinfo.relam
                 LEFT JOIN pg_opclass AS opclass ON opclass.oid = rawindex.indclass
                 LEFT JOIN pg_constraint pc ON rawindex.indexrelid = pc.conindid AND pc.contype <> 'f'
                WHERE schemainfo.nspname = ANY ( $1 )
                ORDER BY namespace, table_name, index_name, column_index`,
        values: [SCHEMAS],
      },
      {
        name: 'Prisma: enums',
        text: `SELECT t.typname as name, e.enumlabel as value, n.nspname as namespace, obj_description(t.oid, 'pg_type') as description
                 FROM pg_type t JOIN pg_enum e ON t.oid = e.enumtypid JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                WHERE n.nspname = ANY ( $1 ) ORDER BY e.enumsortorder`,
        values: [SCHEMAS],
      },
      {
        name: 'Prisma: sequences',
        text: `SELECT sequence_name, sequence_schema AS namespace, start_value::INT8, minimum_value::INT8 AS min_value,
                      maximum_value::INT8 AS max_value, increment::INT8 AS increment_by,
                      (CASE cycle_option WHEN 'yes' THEN TRUE ELSE FALSE END) AS cycle, 0::INT8 AS cache_size
                 FROM information_schema.sequences WHERE sequence_schema = ANY ( $1 ) ORDER BY sequence_name`,
        values: [SCHEMAS],
      },
      {
        name: 'Prisma: views',
        text: `SELECT viewinfo.schemaname AS namespace, viewinfo.viewname AS view_name, viewinfo.definition AS view_sql,
                      obj_description(class_info.oid, 'pg_class') AS description
                 FROM pg_catalog.pg_views viewinfo, pg_catalog.pg_class class_info, pg_catalog.pg_namespace namespace_info
                WHERE class_info.relname = viewinfo.viewname AND namespace_info.oid = class_info.relnamespace
                  AND namespace_info.nspname = viewinfo.schemaname AND viewinfo.schemaname = ANY ( $1 )
                ORDER BY viewinfo.schemaname, viewinfo.viewname`,
        values: [SCHEMAS],
      },
      {
        name: 'Prisma: check constraints',
        text: `SELECT con.oid AS con_id, con.conname AS constraint_name, con.contype AS constraint_type, rel.relname AS table_name,
                      pg_get_constraintdef(con.oid) AS constraint_definition, ns.nspname AS namespace, con.condeferrable, con.condeferred
                 FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace ns ON ns.oid = rel.relnamespace
                WHERE contype NOT IN ('p', 'u', 'f') AND ns.nspname = ANY ( $1 )
                ORDER BY namespace, table_name, constraint_name`,
        values: [SCHEMAS],
      },
      // --- Django (postgresql backend: connection setup and introspection) ---
      { name: 'Django: time zone', text: "SELECT set_config('TimeZone', $1, false)", values: ['UTC'] },
      {
        name: 'Django: get_table_list',
        text: `SELECT c.relname,
                      CASE WHEN c.relispartition THEN 'p' WHEN c.relkind IN ('m', 'v') THEN 'v' ELSE 't' END,
                      obj_description(c.oid, 'pg_class')
                 FROM pg_catalog.pg_class c
                 LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('f', 'm', 'p', 'r', 'v')
                  AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
                  AND pg_catalog.pg_table_is_visible(c.oid)`,
      },
      {
        name: 'Django: get_table_description',
        text: `SELECT a.attname AS column_name,
                      NOT (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)) AS is_nullable,
                      pg_get_expr(ad.adbin, ad.adrelid) AS column_default,
                      CASE WHEN collname = 'default' THEN NULL ELSE collname END AS collation,
                      a.attidentity != '' AS is_autofield,
                      col_description(a.attrelid, a.attnum) AS column_comment
                 FROM pg_attribute a
                 LEFT JOIN pg_attrdef ad ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                 LEFT JOIN pg_collation co ON a.attcollation = co.oid
                 JOIN pg_type t ON a.atttypid = t.oid
                 JOIN pg_class c ON a.attrelid = c.oid
                 JOIN pg_namespace n ON c.relnamespace = n.oid
                WHERE c.relkind IN ('f', 'm', 'p', 'r', 'v')
                  AND c.relname = $1
                  AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
                  AND pg_catalog.pg_table_is_visible(c.oid)`,
        values: ['t'],
      },
      { name: 'Django: cursor description', text: 'SELECT * FROM "t" LIMIT 1' },
      {
        name: 'Django: get_sequences',
        text: `SELECT s.relname AS sequence_name, a.attname AS colname
                 FROM pg_class s
                 JOIN pg_depend d ON d.objid = s.oid
                   AND d.classid = 'pg_catalog.pg_class'::regclass
                   AND d.refclassid = 'pg_catalog.pg_class'::regclass
                 JOIN pg_attribute a ON d.refobjid = a.attrelid AND d.refobjsubid = a.attnum
                 JOIN pg_class tbl ON tbl.oid = d.refobjid AND tbl.relname = $1 AND pg_catalog.pg_table_is_visible(tbl.oid)
                WHERE s.relkind = 'S'`,
        values: ['serials'],
      },
      {
        name: 'Django: get_relations',
        text: `SELECT a1.attname, c2.relname, a2.attname
                 FROM pg_constraint con
                 LEFT JOIN pg_class c1 ON con.conrelid = c1.oid
                 LEFT JOIN pg_class c2 ON con.confrelid = c2.oid
                 LEFT JOIN pg_attribute a1 ON c1.oid = a1.attrelid AND a1.attnum = con.conkey[1]
                 LEFT JOIN pg_attribute a2 ON c2.oid = a2.attrelid AND a2.attnum = con.confkey[1]
                WHERE c1.relname = $1 AND con.contype = 'f' AND pg_catalog.pg_table_is_visible(c1.oid)`,
        values: ['tree'],
      },
      {
        name: 'Django: get_constraints (constraints)',
        text: `SELECT c.conname,
                      array(SELECT attname FROM unnest(c.conkey) WITH ORDINALITY cols(colid, arridx)
                              JOIN pg_attribute AS ca ON cols.colid = ca.attnum
                             WHERE ca.attrelid = c.conrelid ORDER BY cols.arridx),
                      c.contype,
                      (SELECT fkc.relname || '.' || fka.attname FROM pg_attribute AS fka
                         JOIN pg_class AS fkc ON fka.attrelid = fkc.oid
                        WHERE fka.attrelid = c.confrelid AND fka.attnum = c.confkey[1]),
                      cl.reloptions
                 FROM pg_constraint AS c JOIN pg_class AS cl ON c.conrelid = cl.oid
                WHERE cl.relname = $1 AND pg_catalog.pg_table_is_visible(cl.oid)
                ORDER BY c.conname`,
        values: ['t'],
      },
      {
        name: 'Django: get_constraints (indexes)',
        text: `SELECT indexname, array_agg(attname ORDER BY arridx), indisunique, indisprimary,
                      array_agg(ordering ORDER BY arridx), amname, exprdef, s2.attoptions
                 FROM (SELECT c2.relname as indexname, idx.*, attr.attname, am.amname,
                              CASE WHEN idx.indexprs IS NOT NULL THEN pg_get_indexdef(idx.indexrelid) END AS exprdef,
                              CASE am.amname WHEN $2 THEN CASE (option & 1) WHEN 1 THEN 'DESC' ELSE 'ASC' END END as ordering,
                              c2.reloptions as attoptions
                         FROM (SELECT * FROM pg_index i, unnest(i.indkey, i.indoption) WITH ORDINALITY koi(key, option, arridx)) idx
                         LEFT JOIN pg_class c ON idx.indrelid = c.oid
                         LEFT JOIN pg_class c2 ON idx.indexrelid = c2.oid
                         LEFT JOIN pg_am am ON c2.relam = am.oid
                         LEFT JOIN pg_attribute attr ON attr.attrelid = c.oid AND attr.attnum = idx.key
                        WHERE c.relname = $1 AND pg_catalog.pg_table_is_visible(c.oid)) s2
                GROUP BY indexname, indisunique, indisprimary, amname, exprdef, attoptions
                ORDER BY indexname`,
        values: ['t', 'btree'],
      },
    ];

    for (const c of TOOLS) {
      const modes = c.values ? (['extended'] as const) : (['simple', 'extended'] as const);
      for (const queryMode of modes) {
        it(`${c.name} (${queryMode})`, async () => {
          const query = { text: c.text, values: c.values, queryMode } as pg.QueryConfig;
          const expected = shape(await direct.query(query), c.volatile ?? false);
          if (!c.volatile && expected.command === 'SELECT')
            assert.ok((expected.rowCount ?? 0) > 0, 'the query returned no rows');
          assert.deepEqual(shape(await proxied.query(query), c.volatile ?? false), expected);
        });
      }
    }
  });
});
