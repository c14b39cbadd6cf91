import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type pg from 'pg';
import type { ApprovalBroker, ApprovalOutcome, ApprovalRequest } from '../../src/core/approvals/broker';
import { readEvents } from '../../src/core/recording/event-reader';
import type { StatementRecord } from '../../src/core/recording/events';
import { writeExport } from '../../src/core/recording/export';
import { RecordingStore } from '../../src/core/recording/store';
import {
  parseReplayViewMessage,
  parseStatementRecord,
  replayEvent,
  replaySession,
} from '../../src/shared/webviews/replay-protocol';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor } from '../helpers/proxy';
import { dropDatabase, freshDatabase, repoRoot } from '../helpers/policy-fixtures';

/**
 * A review that really happens (examples/policies/approve-writes.yaml, a reviewer that approves one write
 * and denies another) is written into the recording with the statement it decided, and the store, both
 * exports and the replay view's data all show it from there.
 */
const DB = 'recording_approvals';

class Reviewer implements ApprovalBroker {
  async request(request: ApprovalRequest): Promise<ApprovalOutcome> {
    await new Promise((r) => setTimeout(r, 50));
    return request.sql.includes('forbidden')
      ? { approved: false, approver: 'grace@example.com', reason: 'not on a Friday' }
      : { approved: true, approver: 'grace@example.com' };
  }
}

async function exported(events: Parameters<typeof writeExport>[1], format: 'jsonl' | 'ocsf') {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeExport(out, events, format);
  out.end();
  return Buffer.concat(chunks)
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('recording: reviews are written with the statement they decided', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-approvals-'));
    await freshDatabase(sharedCluster(), DB, 'create table notes (id int primary key, body text);');
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await dropDatabase(sharedCluster(), DB);
  });

  it('an approved and a denied review reach the journal, the store, the exports and the replay data', async () => {
    const recordings = path.join(dir, 'recordings');
    const p = await proxyFor(sharedCluster(), {
      database: DB,
      approvals: new Reviewer(),
      config: {
        policy: path.join(repoRoot, 'examples', 'policies', 'approve-writes.yaml'),
        allowUnsignedPolicy: true,
        recordings,
      },
    });
    try {
      const c: pg.Client = await p.connect({ application_name: 'approvals-agent' });
      await c.query("insert into notes values (1, 'approved')");
      await assert.rejects(c.query("insert into notes values (2, 'forbidden')"), /not on a Friday/);
      await c.end();
    } finally {
      await p.close();
    }

    // Every event the proxy wrote is of the schema.
    const { events, damaged } = readEvents(recordings);
    assert.deepEqual(damaged, []);
    const reviewed = events.flatMap((e) => (e.type === 'statement' && e.data.review ? [e] : []));
    assert.deepEqual(
      reviewed.map((e) => [e.data.decision, e.data.review?.outcome, e.data.review?.approver]),
      [
        ['allow', 'approved', 'grace@example.com'],
        ['deny', 'denied', 'grace@example.com'],
      ],
    );
    assert.ok(reviewed.every((e) => (e.data.review?.waitMs ?? 0) >= 50));
    assert.equal(reviewed[1].data.review?.reason, 'not on a Friday');

    const store = await RecordingStore.open(recordings);
    try {
      const [session] = store.sessions({ actor: 'approvals-agent' });
      assert.equal(session.approvals, 1);
      assert.equal(session.denials, 1);
      const sessionEvents = store.events(session.id);

      const jsonl = await exported(sessionEvents, 'jsonl');
      const jsonlReviews = jsonl.flatMap((e) => {
        const review = (e.data as Partial<StatementRecord>).review;
        return review ? [review.outcome] : [];
      });
      assert.deepEqual(jsonlReviews, ['approved', 'denied']);
      const ocsf = await exported(sessionEvents, 'ocsf');
      const authorizations = ocsf.filter((e) => e.class_uid === 3003);
      assert.deepEqual(
        authorizations.map((e) => [e.activity_name, e.message]),
        [
          ['Statement approved', 'approved by grace@example.com'],
          ['Statement denied', reviewed[1].data.reason],
        ],
      );

      // What the replay panel sends its view: accepted by the view's own check, the reviews included.
      const message = {
        type: 'session',
        session: replaySession(session),
        events: sessionEvents.map(replayEvent),
      };
      const parsed = parseReplayViewMessage(message);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
      const shown = parsed.value.events.flatMap((e) => {
        const s = e.type === 'statement' ? parseStatementRecord(e.data) : undefined;
        return s?.ok && s.value.review ? [[s.value.review.outcome, s.value.review.approver]] : [];
      });
      assert.deepEqual(shown, [
        ['approved', 'grace@example.com'],
        ['denied', 'grace@example.com'],
      ]);
    } finally {
      store.close();
    }
  });
});
