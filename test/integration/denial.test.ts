import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serialize } from 'pg-protocol';
import type { DatabaseError } from 'pg';
import type { Gate } from '../../src/core/gate/gate';
import type { Decision } from '../../src/core/gate/decision';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import { RawClient, type Reply } from '../helpers/raw-client';
import { MaskIndex } from '../../src/core/masking/mask-index';
import { buildResultMasking } from '../../src/core/masking/result-masking';
import { loadSqlParser } from '../../src/core/sql/parser';
import { denialMarkers } from '../../src/proxy/postgres/denial';

/**
 * How a denial looks on the wire, whatever policy produced it: a gate that denies statements naming
 * "forbidden" (and decides asynchronously for statements naming "slow") stands in for the policy engine.
 */
const gate: Gate = {
  decide: (_ctx, op) => {
    const sql = 'text' in op ? op.text : '';
    const decision: Decision = sql.includes('forbidden')
      ? { effect: 'deny', rule: 'test-rule', reason: 'the test forbids it', hint: 'Ask for review.' }
      : { effect: 'allow', rule: 'test-allow', obligations: {} };
    return sql.includes('slow') ? new Promise((r) => setTimeout(() => r(decision), 30)) : decision;
  },
};

const summary = (replies: Reply[]) =>
  replies.map((r) =>
    r.type === 'E' ? `E:${r.fields?.C}` : r.text !== undefined ? `${r.type}:${r.text}` : r.type,
  );

describe('postgres proxy: denials keep protocol and transaction state truthful', () => {
  let p: ProxyUnderTest;
  before(async () => {
    await sharedCluster().client('psql', [
      '-d',
      'postgres',
      '-c',
      'create table if not exists denial_t (v int)',
    ]);
    p = await proxyFor(sharedCluster(), { gate });
  });
  after(() => p.close());

  it('answers a denied query with 42501, the rule and a hint, and the session stays usable', async () => {
    const c = await p.connect();
    try {
      const err: DatabaseError = await c.query('select 1 as forbidden').then(
        () => assert.fail('should be denied'),
        (e: DatabaseError) => e,
      );
      assert.equal(err.code, '42501');
      assert.match(err.message, /^airlock: denied: the test forbids it/);
      assert.equal(err.detail, 'Rule: test-rule');
      assert.equal(err.hint, 'Ask for review.');
      assert.deepEqual((await c.query('select 2 as ok')).rows, [{ ok: 2 }]);
    } finally {
      await c.end();
    }
  });

  it('leaves a transaction block failed, exactly as a server error would', async () => {
    const c = await p.connect();
    try {
      await c.query('begin');
      await c.query('insert into denial_t values (1)');
      await assert.rejects(c.query('select 1 as forbidden'), { code: '42501' });
      await assert.rejects(c.query('select 1'), { code: '25P02' });
      await c.query('rollback');
      const { rows } = await c.query('select count(*)::int as n from denial_t');
      assert.equal(rows[0].n, 0);
    } finally {
      await c.end();
    }
  });

  it('denies in the middle of an extended-protocol batch, in order, and skips to Sync', async () => {
    const c = await RawClient.connect(p.endpoint);
    try {
      c.send(
        serialize.parse({ text: 'select 1' }),
        serialize.bind(),
        serialize.execute(),
        serialize.parse({ text: "select 'forbidden'" }),
        serialize.bind(),
        serialize.execute(),
        serialize.parse({ text: 'select 3' }),
        serialize.bind(),
        serialize.execute(),
        serialize.sync(),
      );
      assert.deepEqual(summary(await c.untilReady()), ['1', '2', 'D:1', 'C:SELECT 1', 'E:42501', 'Z:I']);
    } finally {
      c.close();
    }
  });

  it('does not mistake an earlier real error for the denial, and counts cycles across pipelined Syncs', async () => {
    const c = await RawClient.connect(p.endpoint);
    try {
      c.send(
        serialize.parse({ text: 'select 1/0' }),
        serialize.bind(),
        serialize.execute(),
        serialize.parse({ text: "select 'forbidden'" }),
        serialize.sync(),
        serialize.parse({ text: "select 'forbidden again'" }),
        serialize.sync(),
      );
      const first = await c.untilReady();
      // Constant folding raises division_by_zero while planning, at Bind.
      assert.deepEqual(summary(first), ['1', 'E:22012', 'Z:I']);
      assert.deepEqual(summary(await c.untilReady()), ['E:42501', 'Z:I']);
    } finally {
      c.close();
    }
  });

  it('keeps pipelined simple queries in order around a denial, also when the decision is asynchronous', async () => {
    const c = await RawClient.connect(p.endpoint);
    try {
      c.send(
        serialize.query('select 1'),
        serialize.query("select 'slow forbidden'"),
        serialize.query("select 'slow but fine'"),
        serialize.query('select 4'),
      );
      const all = [
        ...(await c.untilReady()),
        ...(await c.untilReady()),
        ...(await c.untilReady()),
        ...(await c.untilReady()),
      ];
      assert.deepEqual(
        summary(all).filter((s) => s !== 'T'),
        [
          'D:1',
          'C:SELECT 1',
          'Z:I',
          'E:42501',
          'Z:I',
          'D:slow but fine',
          'C:SELECT 1',
          'Z:I',
          'D:4',
          'C:SELECT 1',
          'Z:I',
        ],
      );
    } finally {
      c.close();
    }
  });

  it('does not create a named statement whose Parse was denied', async () => {
    const c = await RawClient.connect(p.endpoint);
    try {
      c.send(serialize.parse({ name: 's1', text: "select 'forbidden'" }), serialize.sync());
      assert.deepEqual(summary(await c.untilReady()), ['E:42501', 'Z:I']);
      c.send(serialize.bind({ statement: 's1' }), serialize.execute(), serialize.sync());
      assert.deepEqual(summary(await c.untilReady()), ['E:26000', 'Z:I']);
    } finally {
      c.close();
    }
  });
});

describe('postgres proxy: a denial under content masking is always the denial', () => {
  // Markers the content detectors take for card numbers (Luhn-valid): were the upstream's error masked
  // before the denial replaced it, the client would get 42703 `column "…[REDACTED:card]" does not exist`.
  const CARD_MARKERS = [
    '4111111111111111',
    'airlock-denied-4111111111111111',
    'airlock-denied-5500-0000-0000-0004',
  ];
  const masking = buildResultMasking(
    { content: { detectors: 'all' } },
    new MaskIndex({}, undefined),
    'test',
    randomBytes(32),
  );
  // Running a cursor portal (decided as FETCH at its Execute) is denied too.
  const maskingGate: Gate = {
    decide: (ctx, op) =>
      'text' in op && op.text.startsWith('FETCH')
        ? { effect: 'deny', rule: 'test-rule', reason: 'the test forbids it', hint: 'Ask for review.' }
        : gate.decide(ctx, op),
  };
  // The composed gate decides; the config's policy masks content (as `masking` above).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-denial-masking-'));
  const policyFile = path.join(dir, 'content.yaml');
  writeFileSync(
    policyFile,
    'version: 1\nrules:\n  - { name: all, effect: allow }\nmasking:\n  content: { detectors: all }\n',
  );
  const realMarkers = denialMarkers.next;
  let queued: string[] = [];
  let p: ProxyUnderTest;
  before(async () => {
    await loadSqlParser();
    p = await proxyFor(sharedCluster(), {
      gate: maskingGate,
      config: { policy: policyFile, allowUnsignedPolicy: true },
    });
  });
  beforeEach(() => {
    // Fault injection: the markers come from the test, in order.
    queued = [];
    denialMarkers.next = () => queued.shift() ?? realMarkers();
  });
  afterEach(() => {
    denialMarkers.next = realMarkers;
  });
  after(async () => {
    await p.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the markers are ones the masking would rewrite (the control)', () => {
    for (const marker of CARD_MARKERS) {
      const upstreamText = `column "${marker}" does not exist`;
      assert.ok(masking.scanner?.mightContain(upstreamText), marker);
      assert.notEqual(masking.scanner?.scan(upstreamText).text, upstreamText, marker);
    }
  });

  it('simple protocol: 42501 with the rule and hint, for every card-like marker; masking still applies after', async () => {
    const c = await p.connect();
    try {
      for (const marker of CARD_MARKERS) {
        queued.push(marker);
        const err: DatabaseError = await c.query('select 1 as forbidden').then(
          () => assert.fail('should be denied'),
          (e: DatabaseError) => e,
        );
        assert.equal(err.code, '42501', marker);
        assert.equal(err.message, 'airlock: denied: the test forbids it');
        assert.equal(err.detail, 'Rule: test-rule');
        assert.equal(err.hint, 'Ask for review.');
        assert.equal(queued.length, 0, 'the injected marker was used');
      }
      const { rows } = await c.query("select 'card 4111 1111 1111 1111' as v");
      assert.deepEqual(rows, [{ v: 'card [REDACTED:card]' }]);
    } finally {
      await c.end();
    }
  });

  it('extended protocol: a denied Parse and a denied Execute both reach the client as 42501', async () => {
    const c = await RawClient.connect(p.endpoint);
    try {
      c.send(serialize.query('begin; declare cur cursor for select 1'));
      assert.deepEqual(summary(await c.untilReady()), ['C:BEGIN', 'C:DECLARE CURSOR', 'Z:T']);
      queued.push(CARD_MARKERS[2]);
      c.send(serialize.execute({ portal: 'cur' }), serialize.sync());
      assert.deepEqual(summary(await c.untilReady()), ['E:42501', 'Z:E']);
      c.send(serialize.query('rollback'));
      await c.untilReady();
      queued.push(CARD_MARKERS[0], CARD_MARKERS[1]);
      c.send(
        serialize.parse({ text: 'select 1' }),
        serialize.bind(),
        serialize.execute(),
        serialize.parse({ text: "select 'forbidden'" }),
        serialize.bind(),
        serialize.execute(),
        serialize.sync(),
        serialize.parse({ text: "select 'forbidden' as again" }),
        serialize.sync(),
      );
      // No T: the masker's own Describe of the portal is answered to Airlock, not the client.
      assert.deepEqual(summary(await c.untilReady()), ['1', '2', 'D:1', 'C:SELECT 1', 'E:42501', 'Z:I']);
      const [denied] = await c.untilReady();
      assert.equal(denied.fields?.C, '42501');
      assert.equal(denied.fields?.M, 'airlock: denied: the test forbids it');
      assert.equal(queued.length, 0, 'both injected markers were used');
    } finally {
      c.close();
    }
  });

  it('node-postgres with parameters (extended protocol): 42501', async () => {
    const c = await p.connect();
    try {
      queued.push(CARD_MARKERS[1]);
      await assert.rejects(c.query('select $1::text as forbidden', ['x']), { code: '42501' });
      assert.deepEqual((await c.query('select $1::int as ok', [2])).rows, [{ ok: 2 }]);
    } finally {
      await c.end();
    }
  });
});
