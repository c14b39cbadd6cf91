import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Recorder } from '../../src/core/recording/recorder';
import { CLI } from '../helpers/airlock-cli';

/**
 * The CLI's output reaches a reader that drains its pipe slowly, whole. Node writes to pipes
 * asynchronously: a process that exits with a write still queued cuts an export short — evidence lost
 * (this is what made the kill -9 recording test miss its last statements under load).
 */
describe('airlock CLI output through a slow pipe', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-cli-output-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the export, reading its stdout one chunk at a time with a pause after each. */
  function slowExport(config: string): Promise<{ code: number | null; text: string }> {
    const child = spawn(
      process.execPath,
      [CLI, 'sessions', 'export', '--all', '--format', 'jsonl', '--config', config],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => {
      chunks.push(c);
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 30);
    });
    return new Promise((resolve) =>
      child.once('close', (code) => resolve({ code, text: Buffer.concat(chunks).toString('utf8') })),
    );
  }

  it('exports every event of a session far larger than a pipe buffer', async () => {
    const recordings = path.join(dir, 'rec');
    const rec = Recorder.open(recordings);
    const s = rec.session('big', {
      connection: 'shop',
      actor: { user: 'ada', groups: [] },
      client: '127.0.0.1:50000',
      upstream: { host: 'db', port: 5432, database: 'shop', user: 'app' },
    });
    const count = 3000;
    for (let i = 0; i < count; i++) {
      s.statement({
        protocol: 'simple',
        sql: `select ${i} as marker_${i}`,
        decision: 'allow',
        rule: 'reads',
      });
    }
    s.end('done');
    s.write();
    rec.close();
    const config = path.join(dir, 'airlock.yaml');
    writeFileSync(
      config,
      `policy: read-only\nrecordings: ${recordings}\nconnections: [{name: x, kind: postgres, upstream: "postgres://u@127.0.0.1/db"}]\n`,
    );
    // The cut needs the pipe full at the last write: a few runs make that all but certain.
    for (let run = 0; run < 5; run++) {
      const { code, text } = await slowExport(config);
      assert.equal(code, 0);
      const lines = text.trim().split('\n');
      const statements = lines.filter((l) => l.includes('"type":"statement"')).length;
      assert.equal(statements, count, `run ${run}: ${statements} of ${count} statements reached the reader`);
      assert.match(lines[lines.length - 1], /"type":"checkpoint"/);
    }
  });
});
