import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { ApprovalBroker, ApprovalOutcome, ApprovalRequest } from '../../src/core/approvals/broker';
import { Journal } from '../../src/core/recording/journal';
import type { ChainedEvent } from '../../src/core/recording/chain';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor } from '../helpers/proxy';
import { directPg, dropDatabase, freshDatabase, repoRoot, tempPolicy } from '../helpers/policy-fixtures';
import { at } from '../helpers/json-path';
import { runAirlock as cli } from '../helpers/airlock-cli';
import { collectSecrets, findLeaks, loadDemoDatabase, type Secrets } from '../helpers/masking-fixtures';

/**
 * What a recording holds as evidence: masked values only (never the originals, not even as literals
 * of a denied statement), the reviewer and the wait of every reviewed statement, bind parameters as the
 * policy allows — and the sessions CLI that lists, shows and exports it (JSONL, OCSF).
 */
const statementsOf = (events: ChainedEvent[]) =>
  events.filter((e) => e.type === 'statement').map((e) => e.data as Record<string, unknown>);

function configFile(dir: string, recordings: string): string {
  const file = path.join(dir, `${path.basename(recordings)}.yaml`);
  writeFileSync(
    file,
    `policy: read-only\nrecordings: ${recordings}\nconnections: [{name: x, kind: postgres, upstream: "postgres://u@127.0.0.1/db"}]\n`,
  );
  return file;
}

describe('recording as evidence', function () {
  this.timeout(90_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-evidence-'));
  });
  after(() => process.env.KEEP || rmSync(dir, { recursive: true, force: true }));

  describe('under pii-masking', () => {
    const DB = 'recording_masking';
    let secrets: Secrets;
    before(async () => {
      await loadDemoDatabase(sharedCluster(), DB);
      const direct = await directPg(sharedCluster(), DB);
      try {
        secrets = await collectSecrets(direct);
      } finally {
        await direct.end();
      }
    });
    after(() => dropDatabase(sharedCluster(), DB));

    it('holds masked result samples and no original value of a masked column, however it was asked for', async () => {
      const recordings = path.join(dir, 'masked');
      const direct = await directPg(sharedCluster(), DB);
      const { rows } = await direct.query<{ email: string; card_number: string }>(
        'select email, card_number from customers where email is not null and card_number is not null limit 1',
      );
      await direct.end();
      const [{ email, card_number: card }] = rows;
      const p = await proxyFor(sharedCluster(), {
        database: DB,
        config: {
          policy: path.join(repoRoot, 'examples/policies/pii-masking.yaml'),
          allowUnsignedPolicy: true,
          recordings,
        },
      });
      try {
        const c = await p.connect({ application_name: 'evidence-agent' });
        await c.query('select * from customers');
        await c.query('select * from support_tickets');
        for (const sql of [
          'select upper(email) from customers',
          `select id from customers where email = '${email}'`,
          `select id from customers where card_number like '${card}%'`,
          `update customers set email = '${email}' where id = 1`,
          "update customers set city = 'Atlantis' where id = 1",
        ]) {
          await assert.rejects(c.query(sql), (err: Error & { code?: string }) => err.code === '42501');
        }
        await assert.rejects(c.query('select id from customers where email = $1', [email]));
        await c.end();
      } finally {
        await p.close();
      }
      const raw = readFileSync(path.join(recordings, 'journal.jsonl'), 'utf8');
      // A control: samples are there, masked.
      assert.match(raw, /\*\*\*@/);
      assert.deepEqual(findLeaks(raw, secrets), []);
      const st = statementsOf(Journal.read(recordings).events);
      const filtered = st.find((s) => String(s.sql).includes('where email = $1') && s.literalsRedacted);
      assert.ok(filtered, 'the literal of a statement filtering on a masked column is replaced by $1');
      assert.equal(filtered.decision, 'deny');
      // Only statements on masked data lose their literals: a write of an unmasked column keeps them.
      assert.ok(
        st.some(
          (s) => s.sql === "update customers set city = 'Atlantis' where id = 1" && !s.literalsRedacted,
        ),
      );
      assert.ok(
        st.some((s) => s.sql === 'update customers set email = $1 where id = $2' && s.literalsRedacted),
      );

      const config = configFile(dir, recordings);
      for (const format of ['jsonl', 'ocsf']) {
        const out = await cli(['sessions', 'export', '--all', '--format', format, '--config', config]);
        assert.equal(out.code, 0, out.stderr);
        assert.ok(out.stdout.length > 1000);
        assert.deepEqual(findLeaks(out.stdout, secrets), [], `${format} export`);
      }
    });
  });

  describe('reviews, parameters and the sessions CLI', () => {
    const DB = 'recording_review';
    class SessionApprover implements ApprovalBroker {
      readonly requests: ApprovalRequest[] = [];
      async request(request: ApprovalRequest): Promise<ApprovalOutcome> {
        this.requests.push(request);
        await new Promise((r) => setTimeout(r, 150));
        if (request.sql.includes('forbidden'))
          return { approved: false, approver: 'ada@example.com', reason: 'not today' };
        return { approved: true, approver: 'ada@example.com', scope: 'session' };
      }
    }
    let policy: { file: string; dispose: () => Promise<void> };
    before(async () => {
      await freshDatabase(sharedCluster(), DB, 'create table notes (id int primary key, body text);');
      const base = readFileSync(path.join(repoRoot, 'examples/policies/approve-writes.yaml'), 'utf8');
      policy = await tempPolicy('approve-writes-params', `${base}\nrecording:\n  parameters: all\n`);
    });
    after(async () => {
      await policy.dispose();
      await dropDatabase(sharedCluster(), DB);
    });

    it('records the reviewer, the scope and the wait; parameters as the policy allows; list/show/export find it', async () => {
      const recordings = path.join(dir, 'review');
      const approver = new SessionApprover();
      const p = await proxyFor(sharedCluster(), {
        database: DB,
        approvals: approver,
        config: { policy: policy.file, allowUnsignedPolicy: true, recordings },
      });
      try {
        const c: pg.Client = await p.connect({ application_name: 'review-agent' });
        await c.query("insert into notes values (1, 'one')");
        // Identical text: approved for the session, asked only once.
        await c.query("delete from notes where body = 'nothing'");
        await c.query("delete from notes where body = 'nothing'");
        await assert.rejects(c.query("insert into notes values (2, 'forbidden')"), /not today/);
        const r = await c.query('select $1::int + 1 as n', [41]);
        assert.equal(r.rows[0].n, 42);
        await c.end();
      } finally {
        await p.close();
      }
      assert.equal(approver.requests.length, 3);
      // The reviewer sees how many rows the write would touch, planned (not run) with a plain EXPLAIN.
      assert.equal(await approver.requests[0].estimatedRows, 1);
      assert.equal(
        approver.requests[0].ruleDescription,
        'Every change to the data is approved by the person at the keyboard.',
      );
      const st = statementsOf(Journal.read(recordings).events);
      const deletes = st.filter((s) => String(s.sql).startsWith('delete'));
      const reviews = deletes.map(
        (s) => s.review as { outcome: string; approver: string; scope: string; waitMs: number },
      );
      assert.equal(reviews[0].approver, 'ada@example.com');
      assert.equal(reviews[0].scope, 'session');
      assert.ok(reviews[0].waitMs >= 100, `waited ${reviews[0].waitMs} ms`);
      assert.equal(reviews[1].waitMs, 0);
      const denied = st.find((s) => String(s.sql).includes('forbidden'));
      assert.deepEqual(
        { decision: denied?.decision, outcome: (denied?.review as { outcome: string }).outcome },
        { decision: 'deny', outcome: 'denied' },
      );
      assert.deepEqual(st.find((s) => String(s.sql).includes('$1::int'))?.parameters, ['41']);

      const config = configFile(dir, recordings);
      const list = await cli(['sessions', 'list', '--config', config, '--actor', 'review-agent']);
      assert.equal(list.code, 0, list.stderr);
      const line = list.stdout.split('\n')[1];
      // application_name from an ordinary client: recorded and shown as a claim.
      assert.match(line, /test\s+\S+\s+review-agent\s+claimed\s+5\s+1\s+ended/);
      assert.match(
        (await cli(['sessions', 'list', '--config', config, '--actor', 'nobody'])).stdout,
        /no recorded sessions match/,
      );
      const id = line.split(/\s+/)[0];
      const show = await cli(['sessions', 'show', id, '--config', config]);
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, /review: approved by ada@example.com after \d+ ms/);
      assert.match(show.stdout, /DENY \(writes-need-review\)/);
      assert.match(show.stdout, /checkpoint: signed/);

      const ocsf = await cli(['sessions', 'export', id, '--format', 'ocsf', '--config', config]);
      const events = ocsf.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const classes = events.map((e) => e.class_uid);
      assert.equal(classes[0], 3002);
      assert.equal(classes[classes.length - 1], 3002);
      const inserts = events.filter((e) => e.class_uid === 6005 && e.activity_id === 6);
      assert.equal(inserts.length, 2);
      assert.equal(at(inserts[0], 'actor.app_name'), 'review-agent');
      assert.equal(at(inserts[0], 'unmapped.airlock.agent.name_claimed'), true);
      assert.equal(at(inserts[0], 'unmapped.airlock.agent.verified_channel'), undefined);
      assert.ok(events.some((e) => e.class_uid === 3003 && e.activity_name === 'Statement approved'));
      const jsonl = await cli(['sessions', 'export', id, '--format', 'jsonl', '--config', config]);
      // Statement text verbatim in the JSONL.
      assert.match(jsonl.stdout, /"sql":"insert into notes values \(1, 'one'\)"/);
      const bad = await cli(['sessions', 'export', id, '--format', 'csv', '--config', config]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--format must be one of jsonl, ocsf/);
      const missing = await cli(['sessions', 'show', 'ffffffff', '--config', config]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no recorded session "ffffffff"/);
    });
  });
});
