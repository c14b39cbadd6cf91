import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FactsSummary } from '../../src/core/gate/decision';
import type { Obligations } from '../../src/core/policy/document';
import { MaskIndex } from '../../src/core/masking/mask-index';
import { buildResultMasking } from '../../src/core/masking/result-masking';
import { Recorder } from '../../src/core/recording/recorder';
import { Journal } from '../../src/core/recording/journal';
import { loadSqlParser } from '../../src/core/sql/parser';
import {
  InFlightQueue,
  InFlightRequest,
  type AllowDecision,
  type Execution,
} from '../../src/proxy/postgres/in-flight-queue';
import { answerDenied, denialMarkers, replaceDenied } from '../../src/proxy/postgres/denial';
import { ObligationTracker } from '../../src/proxy/postgres/obligations';
import { ResultMasker } from '../../src/proxy/postgres/result-masker';
import { verifyReply } from '../../src/proxy/postgres/reply-verifier';
import { StatementLog } from '../../src/proxy/postgres/statement-log';
import { PgError } from '../../src/proxy/postgres/protocol/errors';
import { decodeCommandTag, decodeDataRow, decodeErrorFields } from '../../src/proxy/postgres/protocol/decode';
import { errorResponse, parse, query } from '../../src/proxy/postgres/protocol/encode';
import { Msg } from '../../src/proxy/postgres/protocol/messages';
import { backendStream, types } from '../helpers/backend-streams';

/**
 * Each per-message stage of the Postgres relay, alone, on backend byte streams recorded from PostgreSQL
 * (test/helpers/backend-streams.ts), with the in-flight queue set up as the session sets it up.
 */

const allow = (facts?: FactsSummary[], obligations: Obligations = {}): AllowDecision => ({
  effect: 'allow',
  rule: 'test-allow',
  obligations,
  ...(facts ? { facts } : {}),
});
const SELECT: FactsSummary = { command: 'SELECT', kind: 'read', relations: [] };

/** Adds an allowed statement to the request being sent, as the session does. */
function execution(queue: InFlightQueue, kind: Execution['kind'], decision: AllowDecision): Execution {
  const e: Execution = { kind, decision, completed: 0, rows: 0, started: Date.now(), sampleBytes: 0 };
  queue.tail.executions.push(e);
  return e;
}

/** Feeds a stream through `stage` and the queue; returns what the stage let through. */
function relay(
  queue: InFlightQueue,
  messages: Buffer[],
  stage: (request: InFlightRequest, type: number, m: Buffer) => Buffer[],
): Buffer[] {
  const out: Buffer[] = [];
  for (const m of messages) {
    out.push(...stage(queue.head, m[0], m));
    queue.answered(m[0]);
  }
  return out;
}

describe('in-flight queue: one entry per request, read by every stage', () => {
  it('the head is the request being answered; an Execute ends at its CommandComplete, the request at ReadyForQuery', () => {
    const queue = new InFlightQueue();
    const e = execution(queue, 'execute', allow([SELECT]));
    const request = queue.tail;
    queue.sent(Msg.sync);
    assert.ok(request.closed);
    const seen: string[] = [];
    for (const m of backendStream('extended-rows')) {
      assert.equal(queue.head, request);
      seen.push(queue.head.execution === e ? 'e' : '-');
      const ended = queue.answered(m[0]);
      if (m[0] === Msg.commandComplete) assert.equal(ended, e);
      else if (m[0] === Msg.readyForQuery) assert.equal(ended, request);
      else assert.equal(ended, undefined);
    }
    assert.equal(
      seen.join(''),
      'eeeeeeeeeeeeee-',
      'every reply up to CommandComplete belongs to the Execute',
    );
    assert.notEqual(queue.head, request);
    assert.equal(queue.head.closed, false, 'a fresh, open request');
  });

  it('pipelined requests are answered in order; a Query keeps its execution until ReadyForQuery', () => {
    const queue = new InFlightQueue();
    const first = execution(queue, 'query', allow([SELECT, SELECT]));
    queue.sent(Msg.query);
    const second = execution(queue, 'query', allow([SELECT]));
    queue.sent(Msg.query);
    for (const m of backendStream('simple-two-statements')) {
      assert.equal(queue.head.execution, first);
      queue.answered(m[0]);
    }
    assert.equal(queue.head.execution, second);
  });

  it('an error marks the request failed and ends an Execute', () => {
    const queue = new InFlightQueue();
    const one = execution(queue, 'execute', allow([SELECT]));
    const request = queue.tail;
    queue.sent(Msg.sync);
    const order: string[] = [];
    for (const m of backendStream('extended-denial-marker')) {
      const ended = queue.answered(m[0]);
      if (ended === one) order.push(String.fromCharCode(m[0]));
    }
    assert.deepEqual(order, ['C']);
    assert.ok(request.failed);
  });
});

describe('denials: the upstream error answering a denial becomes the denial', () => {
  const real = denialMarkers.next;
  afterEach(() => (denialMarkers.next = real));
  const denied = { effect: 'deny' as const, rule: 'r', reason: 'not here', hint: 'ask' };

  it('simple protocol: the replacement is the marker Query; its recorded 42703 becomes 42501', () => {
    denialMarkers.next = () => 'airlock-denied-4111111111111111';
    const queue = new InFlightQueue();
    const replacement = replaceDenied(queue.tail, 'simple', '', denied);
    assert.deepEqual(replacement, query('SELECT "airlock-denied-4111111111111111"'));
    queue.sent(Msg.query);
    const out = relay(queue, backendStream('simple-denial-marker'), (r, type, m) => [
      (type === Msg.errorResponse && answerDenied(r, m)) || m,
    ]);
    assert.equal(types(out), 'EZ');
    assert.deepEqual(decodeErrorFields(out[0]), {
      S: 'ERROR',
      V: 'ERROR',
      C: '42501',
      M: 'airlock: denied: not here',
      D: 'Rule: r',
      H: 'ask',
    });
  });

  it('extended protocol: the replacement is an unnamed Parse; only the error naming the marker is replaced', () => {
    denialMarkers.next = () => 'airlock-denied-4111111111111111';
    const queue = new InFlightQueue();
    execution(queue, 'execute', allow([SELECT]));
    assert.deepEqual(
      replaceDenied(queue.tail, 'extended', '', denied),
      parse('', 'SELECT "airlock-denied-4111111111111111"'),
    );
    queue.sent(Msg.sync);
    const stream = backendStream('extended-denial-marker');
    const request = queue.head;
    const out = relay(queue, stream, (r, type, m) => [
      (type === Msg.errorResponse && answerDenied(r, m)) || m,
    ]);
    assert.deepEqual(out.slice(0, 4), stream.slice(0, 4), 'the rows before it pass untouched');
    assert.equal(decodeErrorFields(out[4]).C, '42501');
    assert.deepEqual(request.denials, [], 'answered');
  });

  it('a real error is not a denial, even with a denial pending in the same request', () => {
    const queue = new InFlightQueue();
    replaceDenied(queue.tail, 'simple', '', denied);
    const [error] = backendStream('simple-error');
    assert.equal(answerDenied(queue.tail, error), null);
    assert.equal(queue.tail.denials?.length, 1);
  });

  it('a marker that could end the quoted identifier is refused', () => {
    denialMarkers.next = () => 'x" or true --';
    assert.throws(
      () => replaceDenied(new InFlightQueue().tail, 'simple', '', denied),
      /invalid denial marker/,
    );
  });
});

describe('result masker on recorded streams', () => {
  before(() => loadSqlParser());
  const masking = buildResultMasking(
    { content: { detectors: 'all' } },
    new MaskIndex({}, undefined),
    'c',
    randomBytes(32),
  );

  it('content findings in every row are masked; messages without any pass as the same buffers', () => {
    const queue = new InFlightQueue();
    queue.sent(Msg.query);
    const masker = new ResultMasker(() => masking);
    const stream = backendStream('simple-select');
    const out = relay(queue, stream, (r, type, m) => {
      const masked = masker.backend(r, type, m);
      return masked ? [masked] : [];
    });
    assert.equal(types(out), 'TDDDCZ');
    assert.deepEqual(decodeDataRow(out[1]), ['[REDACTED:email]', '1', 'card [REDACTED:card]']);
    for (const i of [0, 4, 5]) assert.equal(out[i], stream[i]);
  });

  it("the answer to Airlock's own Describe is withheld; the client's own Describe is answered", () => {
    const masker = new ResultMasker(() => masking);
    for (const injected of [true, false]) {
      const queue = new InFlightQueue();
      masker.describeSent(queue.tail, injected);
      queue.sent(Msg.sync);
      const out = relay(queue, backendStream('extended-rows'), (r, type, m) => {
        const masked = masker.backend(r, type, m);
        return masked ? [masked] : [];
      });
      assert.equal(types(out), injected ? '12DDDDDDDDDDCZ' : '12TDDDDDDDDDDCZ');
    }
  });
});

describe('obligations on recorded streams', () => {
  const run = (queue: InFlightQueue, tracker: ObligationTracker, name: Parameters<typeof backendStream>[0]) =>
    relay(queue, backendStream(name), (r, type, m) => {
      const verdict = tracker.backend(r, type, m);
      return verdict === 'pass' ? [m] : verdict === 'drop' ? [] : verdict;
    });

  it('maxRows (truncate): the rows past the limit are dropped, a notice says so, the tag says the limit', () => {
    for (const [kind, name] of [
      ['execute', 'extended-rows'],
      ['query', 'simple-select'],
    ] as const) {
      const queue = new InFlightQueue();
      const tracker = new ObligationTracker(queue, () => assert.fail('no cancel when truncating'));
      execution(queue, kind, allow(undefined, { maxRows: 2 }));
      queue.sent(kind === 'query' ? Msg.query : Msg.sync);
      const out = run(queue, tracker, name);
      assert.equal(types(out).replace(/^12T?|^T/, ''), 'DDNCZ', name);
      const notice = out.find((m) => m[0] === Msg.noticeResponse) as Buffer;
      assert.match(decodeErrorFields(notice).M, /^airlock: result truncated to 2 of \d+ rows/);
      assert.equal(decodeCommandTag(out[out.length - 2]), 'SELECT 2');
    }
  });

  it('each result of a multi-statement Query has its own limit', () => {
    const queue = new InFlightQueue();
    const tracker = new ObligationTracker(queue, () => undefined);
    execution(queue, 'query', allow(undefined, { maxRows: 1 }));
    queue.sent(Msg.query);
    assert.equal(types(run(queue, tracker, 'simple-two-statements')), 'TDCTDCZ');
  });

  it('maxRows (error): the statement is cancelled upstream, and its cancellation error becomes 54000', () => {
    const queue = new InFlightQueue();
    let cancels = 0;
    const tracker = new ObligationTracker(queue, () => cancels++);
    execution(queue, 'execute', allow(undefined, { maxRows: 5, onExceed: 'error' }));
    queue.sent(Msg.sync);
    const stream = backendStream('extended-rows');
    const canceled = errorResponse(new PgError('57014', 'canceling statement due to user request'));
    // The server stops at the cancel: rows, then its 57014 instead of CommandComplete.
    const out = relay(queue, [...stream.slice(0, 12), canceled, stream[stream.length - 1]], (r, type, m) => {
      const verdict = tracker.backend(r, type, m);
      return verdict === 'pass' ? [m] : verdict === 'drop' ? [] : verdict;
    });
    assert.equal(cancels, 1, 'cancelled once, at the first row past the limit');
    assert.equal(types(out), '12TDDDDDEZ');
    assert.equal(decodeErrorFields(out[8]).C, '54000');
  });

  it('no cancel while a later request is queued behind the statement: it could hit that one', () => {
    const queue = new InFlightQueue();
    const tracker = new ObligationTracker(queue, () => assert.fail('cancel would hit the next request'));
    execution(queue, 'execute', allow(undefined, { maxRows: 5, onExceed: 'error' }));
    queue.sent(Msg.sync);
    queue.sent(Msg.query);
    run(queue, tracker, 'extended-rows');
  });
});

describe('reply verifier on recorded streams', () => {
  const problems = (facts: FactsSummary[], name: Parameters<typeof backendStream>[0]) => {
    const queue = new InFlightQueue();
    execution(queue, 'query', allow(facts));
    queue.sent(Msg.query);
    const found: string[] = [];
    relay(queue, backendStream(name), (r, type, m) => {
      const problem = verifyReply(r, type, m);
      if (problem) found.push(problem);
      return [];
    });
    return found;
  };
  const CREATE: FactsSummary = { command: 'CREATE TABLE', kind: 'ddl', relations: ['t'] };
  const INSERT: FactsSummary = { command: 'INSERT', kind: 'write', relations: ['t'] };
  const DELETE: FactsSummary = { command: 'DELETE', kind: 'write', relations: ['t'] };

  it('replies that fit the decided statements pass', () => {
    assert.deepEqual(problems([SELECT, SELECT], 'simple-two-statements'), []);
    assert.deepEqual(problems([CREATE, INSERT, DELETE], 'simple-insert-delete'), []);
    assert.deepEqual(problems([SELECT, SELECT], 'simple-error'), [], 'an error skips the rest');
  });

  it('a result beyond the decided statements, a tag of another command, a statement missing: each is named', () => {
    assert.deepEqual(problems([SELECT], 'simple-two-statements'), [
      'the server returned results beyond the 1 statement(s) decided',
      'the server returned results beyond the 1 statement(s) decided',
      'the server completed "SELECT 1" beyond the 1 statement(s) decided',
    ]);
    assert.deepEqual(problems([CREATE, INSERT, SELECT], 'simple-insert-delete'), [
      'the server completed "DELETE 2" where Airlock decided SELECT (read)',
    ]);
    assert.deepEqual(problems([CREATE, INSERT, DELETE, DELETE], 'simple-insert-delete'), [
      'the server completed 3 of the 4 statement(s) decided',
    ]);
  });

  it('a completion in a request that decided nothing is named', () => {
    const queue = new InFlightQueue();
    queue.sent(Msg.sync);
    const [complete] = backendStream('simple-insert-delete');
    assert.equal(
      verifyReply(queue.head, complete[0], complete),
      'the server completed "CREATE TABLE", which Airlock did not decide',
    );
  });
});

describe('statement log on recorded streams', () => {
  let dir: string;
  before(async () => {
    await loadSqlParser();
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-statement-log-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('records each statement when it ends: tags, error, a sample of the rows as sent', () => {
    const recorder = Recorder.open(dir);
    try {
      const session = recorder.session('s1', {
        connection: 'c',
        actor: { user: 'ada', groups: [] },
        client: '127.0.0.1:1',
      });
      const log = new StatementLog(session, { rows: 2, bytes: 1024 }, 'none');
      const queue = new InFlightQueue();
      // As the session: the log sees each message, then what the message ended is recorded.
      const feed = (name: Parameters<typeof backendStream>[0]) => {
        for (const m of backendStream(name)) {
          log.backend(queue.head, m[0], m);
          const ended = queue.answered(m[0]);
          if (ended instanceof InFlightRequest) ended.endAll((e) => log.ended(e));
          else if (ended) log.ended(ended);
        }
      };

      const select = execution(queue, 'query', allow([SELECT]));
      log.started(select, 'simple', 'select …');
      queue.sent(Msg.query);
      feed('simple-select');

      const one = execution(queue, 'execute', allow([SELECT]));
      log.started(one, 'extended', 'select 1 as one');
      log.denied('extended', 'select "forbidden"', { effect: 'deny', rule: 'r', reason: 'no', hint: 'h' });
      queue.sent(Msg.sync);
      feed('extended-denial-marker');
      log.end('test');
      session.write();
    } finally {
      recorder.close();
    }
    const statements = Journal.read(dir)
      .events.filter((e) => e.type === 'statement')
      .map((e) => e.data as Record<string, unknown>);
    assert.equal(statements.length, 3);
    assert.deepEqual(statements[0].tags, ['SELECT 3']);
    assert.deepEqual(statements[0].sample, {
      columns: ['email', 'n', 'note'],
      rows: [
        ['ada@example.com', '1', 'card 4111 1111 1111 1111'],
        ['ada@example.com', '2', 'card 4111 1111 1111 1111'],
      ],
      truncated: true,
    });
    assert.deepEqual(
      statements.slice(1).map((s) => [s.decision, s.sql]),
      [
        ['deny', 'select "forbidden"'],
        ['allow', 'select 1 as one'],
      ],
      'the denial at once; the Execute when its CommandComplete passes',
    );
    assert.deepEqual(statements[2].tags, ['SELECT 1']);
    assert.equal(statements[2].error, undefined, 'the marker error after it belongs to no statement');
  });
});
