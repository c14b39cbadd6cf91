import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import {
  createDatabase,
  directEnv,
  directSql,
  dropDatabase,
  proxiedEnv,
  runProgram,
  type ProgramResult,
} from '../helpers/clients';

/**
 * psql is the reference client: every command is run once directly against PostgreSQL and once through
 * Airlock, and what the user sees (stdout, stderr, exit status) must be byte-for-byte the same.
 */
const DB = 'psql_compat';

const SCHEMA = `
create schema app;
create type app.mood as enum ('sad', 'ok', 'happy');
create table app.customers (
  id int generated always as identity primary key,
  name text not null check (length(name) > 0),
  email text unique,
  mood app.mood default 'ok',
  created timestamptz not null default '2024-01-01 00:00:00+00'
);
comment on table app.customers is 'people who buy things';
create table app.orders (
  id bigserial primary key,
  customer_id int not null references app.customers(id) on delete cascade,
  amount numeric(12,2) not null check (amount >= 0),
  note text
);
create index orders_customer_idx on app.orders (customer_id);
create view app.big_orders as
  select o.id, o.amount, c.name from app.orders o join app.customers c on c.id = o.customer_id where o.amount > 100;
create function app.total(cid int) returns numeric language sql stable
  as $$ select coalesce(sum(amount), 0) from app.orders where customer_id = cid $$;
create function app.touch() returns trigger language plpgsql
  as $$ begin new.note := coalesce(new.note, '') || '!'; return new; end $$;
create trigger orders_touch before insert on app.orders for each row execute function app.touch();
create function public.noisy(i int) returns int language plpgsql
  as $$ begin raise notice 'row % seen', i; return i * 10; end $$;
create table public.items (sku text primary key, qty int not null default 0, tags text[], data jsonb);
create view public.low_stock as select sku, qty from public.items where qty < 5;
create materialized view public.item_counts as select count(*) as n from public.items;
insert into app.customers (name, email, mood) values ('Ada', 'ada@example.com', 'happy'), ('Bob', null, 'sad'), ('Zoë 🚀', 'z@example.com', default);
insert into app.orders (customer_id, amount, note) values (1, 250.50, 'big'), (1, 12.00, null), (2, 101.01, 'tab\there'), (3, 0, 'ünïcødé');
insert into public.items values ('a-1', 3, '{red,blue}', '{"w": 1.5}'), ('b-2', 10, '{}', null), ('c-3', 0, null, '{"x": [1, 2, {"y": null}]}');
-- COPY round-trip material: NULLs, tabs, newlines, backslashes, quotes, commas, unicode, arrays, bytea, json.
create table public.copy_src (id int primary key, t text, n numeric, ts timestamptz, arr int[], b bytea, j jsonb);
insert into public.copy_src
  select g,
         case when g % 7 = 0 then null
              when g % 5 = 0 then E'tab\\there\\nnew line \\\\ back "quote", comma'
              else 'Zoë ' || repeat('✓', g % 4) || ' ' || md5(g::text) end,
         case when g % 11 = 0 then null else (g * 1.25)::numeric end,
         timestamptz '2024-02-29 12:34:56.789+00' + g * interval '1 minute',
         array[g, g + 1, null],
         decode(md5(g::text), 'hex'),
         jsonb_build_object('g', g, 's', 'é' || g)
  from generate_series(1, 20000) g;
create table public.copy_dst (like public.copy_src);
create table public.copy_dst_file (like public.copy_src);
create table public.copy_dst_csv (like public.copy_src);
create table public.copy_bad (id int, t text);
`;

/** A text fingerprint of a table's full contents, computed on the server (directly). */
async function fingerprint(table: string): Promise<string> {
  const r = await directSql(
    sharedCluster(),
    DB,
    `select count(*) || ':' || coalesce(md5(string_agg(x::text, E'\\n' order by x.id)), '') from ${table} x`,
  );
  return r.stdout.trim();
}

describe('psql through the proxy behaves exactly as against PostgreSQL', function () {
  let p: ProxyUnderTest;
  let tmp: string;

  before(async () => {
    const cluster = sharedCluster();
    await createDatabase(cluster, DB);
    await directSql(cluster, DB, SCHEMA);
    // \d+ prints table sizes: an autovacuum of the fresh tables between the direct and the proxied run
    // would add their visibility-map pages (3656 kB → 3664 kB). Vacuumed now, they have nothing pending.
    await directSql(cluster, DB, 'vacuum analyze');
    p = await proxyFor(cluster, { database: DB });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'airlock-psql-'));
  });

  after(async () => {
    await p?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
    await dropDatabase(sharedCluster(), DB);
  });

  const psqlArgs = (args: string[]) => ['-X', ...args];
  const direct = (args: string[], input?: string) =>
    runProgram(sharedCluster(), 'psql', psqlArgs(args), directEnv(sharedCluster(), DB), { input });
  const proxied = (args: string[], input?: string) =>
    runProgram(sharedCluster(), 'psql', psqlArgs(args), proxiedEnv(p), { input });

  /** Runs the same psql invocation both ways and asserts identical results; returns the direct one. */
  async function same(args: string[], input?: string): Promise<ProgramResult> {
    const d = await direct(args, input);
    const x = await proxied(args, input);
    assert.deepEqual(
      { code: x.code, stdout: x.stdout, stderr: x.stderr },
      { code: d.code, stdout: d.stdout, stderr: d.stderr },
      `psql ${args.join(' ')}: output through the proxy differs from direct`,
    );
    return d;
  }

  describe('meta-commands', () => {
    const metaCommands = [
      '\\d',
      '\\dt',
      '\\dt app.*',
      '\\d+',
      '\\df',
      '\\df app.*',
      '\\df+ app.total',
      '\\l',
      '\\dn',
      '\\dn+',
      '\\dv',
      '\\dv app.*',
      '\\dm',
      '\\di app.*',
      '\\dT app.*',
      '\\dT+ app.mood',
      '\\ds app.*',
      '\\du',
      '\\dx',
      '\\d app.customers',
      '\\d app.orders',
      '\\d+ app.big_orders',
      '\\d+ items',
      '\\d items_pkey',
      '\\sf app.touch',
      '\\dd app.*',
    ];
    for (const meta of metaCommands) {
      it(`${meta} prints the same as direct`, async () => {
        const d = await same(['-v', 'ON_ERROR_STOP=1', '-c', meta]);
        assert.equal(d.code, 0, d.stderr);
        assert.notEqual(d.stdout.trim(), '', `${meta} printed nothing`);
      });
    }

    it('\\gdesc (Parse/Describe of the extended protocol) prints the same as direct', async () => {
      const ok = await same(
        ['-v', 'ON_ERROR_STOP=1'],
        "select 1 as a, 'x'::text as b, now() as c, null::app.mood as m \\gdesc\n",
      );
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /app\.mood/);
    });

    it('\\gexec and \\gset print the same as direct', async () => {
      const script = [
        "select format('select %L as gexec_%s', name, id) from app.customers order by id \\gexec",
        'select count(*) as n, max(amount) as top from app.orders \\gset',
        '\\echo n=:n top=:top',
      ].join('\n');
      const d = await same(['-v', 'ON_ERROR_STOP=1'], script + '\n');
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, /n=4 top=250\.50/);
    });
  });

  describe('COPY', () => {
    it('\\copy to STDOUT prints the same data as direct', async () => {
      const d = await same([
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        '\\copy (select * from copy_src order by id) to STDOUT',
      ]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout.split('\n').length - 1, 20000);
    });

    it('COPY ... TO STDOUT (CSV, header) prints the same data as direct', async () => {
      const d = await same([
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        'copy (select * from copy_src order by id) to stdout with (format csv, header)',
      ]);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, /^id,t,n,ts,arr,b,j\n/);
    });

    it('\\copy to a file writes the same file as direct', async () => {
      const directFile = path.join(tmp, 'direct.txt');
      const proxiedFile = path.join(tmp, 'proxied.txt');
      const d = await direct(['-v', 'ON_ERROR_STOP=1', '-c', `\\copy copy_src to '${directFile}'`]);
      const x = await proxied(['-v', 'ON_ERROR_STOP=1', '-c', `\\copy copy_src to '${proxiedFile}'`]);
      assert.equal(d.code, 0, d.stderr);
      assert.deepEqual(
        { code: x.code, stdout: x.stdout, stderr: x.stderr },
        { code: 0, stdout: d.stdout, stderr: d.stderr },
      );
      assert.equal(d.stdout, 'COPY 20000\n');
      const [a, b] = await Promise.all([readFile(directFile), readFile(proxiedFile)]);
      assert.ok(a.length > 100_000);
      assert.ok(a.equals(b), 'the file copied through the proxy differs from the direct one');
    });

    it('\\copy from STDIN through the proxy loads exactly the source data', async () => {
      const source = await direct(['-v', 'ON_ERROR_STOP=1', '-c', '\\copy copy_src to STDOUT']);
      assert.equal(source.code, 0, source.stderr);
      const x = await proxied(['-v', 'ON_ERROR_STOP=1', '-c', '\\copy copy_dst from STDIN'], source.stdout);
      assert.equal(x.code, 0, x.stderr);
      assert.equal(x.stdout, 'COPY 20000\n');
      assert.equal(x.stderr, '');
      assert.equal(await fingerprint('copy_dst'), await fingerprint('copy_src'));
    });

    it('\\copy from a file (text and CSV) through the proxy loads exactly the source data', async () => {
      const textFile = path.join(tmp, 'load.txt');
      const csvFile = path.join(tmp, 'load.csv');
      for (const [file, opts] of [
        [textFile, ''],
        [csvFile, ' with (format csv, header)'],
      ]) {
        const d = await direct(['-v', 'ON_ERROR_STOP=1', '-c', `\\copy copy_src to '${file}'${opts}`]);
        assert.equal(d.code, 0, d.stderr);
      }
      const t = await proxied(['-v', 'ON_ERROR_STOP=1', '-c', `\\copy copy_dst_file from '${textFile}'`]);
      assert.deepEqual(
        { code: t.code, stdout: t.stdout, stderr: t.stderr },
        { code: 0, stdout: 'COPY 20000\n', stderr: '' },
      );
      const c = await proxied([
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        `\\copy copy_dst_csv from '${csvFile}' with (format csv, header)`,
      ]);
      assert.deepEqual(
        { code: c.code, stdout: c.stdout, stderr: c.stderr },
        { code: 0, stdout: 'COPY 20000\n', stderr: '' },
      );
      const expected = await fingerprint('copy_src');
      assert.equal(await fingerprint('copy_dst_file'), expected);
      assert.equal(await fingerprint('copy_dst_csv'), expected);
    });

    it('a bad row in COPY FROM STDIN fails the same way and loads nothing', async () => {
      const input = '1\tone\n2\ttwo\nthree\t3\n4\tfour\n';
      const d = await same(
        ['-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-c', '\\copy copy_bad from STDIN'],
        input,
      );
      assert.equal(d.code, 1);
      assert.match(d.stderr, /invalid input syntax for type integer: "three"/);
      assert.equal(await fingerprint('copy_bad'), '0:');
    });
  });

  describe('messages and errors', () => {
    it('a server NOTICE reaches psql stderr', async () => {
      const d = await same(['-v', 'ON_ERROR_STOP=1', '-c', "DO $$ BEGIN RAISE NOTICE 'hi'; END $$"]);
      assert.equal(d.code, 0);
      assert.equal(d.stdout, 'DO\n');
      assert.equal(d.stderr, 'NOTICE:  hi\n');
    });

    it('NOTICEs interleaved with rows, in verbose form, are the same', async () => {
      const d = await same([
        '-v',
        'ON_ERROR_STOP=1',
        '-v',
        'VERBOSITY=verbose',
        '-c',
        "select noisy(g) from generate_series(1, 3) g; DO $$ BEGIN RAISE WARNING 'careful' USING DETAIL = 'd', HINT = 'h'; END $$",
      ]);
      assert.equal(d.code, 0);
      assert.ok(d.stderr.includes('NOTICE:  00000: row 3 seen'), d.stderr);
      assert.ok(d.stderr.includes('WARNING:  01000: careful\nDETAIL:  d\nHINT:  h'), d.stderr);
    });

    it('an error in the middle of a result gives the same error', async () => {
      const sql = 'select 1/(g-5) from generate_series(1,10) g';
      const d = await same(['-v', 'VERBOSITY=verbose', '-c', sql]);
      assert.equal(d.code, 1);
      assert.ok(d.stderr.includes('ERROR:  22012: division by zero'), d.stderr);
    });

    it('an error in the middle of a result fetched with FETCH_COUNT shows the same partial rows', async () => {
      const d = await same(['-v', 'FETCH_COUNT=2', '-c', 'select 1/(g-5) as r from generate_series(1,10) g']);
      assert.equal(d.code, 1);
      assert.match(d.stdout, /-1/);
      assert.match(d.stderr, /division by zero/);
    });

    it('an error in a plpgsql function reports the same context and position', async () => {
      const d = await same([
        '-v',
        'VERBOSITY=verbose',
        '-c',
        'select app.total(id) + noisy(1/(id-2)) from app.customers order by id',
      ]);
      assert.equal(d.code, 1);
      assert.match(d.stderr, /division by zero/);
      const syntax = await same(['-c', 'select * from app.customers where nme = 1']);
      assert.match(syntax.stderr, /column "nme" does not exist/);
      assert.match(syntax.stderr, /LINE 1:/);
    });

    it('a non-UTF8 client encoding (PGCLIENTENCODING=LATIN1) is honoured as directly', async () => {
      // libpq sends client_encoding in the startup packet; the server then converts both ways.
      const script = Buffer.from(
        [
          'show client_encoding;',
          "select 'café ñ Grüße' as x, length('café ñ Grüße') as n, octet_length(convert_to('café ñ Grüße', 'UTF8')) as utf8_bytes;",
          "create temp table enc (t text); insert into enc values ('Ærø ÿ');",
          'select t, length(t) from enc;',
        ].join('\n') + '\n',
        'latin1',
      );
      const env = { PGCLIENTENCODING: 'LATIN1' };
      const run = (base: NodeJS.ProcessEnv) =>
        runProgram(
          sharedCluster(),
          'psql',
          ['-X', '-v', 'ON_ERROR_STOP=1'],
          { ...base, ...env },
          { input: script, encoding: 'latin1' },
        );
      const d = await run(directEnv(sharedCluster(), DB));
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, /LATIN1/);
      const word = 'café ñ Grüße';
      assert.ok(
        d.stdout.includes(`${word} | ${[...word].length} |         ${Buffer.byteLength(word)}`),
        d.stdout,
      );
      assert.match(d.stdout, /Ærø ÿ/);
      const x = await run(proxiedEnv(p));
      assert.deepEqual(
        { code: x.code, stdout: x.stdout, stderr: x.stderr },
        { code: d.code, stdout: d.stdout, stderr: d.stderr },
      );
    });

    it('multi-statement strings print every result the same', async () => {
      const d = await same([
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        "select 1 as a; select 'two' as b, null as c; values (1, 2), (3, 4); show TimeZone; set datestyle = 'SQL, DMY'; select date '2024-03-01'",
      ]);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, /two/);
      assert.match(d.stdout, /01\/03\/2024/);
    });

    it('a multi-statement string with an error stops at the same point', async () => {
      const d = await same([
        '-c',
        'create temp table mt (i int); insert into mt values (1); select 1/0; insert into mt values (2); select * from mt',
      ]);
      assert.equal(d.code, 1);
      assert.match(d.stderr, /division by zero/);
    });

    it('multi-statement strings inside a transaction keep the same transaction state', async () => {
      const script = [
        'begin;',
        "select 1 as one \\; select 1/0 \\; select 'unreached';",
        'select 2;',
        'rollback;',
        'select 3 as after_rollback;',
      ].join('\n');
      const d = await same(['-a'], script + '\n');
      assert.match(d.stderr, /current transaction is aborted/);
      assert.match(d.stdout, /after_rollback/);
    });
  });

  describe('scripts', () => {
    async function resetScriptTable(): Promise<void> {
      await directSql(sharedCluster(), DB, 'drop table if exists script_t');
    }

    async function runBoth(args: string[], script: string): Promise<{ d: ProgramResult; table: string }> {
      const file = path.join(tmp, 'script.sql');
      await writeFile(file, script);
      await resetScriptTable();
      const d = await direct([...args, '-f', file]);
      const directTable = await fingerprint('script_t').catch(
        (e: Error) => `no table: ${/does not exist/.test(e.message)}`,
      );
      await resetScriptTable();
      const x = await proxied([...args, '-f', file]);
      const proxiedTable = await fingerprint('script_t').catch(
        (e: Error) => `no table: ${/does not exist/.test(e.message)}`,
      );
      await resetScriptTable();
      assert.deepEqual(
        { code: x.code, stdout: x.stdout, stderr: x.stderr },
        { code: d.code, stdout: d.stdout, stderr: d.stderr },
      );
      assert.equal(proxiedTable, directTable, 'the script left different data through the proxy');
      return { d, table: directTable };
    }

    it('a script with a transaction, a savepoint and a recovered error commits the same rows', async () => {
      const script = [
        'create table script_t (id int primary key, v text);',
        'begin;',
        "insert into script_t values (1, 'a'), (2, 'b');",
        'savepoint s1;',
        "insert into script_t values (1, 'dup');",
        'rollback to savepoint s1;',
        "insert into script_t values (3, 'c');",
        'commit;',
        'select * from script_t order by id;',
      ].join('\n');
      const { d, table } = await runBoth(['-a'], script + '\n');
      assert.equal(d.code, 0);
      assert.match(d.stderr, /duplicate key value violates unique constraint "script_t_pkey"/);
      assert.match(table, /^3:/);
    });

    it('ON_ERROR_STOP stops the script at the same statement with the same exit status', async () => {
      const script = [
        'create table script_t (id int primary key);',
        'insert into script_t values (1);',
        'begin;',
        'insert into script_t values (2);',
        'insert into script_t values (1);',
        'commit;',
        'insert into script_t values (3);',
      ].join('\n');
      const { d, table } = await runBoth(['-a', '-v', 'ON_ERROR_STOP=1'], script + '\n');
      assert.equal(d.code, 3);
      assert.match(d.stderr, /duplicate key/);
      assert.equal(table, (await directSql(sharedCluster(), DB, "select '1:' || md5('(1)')")).stdout.trim());
    });

    it('--single-transaction with ON_ERROR_STOP rolls everything back the same way', async () => {
      const script = [
        'create table script_t (id int primary key);',
        'insert into script_t values (1), (2);',
        "select 'x'::int;",
        'insert into script_t values (3);',
      ].join('\n');
      const { d, table } = await runBoth(['-a', '-1', '-v', 'ON_ERROR_STOP=1'], script + '\n');
      assert.equal(d.code, 3);
      assert.equal(table, 'no table: true');
    });
  });
});
