import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isRunning } from '../../src/demo/postgres-cluster';
import { runDir, runProcesses } from '../helpers/test-run';

/**
 * The test run's own hygiene (test/helpers/test-run.ts): it knows its processes also when they left the
 * process tree, not other runs'; an interrupted run stops its cluster and removes its folder; a run whose
 * tests leave a process behind fails and names it.
 */
const mochaBin = require.resolve('mocha/bin/mocha.js');
const helpers = path.resolve(__dirname, '..', 'helpers');

/** Starts `sleep 60` through a shell that exits at once, so the sleep is re-parented out of our tree. */
function orphanSleep(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const sh = spawn('sh', ['-c', 'sleep 60 >/dev/null 2>&1 & echo $!'], {
      env,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    sh.stdout.on('data', (b: Buffer) => (out += b.toString()));
    sh.once('error', reject);
    sh.once('exit', () => resolve(Number(out.trim())));
  });
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Runs mocha on one test file in a child process; `onLine` sees each stdout line while it runs. */
function childMocha(
  requireFile: string,
  testFile: string,
  onLine: (line: string, child: ReturnType<typeof spawn>) => void = () => undefined,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mochaBin, '--no-config', '--require', requireFile, testFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) onLine(line, child);
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('the test run leaves nothing behind', function () {
  this.timeout(60_000);
  let dir: string;
  const pids: number[] = [];
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-hygiene-'));
  });
  after(() => {
    pids.forEach(kill);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("counts a process it started that left the process tree as its own, and not another run's", async () => {
    const ours = await orphanSleep(process.env);
    const theirs = await orphanSleep({
      ...process.env,
      AIRLOCK_TEST_RUN: '/tmp/airlock-test-run-someone-else',
    });
    pids.push(ours, theirs);
    const own = runProcesses();
    assert.match(
      own.find((p) => p.pid === ours)?.why ?? '(not found)',
      /AIRLOCK_TEST_RUN in its environment/,
    );
    assert.equal(
      own.find((p) => p.pid === theirs),
      undefined,
    );
    kill(ours);
    kill(theirs);
  });

  it('interrupted by SIGTERM, a run stops its PostgreSQL cluster and removes its folder', async () => {
    const file = path.join(dir, 'interrupted.test.js');
    writeFileSync(
      file,
      `const { sharedCluster } = require(${JSON.stringify(path.join(helpers, 'global-fixtures.js'))});
const { runDir } = require(${JSON.stringify(path.join(helpers, 'test-run.js'))});
it('waits to be interrupted', function () {
  this.timeout(0);
  const c = sharedCluster();
  const pid = Number(require('node:fs').readFileSync(c.dir + '/data/postmaster.pid', 'utf8').split('\\n')[0]);
  console.log('RUN ' + JSON.stringify({ runDir, clusterDir: c.dir, pid }));
  return new Promise(() => {});
});
`,
    );
    let seen: { runDir: string; clusterDir: string; pid: number } | undefined;
    const result = await childMocha(path.join(helpers, 'global-fixtures.js'), file, (line, child) => {
      if (!line.startsWith('RUN ')) return;
      seen = JSON.parse(line.slice(4)) as typeof seen;
      assert.ok(isRunning(seen!.pid), 'the cluster runs while the tests do');
      child.kill('SIGTERM');
    });
    assert.ok(seen, `the child run never started its test:\n${result.stderr}`);
    assert.equal(result.signal, 'SIGTERM', result.stderr);
    assert.ok(seen.clusterDir.startsWith(seen.runDir + path.sep), 'the cluster lives in the run folder');
    assert.equal(isRunning(seen.pid), false, 'the postmaster outlived the interrupted run');
    assert.equal(existsSync(seen.runDir), false, 'the run folder outlived the interrupted run');
  });

  it('fails a run whose test leaves a process behind, names it and stops it', async () => {
    const file = path.join(dir, 'leaky.test.js');
    writeFileSync(
      file,
      `it('starts a daemon and forgets it', () => {
  const c = require('node:child_process').spawn('sh', ['-c', 'sleep 61 & echo $!'], { stdio: ['ignore', 'pipe', 'ignore'] });
  c.stdout.on('data', (b) => console.log('DAEMON ' + String(b).trim()));
  return new Promise((r) => c.once('exit', r));
});
`,
    );
    const result = await childMocha(path.join(helpers, 'test-run.js'), file);
    const daemon = Number(/DAEMON (\d+)/.exec(result.stdout)?.[1]);
    pids.push(daemon);
    assert.notEqual(result.code, 0, result.stdout);
    assert.match(result.stdout, /1 passing/);
    assert.match(result.stderr, new RegExp(`process ${daemon} \\(.*\\): sleep 61`));
    assert.equal(isRunning(daemon), false, 'the check stops what it reports');
  });

  it('runs in a folder of its own, made TMPDIR', () => {
    assert.equal(os.tmpdir(), runDir);
    assert.ok(path.basename(runDir).startsWith('airlock-test-run-'));
  });
});
