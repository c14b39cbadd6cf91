import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SessionChain } from '../../src/core/recording/chain';
import { eventProblem, readEvents } from '../../src/core/recording/event-reader';
import type { StatementRecord } from '../../src/core/recording/events';
import { OcsfConverter } from '../../src/core/recording/export';
import { JOURNAL_FILE } from '../../src/core/recording/journal';
import { Recorder } from '../../src/core/recording/recorder';
import { RecordingStore } from '../../src/core/recording/store';
import { verifyRecordings } from '../../src/core/recording/verify';
import {
  parseReplayViewMessage,
  parseStatementRecord,
  replayEvent,
  replaySession,
} from '../../src/shared/webviews/replay-protocol';

const STATEMENT: StatementRecord = {
  protocol: 'simple',
  sql: 'update t set a = 1',
  decision: 'allow',
  rule: 'writes-need-review',
  tags: ['UPDATE 1'],
  review: { outcome: 'approved', approver: 'ada', scope: 'once', waitMs: 1200 },
  sample: { columns: ['a'], rows: [['1'], [null]], truncated: false },
};

const event = (type: string, data: unknown): unknown =>
  JSON.parse(new SessionChain('s1').next(type, data as object));

describe('recording: the event schema', () => {
  it('accepts what the recorder writes, and names the field of a malformed event', () => {
    assert.equal(eventProblem(event('statement', STATEMENT)), null);
    // Fields a later version adds pass (recordings outlive their readers).
    assert.equal(eventProblem(event('statement', { ...STATEMENT, costUnits: 3 })), null);
    const cases: Array<[string, unknown, RegExp]> = [
      [
        'statement',
        { ...STATEMENT, decision: 'maybe' },
        /statement event: data\.decision: must be one of "allow", "deny"/,
      ],
      ['statement', { ...STATEMENT, rule: undefined }, /data: missing required key "rule"/],
      [
        'statement',
        { ...STATEMENT, review: { outcome: 'ok', waitMs: 1 } },
        /data\.review\.outcome: must be one of/,
      ],
      [
        'statement',
        { ...STATEMENT, sample: { columns: ['a'], rows: [['1', '2']], truncated: false } },
        /data\.sample\.rows\[0\]: wrong number of values/,
      ],
      [
        'statement',
        { ...STATEMENT, sample: { columns: ['a'], rows: [[1]], truncated: false } },
        /data\.sample\.rows\[0\]\[0\]/,
      ],
      ['session-end', {}, /session-end event: data: missing required key "reason"/],
      ['checkpoint', { seq: 'one', hash: 'h', key: 'k', signature: 's' }, /data\.seq/],
      ['approval', { outcome: 'approved' }, /event\.type: must be one of "session-start", "statement"/],
    ];
    for (const [type, data, problem] of cases)
      assert.match(eventProblem(event(type, data)) ?? 'accepted', problem);
    assert.match(eventProblem({ sessionId: 's1', seq: 1 }) ?? '', /event: missing required key "time"/);
  });

  it('the replay view checks statement data by the same schema as the journal reader', () => {
    const variants: unknown[] = [
      STATEMENT,
      { ...STATEMENT, costUnits: 3 },
      { ...STATEMENT, decision: 'maybe' },
      { ...STATEMENT, durationMs: -1 },
      { ...STATEMENT, parameters: ['1', null] },
      { ...STATEMENT, parameters: [1] },
      { ...STATEMENT, parameterCount: 1.5 },
      { ...STATEMENT, facts: [{ command: 'UPDATE', kind: 'write', relations: ['t'] }] },
      { ...STATEMENT, facts: [{ command: 'UPDATE', kind: 'write' }] },
      { ...STATEMENT, error: { code: '23505' } },
      { ...STATEMENT, review: { ...STATEMENT.review, scope: 'forever' } },
      { ...STATEMENT, sample: { columns: ['a'], rows: [['1', '2']], truncated: false } },
      { ...STATEMENT, literalsRedacted: 'yes' },
    ];
    for (const data of variants) {
      const journal = eventProblem(event('statement', data)) === null;
      assert.equal(parseStatementRecord(data).ok, journal, JSON.stringify(data));
    }
  });
});

describe('recording: a garbled or tampered journal line', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-events-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is reported, and the store, the export and the replay data go on with the rest', async () => {
    const rec = Recorder.open(dir);
    const s = rec.session('s1', {
      connection: 'prod',
      actor: { user: 'ada', groups: [] },
      client: '127.0.0.1:5000',
    });
    s.statement({ protocol: 'simple', sql: 'select 1', decision: 'allow', rule: 'reads' });
    s.statement(STATEMENT);
    s.end('client disconnected');
    rec.close();
    // Tamper with the second statement (its decision becomes a word the schema does not know) and glue
    // a line of garbage into the middle of the journal.
    const file = path.join(dir, JOURNAL_FILE);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    lines[2] = lines[2].replace('"decision":"allow"', '"decision":"maybe"');
    lines.splice(1, 0, '{"sessionId":"s1","seq"');
    writeFileSync(file, lines.join('\n') + '\n');

    const read = readEvents(dir);
    assert.deepEqual(
      read.damaged.map((d) => [d.line, d.problem]),
      [
        [2, 'unreadable line'],
        [4, 'not a recording event: statement event: data.decision: must be one of "allow", "deny"'],
      ],
    );

    const store = await RecordingStore.open(dir);
    try {
      assert.deepEqual(
        store.damaged.map((d) => d.line),
        [2, 4],
      );
      const session = store.session('s1');
      assert.ok(session);
      assert.equal(session.statements, 1);
      const events = store.events('s1');
      assert.deepEqual(
        events.map((e) => e.type),
        ['session-start', 'statement', 'session-end', 'checkpoint'],
      );
      const converter = new OcsfConverter();
      assert.ok(events.flatMap((e) => converter.convert(e)).some((o) => o.class_uid === 6005));
      const view = parseReplayViewMessage({
        type: 'session',
        session: replaySession(session),
        events: events.map(replayEvent),
      });
      assert.ok(view.ok);
    } finally {
      store.close();
    }

    // verify names both lines, and the tampered event's broken hash.
    const report = verifyRecordings(dir);
    assert.deepEqual(
      report.damaged.map((d) => d.line),
      [2, 4],
    );
    assert.ok(report.problems.some((p) => p.seq === 3 && /modified/.test(p.problem)));
  });

  it('a line appended by a newer writer with a kind this version does not know is reported, not fatal', async () => {
    const rec = Recorder.open(dir);
    rec.session('s2', { connection: 'c', actor: { user: 'ada', groups: [] }, client: 'x:1' }).end('done');
    rec.close();
    appendFileSync(
      path.join(dir, JOURNAL_FILE),
      new SessionChain('s3').next('terminal-output', { bytes: 'aGk=' }) + '\n',
    );
    const store = await RecordingStore.open(dir);
    try {
      assert.equal(store.sessions().length, 1);
      assert.match(store.damaged[0]?.problem ?? '', /event\.type: must be one of/);
    } finally {
      store.close();
    }
  });
});
