import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Journal } from '../../src/core/recording/journal';
import { verifyChain, type ChainedEvent } from '../../src/core/recording/chain';
import { RecordingStore } from '../../src/core/recording/store';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor } from '../helpers/proxy';
import { CLI, runAirlock as cli, untilReady } from '../helpers/airlock-cli';

const statements = (events: ChainedEvent[]) => events.filter((e) => e.type === 'statement');

describe('session recording through the proxy', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-rec-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('records each statement with its decision, result tags, errors and row samples, hash-chained', async () => {
    const recordings = path.join(dir, 'rec1');
    const p = await proxyFor(sharedCluster(), { config: { policy: 'read-only', recordings } });
    try {
      const c = await p.connect({ application_name: 'recording-test-agent' });
      await c.query('select g as n from generate_series(1, 30) g');
      await assert.rejects(c.query('delete from pg_class'), { code: '42501' });
      await assert.rejects(c.query("create role intruder password 'hunter2-in-sql'"), { code: '42501' });
      await assert.rejects(c.query("alter role intruder with PaSsWoRd 'hunter3-in-sql'"), { code: '42501' });
      await assert.rejects(c.query('select 1/0'), { code: '22012' });
      await c.query('select $1::int + 1 as two', [1]);
      await c.end();
    } finally {
      await p.close();
    }
    const { events, damaged } = Journal.read(recordings);
    assert.deepEqual(damaged, []);
    assert.deepEqual(verifyChain(events), []);
    const start = events.find((e) => e.type === 'session-start');
    assert.equal((start?.data.actor as { agent?: string }).agent, 'recording-test-agent');
    const st = statements(events);
    const bySql = (re: RegExp) =>
      st.find((e) => re.test(String(e.data.sql)))?.data as Record<string, unknown>;
    const series = bySql(/generate_series/);
    assert.deepEqual(series.tags, ['SELECT 30']);
    const sample = series.sample as { columns: string[]; rows: string[][]; truncated: boolean };
    assert.deepEqual(sample.columns, ['n']);
    assert.equal(sample.rows.length, 20);
    assert.equal(sample.truncated, true);
    assert.deepEqual(sample.rows[0], ['1']);
    assert.equal(bySql(/delete from pg_class/).decision, 'deny');
    assert.equal(bySql(/delete from pg_class/).rule, 'default');
    assert.deepEqual(bySql(/1\/0/).error, { code: '22012', message: 'division by zero' });
    assert.deepEqual(bySql(/\$1::int/).tags, ['SELECT 1']);
    assert.deepEqual(
      events.slice(-2).map((e) => e.type),
      ['session-end', 'checkpoint'],
    );
    const raw = readFileSync(path.join(recordings, 'journal.jsonl'), 'utf8');
    assert.doesNotMatch(raw, /hunter2-in-sql/, 'a password in CREATE ROLE reached the recording');
    assert.doesNotMatch(raw, /hunter3-in-sql/, 'a password in ALTER ROLE (mixed case) reached the recording');
    assert.match(raw, /create role intruder password '\[REDACTED\]'/);
    assert.ok(!raw.includes(sharedCluster().password), 'the upstream password reached the recording');
    assert.ok(!raw.includes(p.endpoint.password), 'the local session secret reached the recording');
  });

  it('airlock verify passes on an intact recording and names an edited or removed event', async () => {
    const recordings = path.join(dir, 'rec2');
    const p = await proxyFor(sharedCluster(), { config: { policy: 'read-only', recordings } });
    const c = await p.connect();
    for (let i = 0; i < 5; i++) await c.query(`select ${i} as v`);
    await c.end();
    await p.close();
    const config = path.join(dir, 'rec2.yaml');
    writeFileSync(
      config,
      `policy: read-only\nrecordings: ${recordings}\nconnections: [{name: x, kind: postgres, upstream: "postgres://u@127.0.0.1/db"}]\n`,
    );
    const ok = await cli(['verify', '--config', config]);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /1 session\(s\), \d+ event\(s\): verified/);
    // Where sessions are read (the Sessions view, replay, `airlock sessions`), the same verdict per session.
    const record = async () => {
      const store = await RecordingStore.open(recordings);
      try {
        const [s] = store.sessions();
        return { integrity: s.integrity, problem: s.integrityProblem };
      } finally {
        store.close();
      }
    };
    assert.deepEqual(await record(), { integrity: 'verified', problem: undefined });

    const file = path.join(recordings, 'journal.jsonl');
    const original = readFileSync(file, 'utf8');
    // A reader that indexed the journal before an edit in place (same size): the replay's verdict comes from
    // the events it shows, and a re-index (what Verify does) brings the listing's verdict in line.
    const open = await RecordingStore.open(recordings);
    writeFileSync(file, original.replace('select 3 as v', 'select 9 as v'));
    try {
      const id = open.sessions()[0].id;
      const replayed = open.record(id);
      assert.equal(replayed?.session.integrity, 'tampered');
      assert.ok(replayed?.events.some((e) => JSON.stringify(e.data).includes('select 9 as v')));
      open.reindex();
      assert.equal(open.sessions()[0].integrity, 'tampered');
    } finally {
      open.close();
    }
    const edited = await cli(['verify', '--config', config]);
    assert.equal(edited.code, 1);
    assert.match(edited.stdout, /event \d+: modified: its content does not match its hash/);
    const tampered = await record();
    assert.equal(tampered.integrity, 'tampered');
    assert.match(tampered.problem ?? '', /^event \d+: modified: its content does not match its hash$/);
    const listed = await cli(['sessions', 'list', '--config', config]);
    assert.match(listed.stdout, /RECORD[\s\S]*tampered/);

    const lines = original.trimEnd().split('\n');
    writeFileSync(file, [...lines.slice(0, 2), ...lines.slice(3)].join('\n') + '\n');
    const removed = await cli(['verify', '--config', config]);
    assert.equal(removed.code, 1);
    assert.match(removed.stdout, /event 4: event 3 before it is missing/);
    assert.deepEqual(await record(), {
      integrity: 'tampered',
      problem: 'event 4: event 3 before it is missing',
    });

    // Cutting the session's last events (its end and checkpoint) leaves an intact chain, but no checkpoint.
    writeFileSync(file, lines.slice(0, -2).join('\n') + '\n');
    const truncated = await cli(['verify', '--config', config]);
    assert.equal(truncated.code, 1);
    assert.match(truncated.stdout, /no signed checkpoint after it/);
    assert.deepEqual(await record(), { integrity: 'incomplete', problem: undefined });

    // Put back as it was, the record verifies again (the index is rebuilt when the journal changed under it).
    writeFileSync(file, original);
    assert.deepEqual(await record(), { integrity: 'verified', problem: undefined });
  });

  it('fails closed when the journal cannot be written: the client gets 58030, never an unrecorded result', async () => {
    const recordings = path.join(dir, 'rec-fail');
    const p = await proxyFor(sharedCluster(), { config: { policy: 'read-only', recordings } });
    const write = Journal.prototype.write;
    try {
      const c = await p.connect();
      c.on('error', () => undefined);
      await c.query('select 1 as fine');
      // Fault injection: the disk refuses the next write.
      Journal.prototype.write = function () {
        throw new Error('ENOSPC: no space left on device');
      };
      await assert.rejects(
        c.query("select 'must not arrive' as secret"),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, '58030');
          assert.match(err.message, /recording could not be written: ENOSPC/);
          return true;
        },
      );
    } finally {
      Journal.prototype.write = write;
      await p.close();
    }
  });

  it('after kill -9 of the proxy, every statement whose result the client received is recorded and verifies', async () => {
    assert.ok(existsSync(CLI), 'dist/cli.js is built by npm test');
    const recordings = path.join(dir, 'rec3');
    const cluster = sharedCluster();
    const config = path.join(dir, 'rec3.yaml');
    const ready = path.join(dir, 'rec3.ready.json');
    writeFileSync(
      config,
      `policy: read-only\nrecordings: ${recordings}\nlogLevel: warn\nconnections:\n  - name: crash\n    kind: postgres\n    upstream: postgres://${cluster.user}@${cluster.host}:${cluster.port}/postgres?sslmode=disable\n    passwordEnv: AIRLOCK_REC_TEST_PW\n`,
    );
    const proxy = spawn(process.execPath, [CLI, 'proxy', '--config', config, '--ready-file', ready], {
      env: { ...process.env, AIRLOCK_REC_TEST_PW: cluster.password },
      stdio: 'ignore',
    });
    try {
      await untilReady(ready, proxy);
      const e = JSON.parse(readFileSync(ready, 'utf8')).connections[0];
      const c = new pg.Client({
        host: e.host,
        port: e.port,
        user: e.user,
        password: e.password,
        database: e.database,
      });
      c.on('error', () => undefined);
      await c.connect();
      const received: number[] = [];
      try {
        for (let i = 0; i < 100_000; i++) {
          await c.query(`select ${i} as marker_${i}`);
          received.push(i);
          // Killed after a count of results, not after a time (a busy machine ran only 3 statements in
          // 400 ms); on the next tick, so that the following statement is in flight when it dies.
          if (received.length === 50) setImmediate(() => proxy.kill('SIGKILL'));
        }
      } catch {
        // the proxy is gone
      }
      assert.ok(received.length > 10, `only ${received.length} statements ran before the kill`);
      const { events } = Journal.read(recordings);
      assert.deepEqual(verifyChain(events), []);
      // The session was cut off: no checkpoint yet, so verify says so until a proxy starts again.
      const cut = await cli(['verify', '--config', config]);
      assert.equal(cut.code, 1, cut.stdout);
      assert.match(cut.stdout, /no signed checkpoint after it/);

      // Restart: recovery ends and signs the session; then verify passes and the export has every
      // statement whose result the client received.
      rmSync(ready, { force: true });
      const again = spawn(process.execPath, [CLI, 'proxy', '--config', config, '--ready-file', ready], {
        env: { ...process.env, AIRLOCK_REC_TEST_PW: cluster.password },
        stdio: 'ignore',
      });
      await untilReady(ready, again);
      again.kill('SIGTERM');
      await new Promise((r) => again.once('exit', r));
      const ok = await cli(['verify', '--config', config]);
      assert.equal(ok.code, 0, ok.stdout);
      const exported = await cli(['sessions', 'export', '--all', '--format', 'jsonl', '--config', config]);
      assert.equal(exported.code, 0);
      const recorded = new Set(
        exported.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as ChainedEvent)
          .filter((ev) => ev.type === 'statement')
          .map((ev) => String(ev.data.sql)),
      );
      for (const i of received)
        assert.ok(recorded.has(`select ${i} as marker_${i}`), `statement ${i} was received but not exported`);
      const list = await cli(['sessions', 'list', '--config', config]);
      assert.match(list.stdout, /interrupted/);
    } finally {
      proxy.kill('SIGKILL');
    }
  });
});
