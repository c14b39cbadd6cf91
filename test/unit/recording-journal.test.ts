import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SessionChain, verifyChain, type ChainedEvent } from '../../src/core/recording/chain';
import { Journal } from '../../src/core/recording/journal';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'airlock-journal-'));

describe('recording: hash chain and journal', () => {
  it('verifies an intact chain and names a modified, a removed and a reordered event', () => {
    const chain = new SessionChain('s1');
    const events = [1, 2, 3, 4].map(
      (n) => JSON.parse(chain.next('statement', { sql: `select ${n}` })) as ChainedEvent,
    );
    assert.deepEqual(verifyChain(events), []);

    const modified = events.map((e) => ({ ...e, data: { ...e.data } }));
    modified[1].data.sql = 'select 42';
    assert.deepEqual(verifyChain(modified), [
      { sessionId: 's1', seq: 2, problem: 'modified: its content does not match its hash' },
    ]);

    const removed = [events[0], events[2], events[3]];
    assert.deepEqual(verifyChain(removed), [
      { sessionId: 's1', seq: 3, problem: 'event 2 before it is missing' },
    ]);

    const reordered = [events[0], events[2], events[1], events[3]];
    assert.ok(verifyChain(reordered).some((p) => p.seq === 2 && /out of order/.test(p.problem)));
  });

  it('keeps sessions apart: interleaved sessions each verify', () => {
    const a = new SessionChain('a');
    const b = new SessionChain('b');
    const events = [a.next('x', {}), b.next('x', {}), a.next('y', {}), b.next('y', {})].map(
      (line) => JSON.parse(line) as ChainedEvent,
    );
    assert.deepEqual(verifyChain(events), []);
  });

  it('reads back what it appended, in order, in both sync modes', async () => {
    for (const sync of ['batch', 'strict'] as const) {
      const dir = tmp();
      const journal = Journal.open(dir, { sync, batchWindowMs: 2 });
      const chain = new SessionChain('s"\\1');
      const written: ChainedEvent[] = [];
      for (let i = 0; i < 50; i++) {
        // A session id and text that need escaping: the concatenated line must equal the hashed form.
        const line = chain.next('statement', { sql: `select '"${i}"\u2028'`, rows: i });
        written.push(JSON.parse(line) as ChainedEvent);
        await journal.append(line);
      }
      journal.close();
      const { events, damaged } = Journal.read(dir);
      assert.deepEqual(events, written, sync);
      assert.deepEqual(damaged, []);
      assert.deepEqual(verifyChain(events), []);
    }
  });

  it('releases results only after their lines are written, one write for a whole turn of the event loop, and passes a write error on', async () => {
    const dir = tmp();
    const journal = Journal.open(dir);
    const chain = new SessionChain('s');
    let writes = 0;
    const write = journal.write.bind(journal);
    journal.write = () => {
      writes++;
      write();
    };
    void journal.append(chain.next('statement', { sql: 'select 1' }));
    void journal.append(chain.next('statement', { sql: 'select 2' }));
    const released: Array<string | undefined> = [];
    const done = new Promise<void>((resolve) => {
      journal.afterWrite((err) => released.push(err?.message));
      journal.afterWrite((err) => {
        released.push(err?.message);
        resolve();
      });
    });
    assert.deepEqual(released, [], 'nothing is released before the write');
    await done;
    assert.equal(writes, 1);
    assert.equal(Journal.read(dir).events.length, 2);
    // Nothing queued: released at once.
    let now = false;
    journal.afterWrite(() => (now = true));
    assert.equal(now, true);
    // Fault injection: the disk refuses the write; every waiting release hears of it.
    journal.write = () => {
      throw new Error('ENOSPC: no space left on device');
    };
    void journal.append(chain.next('statement', { sql: 'select 3' }));
    const failed = await new Promise<Error | undefined>((resolve) => journal.afterWrite(resolve));
    assert.match(String(failed?.message), /ENOSPC/);
    journal.write = write;
    journal.close();
  });

  it('a full disk (/dev/full) fails every waiter, from the batch timer too, and never crashes the process', async () => {
    for (const sync of ['batch', 'strict'] as const) {
      const dir = tmp();
      symlinkSync('/dev/full', path.join(dir, 'journal.jsonl'));
      const journal = Journal.open(dir, { sync, batchWindowMs: 1 });
      const chain = new SessionChain('s');
      const uncaught: Error[] = [];
      const onUncaught = (err: Error) => uncaught.push(err);
      process.on('uncaughtException', onUncaught);
      try {
        const synced = journal.append(chain.next('session-start', { connection: 'c' }));
        const syncFailure = synced?.then(
          () => null,
          (err: Error) => err,
        );
        // Let the batch timer fire before anyone asks for the write (an event loop that lags).
        await new Promise((resolve) => setTimeout(resolve, 30));
        const failed = await new Promise<Error | undefined>((resolve) => journal.afterWrite(resolve));
        assert.match(String(failed?.message), /ENOSPC/, sync);
        if (sync === 'strict') assert.match(String((await syncFailure)?.message), /ENOSPC/);
        // Nothing more is recorded, and each later waiter hears why.
        journal.append(chain.next('statement', { sql: 'select 1' }))?.catch(() => undefined);
        const again = await new Promise<Error | undefined>((resolve) => journal.afterWrite(resolve));
        assert.match(String(again?.message), /ENOSPC/, sync);
        assert.throws(() => journal.write(), /ENOSPC/);
        assert.deepEqual(uncaught, [], sync);
      } finally {
        process.off('uncaughtException', onUncaught);
        journal.close();
      }
    }
  });

  it('reports a torn last line (a crash mid-write) without losing the events before it', () => {
    const dir = tmp();
    const journal = Journal.open(dir);
    const chain = new SessionChain('s');
    void journal.append(chain.next('statement', { sql: 'select 1' }));
    journal.close();
    appendFileSync(path.join(dir, 'journal.jsonl'), '{"sessionId":"s","seq":2,"ti');
    const { events, damaged } = Journal.read(dir);
    assert.equal(events.length, 1);
    assert.deepEqual(damaged, [
      { line: 2, offset: 189, problem: 'torn last line (the writer stopped mid-write)' },
    ]);
    // Reopening sets the torn bytes aside, so the next event starts on a line of its own.
    const reopened = Journal.open(dir);
    assert.equal(reopened.tornBytes, '{"sessionId":"s","seq":2,"ti'.length);
    void reopened.append(chain.next('statement', { sql: 'select 2' }));
    reopened.close();
    const after = Journal.read(dir);
    assert.deepEqual(after.damaged, []);
    assert.deepEqual(verifyChain(after.events), []);
    assert.deepEqual(
      after.events.map((e) => e.data.sql),
      ['select 1', 'select 2'],
    );
    assert.equal(readFileSync(path.join(dir, 'journal.torn'), 'utf8'), '{"sessionId":"s","seq":2,"ti\n');
  });

  it('survives kill -9: every event acknowledged before the kill is in the journal and verifies', async function () {
    this.timeout(20_000);
    const dir = tmp();
    // A writer in its own process appends events and prints the seq of each one append acknowledged.
    const script = path.join(dir, 'writer.js');
    writeFileSync(
      script,
      `const { Journal } = require(${JSON.stringify(path.resolve(__dirname, '../../src/core/recording/journal.js'))});
const { SessionChain } = require(${JSON.stringify(path.resolve(__dirname, '../../src/core/recording/chain.js'))});
const journal = Journal.open(process.argv[2], { sync: 'batch', batchWindowMs: 5 });
const chain = new SessionChain('crash');
(async () => {
  for (let i = 0; ; i++) {
    const line = chain.next('statement', { sql: 'select ' + i, pad: 'x'.repeat(i % 200) });
    await journal.append(line);
    journal.write();
    process.stdout.write(JSON.parse(line).seq + '\\n');
    // Yield now and then: a loop that never reaches the event loop never flushes a full stdout pipe.
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
})();`,
    );
    const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = 0;
    child.stdout.on('data', (b: Buffer) => {
      const seqs = b.toString().trim().split('\n').map(Number);
      acked = Math.max(acked, ...seqs);
    });
    while (acked < 2000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const { events } = Journal.read(dir);
    const seqs = new Set(events.map((e) => e.seq));
    for (let s = 1; s <= acked; s++)
      assert.ok(seqs.has(s), `acknowledged event ${s} is missing after kill -9`);
    assert.deepEqual(verifyChain(events), []);
    assert.ok(readFileSync(path.join(dir, 'journal.jsonl'), 'utf8').length > 0);
  });
});
