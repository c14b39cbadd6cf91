import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { ApprovalBroker, ApprovalOutcome, ApprovalRequest } from '../../src/core/approvals/broker';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import {
  directPg,
  dropDatabase,
  expectDenied,
  freshDatabase,
  rejection,
  repoRoot,
  tempPolicy,
} from '../helpers/policy-fixtures';

/**
 * examples/policies/approve-writes.yaml through the proxy: reads pass, DDL/DCL are denied outright with
 * the policy's own message, and every write waits for a reviewer (a programmatic ApprovalBroker here,
 * the VS Code approval panel in the product) — denied when there is none, when it says no, or when it
 * does not answer in time.
 */
const DB = 'approve_writes';
const POLICY = path.join(repoRoot, 'examples', 'policies', 'approve-writes.yaml');

const SCHEMA = `
create table t (id int primary key, note text);
insert into t values (1, 'one'), (2, 'two'), (3, 'three');
`;

/** A reviewer the test drives: each request waits until the test answers it (or answers by `auto`). */
class TestBroker implements ApprovalBroker {
  readonly requests: ApprovalRequest[] = [];
  readonly aborted: string[] = [];
  private waiting: Array<{ request: ApprovalRequest; answer: (o: ApprovalOutcome) => void }> = [];
  private arrivals: Array<() => void> = [];
  /** When set, requests are answered at once with this outcome. */
  auto: ApprovalOutcome | null = null;

  request(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome> {
    this.requests.push(request);
    signal.addEventListener('abort', () => this.aborted.push(request.id));
    for (const a of this.arrivals.splice(0)) a();
    if (this.auto) return Promise.resolve(this.auto);
    return new Promise((answer) => this.waiting.push({ request, answer }));
  }

  /** Resolves when at least `n` requests have arrived. */
  async arrived(n: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < n) {
      if (Date.now() > deadline)
        throw new Error(`expected ${n} review request(s), got ${this.requests.length}`);
      await new Promise<void>((r) => {
        this.arrivals.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** Answers the oldest waiting request. */
  answer(outcome: ApprovalOutcome): void {
    const w = this.waiting.shift();
    if (!w) throw new Error('no review request is waiting');
    w.answer(outcome);
  }

  reset(): void {
    this.requests.length = 0;
    this.aborted.length = 0;
    this.waiting = [];
    this.auto = null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tracks whether a promise has settled, without consuming its rejection. */
function track<T>(promise: Promise<T>) {
  const state = { settled: false, at: 0 };
  promise.then(
    () => Object.assign(state, { settled: true, at: Date.now() }),
    () => Object.assign(state, { settled: true, at: Date.now() }),
  );
  return state;
}

describe('approve-writes policy (examples/policies/approve-writes.yaml)', function () {
  this.timeout(60_000);
  let direct: pg.Client;
  const rows = async () =>
    (await direct.query('select id, note from t order by id')).rows as Array<{ id: number; note: string }>;
  const ORIGINAL = [
    { id: 1, note: 'one' },
    { id: 2, note: 'two' },
    { id: 3, note: 'three' },
  ];

  before(async () => {
    await freshDatabase(sharedCluster(), DB, SCHEMA);
    direct = await directPg(sharedCluster(), DB);
  });
  after(async () => {
    await direct?.end();
    await dropDatabase(sharedCluster(), DB);
  });

  const restore = async () => {
    await direct.query("truncate t; insert into t values (1, 'one'), (2, 'two'), (3, 'three')");
  };

  describe('without a reviewer (headless)', () => {
    let p: ProxyUnderTest;
    before(async () => {
      p = await proxyFor(sharedCluster(), {
        database: DB,
        config: { policy: POLICY, allowUnsignedPolicy: true },
      });
    });
    after(() => p?.close());

    it('reads work', async () => {
      const c = await p.connect();
      try {
        const { rows: got } = await c.query('select id, note from t where id >= $1 order by id', [2]);
        assert.deepEqual(got, ORIGINAL.slice(1));
        assert.deepEqual((await c.query('select count(*)::int as n from t')).rows, [{ n: 3 }]);
      } finally {
        await c.end();
      }
    });

    it('DDL is denied by no-ddl-or-dcl with the policy message and hint', async () => {
      const c = await p.connect();
      try {
        const err = await expectDenied(c.query('CREATE TABLE x(a int)'), 'CREATE TABLE', 'no-ddl-or-dcl');
        assert.equal(
          err.message,
          'airlock: denied: Schema and permission changes are not made through Airlock',
        );
        assert.equal(err.hint, 'Use a migration reviewed in your usual change process.');
        assert.deepEqual((await c.query('select 1 as still_usable')).rows, [{ still_usable: 1 }]);
      } finally {
        await c.end();
      }
      assert.deepEqual((await direct.query("select to_regclass('public.x') as x")).rows, [{ x: null }]);
    });

    it('DCL (GRANT) is denied by no-ddl-or-dcl with the policy message and hint', async () => {
      const c = await p.connect();
      try {
        const err = await expectDenied(c.query('GRANT SELECT ON t TO PUBLIC'), 'GRANT', 'no-ddl-or-dcl');
        assert.equal(
          err.message,
          'airlock: denied: Schema and permission changes are not made through Airlock',
        );
        assert.equal(err.hint, 'Use a migration reviewed in your usual change process.');
      } finally {
        await c.end();
      }
      assert.deepEqual((await direct.query("select relacl from pg_class where oid = 't'::regclass")).rows, [
        { relacl: null },
      ]);
    });

    it('a write is denied, explaining that no reviewer is reachable', async () => {
      const c = await p.connect();
      try {
        const err = await expectDenied(
          c.query("INSERT INTO t VALUES (10, 'ten')"),
          'INSERT',
          'writes-need-review',
        );
        assert.match(err.message, /needs review by self/);
        assert.match(err.message, /no reviewer is reachable/);
        assert.deepEqual((await c.query('select 1 as still_usable')).rows, [{ still_usable: 1 }]);
      } finally {
        await c.end();
      }
      assert.deepEqual(await rows(), ORIGINAL);
    });
  });

  describe('with a reviewer', () => {
    let p: ProxyUnderTest;
    const broker = new TestBroker();
    before(async () => {
      p = await proxyFor(sharedCluster(), {
        database: DB,
        config: { policy: POLICY, allowUnsignedPolicy: true },
        approvals: broker,
      });
    });
    after(() => p?.close());
    beforeEach(async () => {
      broker.reset();
      await restore();
    });

    it('an INSERT waits for approval, then runs; the request carries SQL, facts, rule, actor and approvers', async () => {
      const c = await p.connect({ application_name: 'test-agent' });
      try {
        const sql = "INSERT INTO t VALUES (10, 'ten')";
        const insert = c.query(sql);
        const state = track(insert);
        await broker.arrived(1);
        // Held at the proxy: nothing has reached the server yet.
        assert.deepEqual(await rows(), ORIGINAL);
        await sleep(300);
        assert.equal(state.settled, false, 'the INSERT finished before the reviewer answered');
        broker.answer({ approved: true, approver: 'reviewer@test' });
        const result = await insert;
        assert.equal(result.command, 'INSERT');
        assert.equal(result.rowCount, 1);
        assert.deepEqual(await rows(), [...ORIGINAL, { id: 10, note: 'ten' }]);

        assert.equal(broker.requests.length, 1);
        const req = broker.requests[0];
        assert.equal(req.sql, sql);
        assert.equal(req.rule, 'writes-need-review');
        assert.deepEqual(req.review.approvers, ['self']);
        assert.equal(req.review.timeout, '5m');
        assert.equal(req.timeoutMs, 5 * 60_000);
        assert.equal(req.connection, 'test');
        assert.equal(req.actor.user, os.userInfo().username);
        assert.equal(req.actor.agent, 'test-agent');
        assert.equal(req.statements.length, 1);
        const [facts] = req.statements;
        assert.equal(facts.kind, 'write');
        assert.equal(facts.command, 'INSERT');
        assert.deepEqual(
          facts.relations.map((r) => [r.schema ?? 'public', r.name, r.access]),
          [['public', 't', 'write']],
        );
        // The session goes on normally.
        assert.deepEqual((await c.query('select count(*)::int as n from t')).rows, [{ n: 4 }]);
      } finally {
        await c.end();
      }
    });

    it('a reviewer who says no: 42501 with the reason, and nothing changes', async () => {
      broker.auto = { approved: false, approver: 'alice', reason: 'not during the release freeze' };
      const c = await p.connect({ application_name: 'test-agent' });
      try {
        const err = await expectDenied(
          c.query("UPDATE t SET note = 'changed' WHERE id = 1"),
          'UPDATE',
          'writes-need-review',
        );
        assert.match(err.message, /not during the release freeze/);
        assert.match(err.message, /alice/);
        assert.equal(broker.requests.length, 1);
        assert.deepEqual((await c.query('select 1 as still_usable')).rows, [{ still_usable: 1 }]);
      } finally {
        await c.end();
      }
      assert.deepEqual(await rows(), ORIGINAL);
    });

    it('the reviewer is told which writes reach every row, and gets one estimate for several writes', async () => {
      broker.auto = { approved: false, approver: 'alice', reason: 'just looking' };
      // What PostgreSQL's planner says each write would touch, asked directly.
      const planned = async (sql: string): Promise<number> => {
        const plan = (await direct.query(`EXPLAIN (FORMAT JSON) ${sql}`)).rows[0]['QUERY PLAN'];
        return plan[0].Plan.Plans[0]['Plan Rows'] as number;
      };
      const c = await p.connect({ application_name: 'test-agent' });
      try {
        const update = "UPDATE t SET note = 'x' WHERE id = 1";
        const del = 'DELETE FROM t';
        await expectDenied(c.query(`${update}; ${del}; TRUNCATE t`), 'the batch', 'writes-need-review');
        const [req] = broker.requests;
        assert.deepEqual(
          req.statements.map((s) => [s.command, s.details.everyRow ?? false]),
          [
            ['UPDATE', false],
            ['DELETE', true],
            ['TRUNCATE', true],
          ],
        );
        // TRUNCATE has no plan: the total is unknown rather than too small.
        assert.equal(await req.estimatedRows, null);

        broker.reset();
        broker.auto = { approved: false, approver: 'alice', reason: 'just looking' };
        await expectDenied(c.query(`${update}; ${del}`), 'the batch', 'writes-need-review');
        assert.equal(await broker.requests[0].estimatedRows, (await planned(update)) + (await planned(del)));
      } finally {
        await c.end();
      }
      assert.deepEqual(await rows(), ORIGINAL);
    });

    it('a reviewer who says no without a reason: the hint tells the agent not to retry it unchanged', async () => {
      broker.auto = { approved: false, approver: 'alice', reason: '' };
      const c = await p.connect({ application_name: 'test-agent' });
      try {
        const err = await expectDenied(
          c.query("UPDATE t SET note = 'changed'"),
          'UPDATE',
          'writes-need-review',
        );
        assert.match(err.message, /a reviewer \(alice\) denied it without giving a reason/);
        assert.doesNotMatch(err.message, /as the reviewer asked/);
        assert.match(err.hint ?? '', /Do not send it again unchanged: ask alice what they need/);
      } finally {
        await c.end();
      }
      assert.deepEqual(await rows(), ORIGINAL);
    });

    it('a reviewer who says no inside a transaction leaves it aborted, like any failed statement', async () => {
      broker.auto = { approved: false, approver: 'alice', reason: 'no' };
      const c = await p.connect();
      try {
        await c.query('BEGIN');
        await expectDenied(c.query('DELETE FROM t WHERE id = 1'), 'DELETE in BEGIN', 'writes-need-review');
        await assert.rejects(c.query('select 1'), { code: '25P02' });
        await c.query('ROLLBACK');
      } finally {
        await c.end();
      }
      assert.deepEqual(await rows(), ORIGINAL);
    });

    it('DDL is denied without asking the reviewer (deny overrides review)', async () => {
      broker.auto = { approved: true, approver: 'reviewer@test' };
      const c = await p.connect();
      try {
        await expectDenied(c.query('CREATE TABLE x(a int)'), 'CREATE TABLE', 'no-ddl-or-dcl');
        await expectDenied(c.query('GRANT SELECT ON t TO PUBLIC'), 'GRANT', 'no-ddl-or-dcl');
      } finally {
        await c.end();
      }
      assert.equal(broker.requests.length, 0);
      assert.deepEqual((await direct.query("select to_regclass('public.x') as x")).rows, [{ x: null }]);
    });

    it('reads do not go to the reviewer', async () => {
      const c = await p.connect();
      try {
        assert.deepEqual((await c.query('select count(*)::int as n from t')).rows, [{ n: 3 }]);
      } finally {
        await c.end();
      }
      assert.equal(broker.requests.length, 0);
    });

    it('while one session waits for review, another session reads without waiting', async () => {
      const writer = await p.connect({ application_name: 'writer' });
      const reader = await p.connect({ application_name: 'reader' });
      try {
        const insert = writer.query("INSERT INTO t VALUES (20, 'twenty')");
        const insertState = track(insert);
        await broker.arrived(1);
        const readStarted = Date.now();
        const { rows: got } = await reader.query('select count(*)::int as n from t');
        const readMs = Date.now() - readStarted;
        assert.deepEqual(got, [{ n: 3 }]);
        assert.equal(insertState.settled, false, 'the write should still be waiting for review');
        assert.ok(readMs < 2000, `the read took ${readMs} ms`);
        broker.answer({ approved: true, approver: 'reviewer@test' });
        assert.equal((await insert).rowCount, 1);
        assert.deepEqual((await reader.query('select count(*)::int as n from t')).rows, [{ n: 4 }]);
      } finally {
        await writer.end();
        await reader.end();
      }
    });

    it('several statements in one Query take one review for all of them', async () => {
      broker.auto = { approved: true, approver: 'reviewer@test' };
      const c = await p.connect();
      try {
        await c.query("INSERT INTO t VALUES (30, 'thirty'); INSERT INTO t VALUES (31, 'thirty-one')");
      } finally {
        await c.end();
      }
      assert.equal(broker.requests.length, 1);
      const req = broker.requests[0];
      assert.equal(req.statements.length, 2);
      assert.deepEqual(
        req.statements.map((s) => [s.command, s.kind]),
        [
          ['INSERT', 'write'],
          ['INSERT', 'write'],
        ],
      );
      assert.deepEqual(await rows(), [
        ...ORIGINAL,
        { id: 30, note: 'thirty' },
        { id: 31, note: 'thirty-one' },
      ]);
    });

    it('a Query mixing a read and a write is reviewed as a whole; denied, neither runs', async () => {
      broker.auto = { approved: false, reason: 'no' };
      const c = await p.connect();
      try {
        await expectDenied(
          c.query('SELECT count(*) FROM t; DELETE FROM t WHERE id = 3'),
          'SELECT; DELETE',
          'writes-need-review',
        );
      } finally {
        await c.end();
      }
      assert.equal(broker.requests.length, 1);
      assert.deepEqual(await rows(), ORIGINAL);
    });

    it('a parameterized write through the extended protocol is reviewed too', async () => {
      broker.auto = { approved: true, approver: 'reviewer@test' };
      const c = await p.connect();
      try {
        const r = await c.query('UPDATE t SET note = $1 WHERE id = $2', ['uno', 1]);
        assert.equal(r.rowCount, 1);
      } finally {
        await c.end();
      }
      assert.equal(broker.requests.length, 1);
      assert.equal(broker.requests[0].sql, 'UPDATE t SET note = $1 WHERE id = $2');
      assert.deepEqual((await rows())[0], { id: 1, note: 'uno' });
    });

    // PostgreSQL takes the last of repeated EXPLAIN options, so this EXPLAIN really runs the DELETE.
    it('EXPLAIN (ANALYZE off, ANALYZE on) DELETE is not a way around review', async () => {
      broker.auto = { approved: false, approver: 'alice', reason: 'no' };
      const c = await p.connect();
      try {
        const err = await rejection(
          c.query('EXPLAIN (ANALYZE off, ANALYZE on) DELETE FROM t WHERE id = 1'),
          'EXPLAIN (ANALYZE off, ANALYZE on) DELETE',
        );
        assert.equal(err.code, '42501', err.message);
      } finally {
        await c.end();
      }
      assert.deepEqual(await rows(), ORIGINAL, 'the DELETE ran without review');
    });

    // A CTE cannot be the target of DELETE: PostgreSQL deletes from the real table t.
    it('the review request names the table a write changes, even when a CTE of the same name shadows it', async () => {
      broker.auto = { approved: false, approver: 'alice', reason: 'no' };
      const c = await p.connect();
      try {
        await expectDenied(
          c.query('WITH t AS (SELECT 1) DELETE FROM t WHERE id = 2'),
          'WITH t … DELETE FROM t',
        );
      } finally {
        await c.end();
      }
      assert.equal(broker.requests.length, 1);
      const [facts] = broker.requests[0].statements;
      assert.equal(facts.kind, 'write');
      assert.deepEqual(
        facts.relations.map((r) => [r.schema ?? 'public', r.name, r.access]),
        [['public', 't', 'write']],
      );
    });
  });

  describe('with a reviewer who never answers, and review.timeout: 1s', () => {
    let p: ProxyUnderTest;
    let policy: { file: string; dispose: () => Promise<void> };
    const broker = new TestBroker();
    before(async () => {
      const text = readFileSync(POLICY, 'utf8');
      assert.match(text, /timeout: 5m/);
      policy = await tempPolicy('approve-writes-1s', text.replace('timeout: 5m', 'timeout: 1s'));
      p = await proxyFor(sharedCluster(), {
        database: DB,
        config: { policy: policy.file, allowUnsignedPolicy: true },
        approvals: broker,
      });
    });
    after(async () => {
      await p?.close();
      await policy?.dispose();
    });
    beforeEach(async () => {
      broker.reset();
      await restore();
    });

    it('the write is denied after about 1 s with a message about the timeout, and the request is withdrawn', async () => {
      const c = await p.connect();
      try {
        const started = Date.now();
        const err = await expectDenied(
          c.query("INSERT INTO t VALUES (40, 'forty')"),
          'INSERT',
          'writes-need-review',
        );
        const ms = Date.now() - started;
        assert.ok(ms >= 900 && ms < 5000, `denied after ${ms} ms`);
        assert.match(err.message, /timed out after 1s/);
        assert.equal(broker.requests.length, 1);
        assert.equal(broker.requests[0].timeoutMs, 1000);
        assert.deepEqual(
          broker.aborted,
          [broker.requests[0].id],
          'the broker was not told to withdraw the request',
        );
        assert.deepEqual((await c.query('select count(*)::int as n from t')).rows, [{ n: 3 }]);
      } finally {
        await c.end();
      }
      assert.deepEqual(await rows(), ORIGINAL);
    });
  });
});
