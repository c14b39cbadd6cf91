import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import {
  createDatabase,
  directSql,
  dropDatabase,
  proxiedEnv,
  runProgram,
  type ProgramResult,
} from '../helpers/clients';

/**
 * pgbench drives many concurrent sessions, each with a long stream of small statements in the simple,
 * extended or prepared protocol: every transaction must go through, and the database must end up exactly
 * as the transactions say.
 */
const DB = 'pgbench_compat';
const CLIENTS = 4;
const PER_CLIENT = 200;

interface BenchReport {
  processed: number;
  requested: number;
  failed: number | null;
  mode: string;
  output: string;
}

function parseReport(r: ProgramResult): BenchReport {
  const output = `${r.stdout}\n${r.stderr}`;
  const processed = /number of transactions actually processed: (\d+)\/(\d+)/.exec(r.stdout);
  const failed = /number of failed transactions: (\d+)/.exec(r.stdout);
  const mode = /query mode: (\w+)/.exec(r.stdout);
  assert.ok(processed, `no transaction count in pgbench output:\n${output}`);
  return {
    processed: Number(processed[1]),
    requested: Number(processed[2]),
    failed: failed ? Number(failed[1]) : null,
    mode: mode?.[1] ?? '',
    output,
  };
}

async function scalar(sql: string): Promise<string> {
  return (await directSql(sharedCluster(), DB, sql)).stdout.trim();
}

describe('pgbench through the proxy', function () {
  let p: ProxyUnderTest;

  before(async () => {
    await createDatabase(sharedCluster(), DB);
    p = await proxyFor(sharedCluster(), { database: DB });
  });

  after(async () => {
    await p?.close();
    await dropDatabase(sharedCluster(), DB);
  });

  const pgbench = (args: string[]) =>
    runProgram(sharedCluster(), 'pgbench', args, proxiedEnv(p), { timeoutMs: 55_000 });

  it('pgbench -i -s 1 initialises the tables (COPY, DDL, VACUUM) through the proxy', async () => {
    const r = await pgbench(['-i', '-s', '1', '-q']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /done in/);
    // Checked directly on the server: what a scale-1 initialisation must produce.
    assert.equal(await scalar('select count(*) from pgbench_branches'), '1');
    assert.equal(await scalar('select count(*) from pgbench_tellers'), '10');
    assert.equal(await scalar('select count(*) from pgbench_accounts'), '100000');
    assert.equal(await scalar('select count(*) from pgbench_history'), '0');
    assert.equal(
      await scalar("select count(distinct aid) || ':' || min(aid) || ':' || max(aid) from pgbench_accounts"),
      '100000:1:100000',
    );
    assert.equal(
      await scalar(
        "select count(*) from pg_indexes where tablename like 'pgbench_%' and indexname like '%_pkey'",
      ),
      '3',
    );
  });

  for (const mode of ['simple', 'extended', 'prepared']) {
    it(`TPC-B (default script), -M ${mode}: every transaction is processed and recorded`, async () => {
      const before = Number(await scalar('select count(*) from pgbench_history'));
      const r = await pgbench(['-n', '-c', String(CLIENTS), '-j', '2', '-t', String(PER_CLIENT), '-M', mode]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = parseReport(r);
      assert.equal(report.mode, mode);
      assert.equal(report.requested, CLIENTS * PER_CLIENT);
      assert.equal(report.processed, CLIENTS * PER_CLIENT);
      assert.equal(report.failed, 0, report.output);
      assert.doesNotMatch(r.stderr, /error|abort/i);
      // Each TPC-B transaction inserts exactly one history row…
      assert.equal(
        Number(await scalar('select count(*) from pgbench_history')),
        before + CLIENTS * PER_CLIENT,
      );
      // …and applies the same delta to one account, one teller and one branch: the sums stay consistent.
      const sums = await scalar(
        `select (select coalesce(sum(delta), 0) from pgbench_history) || ':' ||
                (select sum(abalance) from pgbench_accounts) || ':' ||
                (select sum(tbalance) from pgbench_tellers) || ':' ||
                (select sum(bbalance) from pgbench_branches)`,
      );
      const [history, ...balances] = sums.split(':');
      assert.deepEqual(balances, [history, history, history], `balances diverge from the history: ${sums}`);
    });
  }

  for (const mode of ['simple', 'extended', 'prepared']) {
    it(`select-only (-S), -M ${mode}: every transaction is processed and nothing is written`, async () => {
      const before = await scalar("select count(*) || ':' || sum(delta) from pgbench_history");
      const r = await pgbench([
        '-n',
        '-S',
        '-c',
        String(CLIENTS),
        '-j',
        '2',
        '-t',
        String(PER_CLIENT),
        '-M',
        mode,
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = parseReport(r);
      assert.equal(report.mode, mode);
      assert.match(r.stdout, /select only/);
      assert.equal(report.processed, CLIENTS * PER_CLIENT);
      assert.equal(report.failed, 0, report.output);
      assert.equal(await scalar("select count(*) || ':' || sum(delta) from pgbench_history"), before);
    });
  }

  it('a custom script with \\gset and \\if reads back exactly what it wrote', async () => {
    // Each transaction adds 1 to a random account and reads the difference back with \gset; a wrong value
    // (or a lost \gset result) runs 1/0, which aborts the client and fails the run.
    const script = [
      '\\set aid random(1, 100000)',
      'BEGIN;',
      'SELECT abalance AS before FROM pgbench_accounts WHERE aid = :aid \\gset',
      'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;',
      'SELECT abalance - :before AS diff FROM pgbench_accounts WHERE aid = :aid \\gset',
      '\\if :diff != 1',
      'SELECT 1/0 AS diff_was_not_one;',
      '\\endif',
      'END;',
    ].join('\n');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-pgbench-'));
    try {
      const file = path.join(dir, 'custom.sql');
      await writeFile(file, script + '\n');
      const before = Number(await scalar('select sum(abalance) from pgbench_accounts'));
      for (const mode of ['simple', 'extended', 'prepared']) {
        const r = await pgbench(['-n', '-f', file, '-c', String(CLIENTS), '-j', '2', '-t', '50', '-M', mode]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const report = parseReport(r);
        assert.equal(report.processed, CLIENTS * 50);
        assert.equal(report.failed, 0, report.output);
      }
      assert.equal(
        Number(await scalar('select sum(abalance) from pgbench_accounts')),
        before + 3 * CLIENTS * 50,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
