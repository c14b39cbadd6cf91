import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Recorder } from '../../src/core/recording/recorder';
import { recordedText } from '../../src/core/sql/recorded-text';
import { RecordingStore } from '../../src/core/recording/store';
import { verifyRecordings } from '../../src/core/recording/verify';
import { OcsfConverter } from '../../src/core/recording/export';
import { Journal } from '../../src/core/recording/journal';
import type { RecordedEvent } from '../../src/core/recording/events';
import { readEvents } from '../../src/core/recording/event-reader';
import { loadSqlParser } from '../../src/core/sql/parser';
import { at } from '../helpers/json-path';
import initSqlJs from 'sql.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'airlock-store-'));
const actor = { user: 'ada', groups: ['dev'] };
const journalFile = (dir: string) => path.join(dir, 'journal.jsonl');

function recordSession(rec: Recorder, id: string, sqls: string[], agent?: string, end = true): void {
  const s = rec.session(id, {
    connection: 'orders',
    actor: { ...actor, agent },
    application: agent,
    client: '127.0.0.1:50000',
    upstream: { host: 'db', port: 5432, database: 'shop', user: 'app' },
    policy: 'preset:read-only',
  });
  for (const sql of sqls) {
    const deny = sql.startsWith('delete');
    s.statement({
      protocol: 'simple',
      sql,
      decision: deny ? 'deny' : 'allow',
      rule: deny ? 'default' : 'reads',
      reason: deny ? 'writes are not allowed' : undefined,
      facts: [{ command: deny ? 'DELETE' : 'SELECT', kind: deny ? 'write' : 'read', relations: ['orders'] }],
      tags: deny ? undefined : ['SELECT 1'],
      durationMs: 2,
    });
  }
  if (end) s.end('client disconnected');
  s.write();
}

describe('recording: checkpoints, recovery, retention', () => {
  it('ends every session with a signed checkpoint, and verify passes', () => {
    const dir = tmp();
    const rec = Recorder.open(dir);
    recordSession(rec, 's1', ['select 1', 'delete from orders']);
    rec.close();
    const events = Journal.read(dir).events;
    assert.deepEqual(
      events.map((e) => e.type),
      ['session-start', 'statement', 'statement', 'session-end', 'checkpoint'],
    );
    assert.equal(events[4].data.seq, 4);
    assert.equal(events[4].data.hash, events[3].hash);
    const report = verifyRecordings(dir);
    assert.deepEqual(report.problems, []);
    assert.equal(report.sessions, 1);
  });

  it('names events cut off the end of a session (no checkpoint), and a checkpoint signed by another key', () => {
    const dir = tmp();
    const rec = Recorder.open(dir);
    recordSession(rec, 's1', ['select 1', 'select 2', 'select 3']);
    rec.close();
    const pinned = path.join(dir, 'pinned.pub.pem');
    writeFileSync(pinned, readFileSync(path.join(dir, 'keys', 'installation-ed25519.pub.pem')));
    const lines = readFileSync(journalFile(dir), 'utf8').trimEnd().split('\n');

    // The last statement, the end and the checkpoint removed: the chain alone would still look fine.
    writeFileSync(journalFile(dir), lines.slice(0, 3).join('\n') + '\n');
    const cut = verifyRecordings(dir);
    assert.equal(cut.problems.length, 1);
    assert.match(cut.problems[0].problem, /no signed checkpoint after it/);
    assert.equal(cut.problems[0].seq, 3);

    // An intact journal checked against a key that is not the folder's: every checkpoint is rejected.
    writeFileSync(journalFile(dir), lines.join('\n') + '\n');
    const other = path.join(dir, 'other.pub.pem');
    writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    assert.match(verifyRecordings(dir, { publicKey: other }).problems[0].problem, /signed by another key/);
    assert.deepEqual(verifyRecordings(dir, { publicKey: pinned }).problems, []);
  });

  it('at start, closes and signs sessions a killed proxy left open, after setting a torn line aside', () => {
    const dir = tmp();
    const crashed = Recorder.open(dir);
    recordSession(crashed, 'open-1', ['select 1'], 'agent-a', false);
    recordSession(crashed, 'done', ['select 2']);
    // A crash: no close(), the lock stays (with this process's pid), and half a line at the end.
    appendFileSync(journalFile(dir), '{"sessionId":"open-1","seq":3,"ti');
    assert.throws(() => Recorder.open(dir), /in use by this process/);
    (crashed as unknown as { lock: { release(): void } }).lock.release();
    const before = verifyRecordings(dir);
    assert.ok(
      before.problems.some((p) => p.sessionId === 'open-1' && /no signed checkpoint/.test(p.problem)),
    );

    const rec = Recorder.open(dir);
    assert.deepEqual(rec.report.recovered, ['open-1']);
    assert.ok(rec.report.tornBytes > 0);
    rec.close();
    const after = verifyRecordings(dir);
    assert.deepEqual(after.problems, []);
    assert.deepEqual(after.damaged, []);
    const open1 = Journal.read(dir).events.filter((e) => e.sessionId === 'open-1');
    assert.deepEqual(
      open1.map((e) => e.type),
      ['session-start', 'statement', 'session-end', 'checkpoint'],
    );
    assert.equal(open1[2].data.interrupted, true);
  });

  it('removes sessions past retention at start and keeps the rest verifiable', async () => {
    const dir = tmp();
    const rec = Recorder.open(dir);
    recordSession(rec, 'old', ['select 1']);
    recordSession(rec, 'running', ['select 2'], undefined, false);
    await new Promise((r) => setTimeout(r, 2000));
    recordSession(rec, 'new', ['select 3']);
    rec.close();
    // One second: 'old' ended two seconds ago, 'new' a moment ago.
    const pruned = Recorder.open(dir, { retentionDays: 1 / 86400 });
    // 'running' was left open: it is recovered (ended now), not expired.
    assert.equal(pruned.report.expired, 1);
    pruned.close();
    const sessions = new Set(Journal.read(dir).events.map((e) => e.sessionId));
    assert.deepEqual([...sessions].sort(), ['new', 'running']);
    assert.deepEqual(verifyRecordings(dir).problems, []);
  });
});

describe('recording: store and replay API', () => {
  it('lists sessions with filters, reads a session in order, and catches up incrementally', async () => {
    const dir = tmp();
    const rec = Recorder.open(dir);
    recordSession(rec, 'aaaa-1', ['select 1', 'delete from orders'], 'claude-code');
    recordSession(rec, 'bbbb-2', ['select 2'], 'psql');
    const store = await RecordingStore.open(dir);
    assert.deepEqual(
      store
        .sessions()
        .map((s) => s.id)
        .sort(),
      ['aaaa-1', 'bbbb-2'],
    );
    assert.deepEqual(
      store.sessions({ decision: 'deny' }).map((s) => s.id),
      ['aaaa-1'],
    );
    assert.deepEqual(
      store.sessions({ actor: 'psql' }).map((s) => s.id),
      ['bbbb-2'],
    );
    assert.deepEqual(store.sessions({ connection: 'nope' }), []);
    assert.deepEqual(store.sessions({ since: '2999-01-01' }), []);
    const a = store.session('aaaa');
    assert.equal(a?.statements, 2);
    assert.equal(a?.denials, 1);
    assert.equal(a?.agent, 'claude-code');
    assert.equal(a?.policy, 'preset:read-only');
    assert.equal(a?.checkpoint, true);
    assert.equal(a?.live, false);
    assert.deepEqual(
      store.events('aaaa-1').map((e) => e.seq),
      [1, 2, 3, 4, 5],
    );
    assert.throws(() => store.session(''), /more than one session/);

    // A live session while the writer runs: listed as live, and found after a refresh.
    recordSession(rec, 'cccc-3', ['select 3'], 'cursor', false);
    store.refresh();
    assert.equal(store.session('cccc')?.live, true);
    store.save();
    store.close();
    rec.close();

    // A fresh store from the saved index continues where it stopped; after compaction it rebuilds.
    const again = await RecordingStore.open(dir);
    assert.equal(again.sessions().length, 3);
    assert.equal(again.session('cccc')?.live, false);
    again.close();
  });

  it('indexes the verified channel beside the agent name, and rebuilds an index from before that column', async () => {
    const dir = tmp();
    const rec = Recorder.open(dir);
    recordSession(rec, 'aaaa-1', ['select 1'], 'mcp:evil');
    const s = rec.session('bbbb-2', {
      connection: 'orders',
      actor: { ...actor, agent: 'mcp:claude/1', channel: 'mcp' },
      client: '127.0.0.1:50001',
    });
    s.end('client disconnected');
    s.write();
    rec.close();
    const store = await RecordingStore.open(dir);
    assert.equal(store.session('aaaa')?.channel, undefined);
    assert.equal(store.session('bbbb')?.channel, 'mcp');
    store.save();
    store.close();
    // An index saved by an older Airlock, without the column: rebuilt from the journal, not broken.
    const SQL = await initSqlJs();
    const index = path.join(dir, 'index.sqlite');
    const old = new SQL.Database(readFileSync(index));
    old.exec('ALTER TABLE sessions DROP COLUMN channel');
    writeFileSync(index, old.export());
    old.close();
    const again = await RecordingStore.open(dir);
    assert.equal(again.session('bbbb')?.channel, 'mcp');
    assert.equal(again.sessions().length, 2);
    again.close();
  });

  it('follows a live session: existing events now, new ones as they are written, stops at the checkpoint', async () => {
    const dir = tmp();
    const rec = Recorder.open(dir);
    const s = rec.session('live-1', { connection: 'c', actor, client: 'x:1' });
    s.statement({ protocol: 'simple', sql: 'select 1', decision: 'allow', rule: 'r' });
    s.write();
    const store = await RecordingStore.open(dir);
    const seen: RecordedEvent[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const follower = store.follow('live-1', 0, (events) => {
      seen.push(...events);
      if (events.some((e) => e.type === 'checkpoint')) done();
    });
    assert.deepEqual(
      seen.map((e) => e.seq),
      [1, 2],
    );
    s.statement({ protocol: 'simple', sql: 'select 2', decision: 'allow', rule: 'r' });
    s.end('bye');
    s.write();
    await finished;
    follower.close();
    assert.deepEqual(
      seen.map((e) => e.type),
      ['session-start', 'statement', 'statement', 'session-end', 'checkpoint'],
    );
    store.close();
    rec.close();
  });
});

describe('recording: what is kept of statement text', () => {
  before(() => loadSqlParser());

  it('redacts passwords, and every literal of a statement on masked data', () => {
    assert.equal(recordedText("ALTER ROLE x PASSWORD 'hunter2'"), "ALTER ROLE x PASSWORD '[REDACTED]'");
    assert.equal(recordedText('select 1'), 'select 1');
    assert.equal(
      recordedText("select id from customers where email = 'ada@example.com' and id > 3", true),
      'select id from customers where email = $1 and id > $2',
    );
    assert.match(recordedText("select from where 'ada@example.com'", true), /REDACTED/);
  });
});

describe('recording: OCSF export', () => {
  it('maps session start/end to Authentication, statements to Datastore Activity, denials to Authorize Session', () => {
    const dir = tmp();
    const rec = Recorder.open(dir);
    recordSession(rec, 's1', ['select 1', 'delete from orders'], 'claude-code');
    rec.close();
    const converter = new OcsfConverter();
    const out = readEvents(dir).events.flatMap((e) => converter.convert(e));
    assert.deepEqual(
      out.map((o) => [o.class_uid, o.activity_id]),
      [
        [3002, 1],
        [6005, 4],
        [6005, 7],
        [3003, 99],
        [3002, 2],
      ],
    );
    const read = (path: string) => at(out[1], path);
    assert.equal(read('type_uid'), 600504);
    assert.equal(read('query_info.query_string'), 'select 1');
    assert.equal(read('actor.user.name'), 'ada');
    assert.equal(read('actor.app_name'), 'claude-code');
    assert.deepEqual(read('src_endpoint'), { ip: '127.0.0.1', port: 50000 });
    assert.equal(read('database.name'), 'shop');
    assert.equal(read('disposition_id'), 1);
    assert.equal(read('metadata.version'), '1.3.0');
    assert.equal(at(out[2], 'disposition'), 'Blocked');
    assert.equal(at(out[2], 'status_id'), 2);
    assert.equal(at(out[2], 'message'), 'writes are not allowed');
    assert.equal(at(out[3], 'activity_name'), 'Statement denied');
  });

  it('maps an alarm to a Detection Finding of high severity', () => {
    const dir = tmp();
    const rec = Recorder.open(dir);
    recordSession(rec, 's2', ['select 1'], undefined, false);
    const s = rec.session('s2b', {
      connection: 'orders',
      actor,
      client: '127.0.0.1:50000',
      upstream: { host: 'db', port: 5432, database: 'shop', user: 'app' },
    });
    s.event('alarm', { reason: 'the server completed "DELETE 3" where Airlock decided SELECT (read)' });
    s.end('alarm');
    s.write();
    rec.close();
    const converter = new OcsfConverter();
    const findings = readEvents(dir)
      .events.flatMap((e) => converter.convert(e))
      .filter((o) => o.class_uid === 2004);
    assert.equal(findings.length, 1);
    assert.equal(at(findings[0], 'type_uid'), 200401);
    assert.equal(at(findings[0], 'severity'), 'High');
    assert.match(String(at(findings[0], 'finding_info.desc')), /DELETE 3/);
    assert.equal(at(findings[0], 'actor.user.name'), 'ada');
  });
});
