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
});
