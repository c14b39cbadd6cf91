import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isRunning } from '../../src/demo/postgres-cluster';

/**
 * What one mocha run owns, so that nothing of it outlives the run — on success, failure and interruption.
 *
 * - A temp folder of its own, made TMPDIR when mocha loads this file (so os.tmpdir() in the tests and in
 *   every program they start): whatever a test leaves there is removed with the run. It is traversable by
 *   other users (0711) so that, as root, the clusters the postgres OS user runs live in it too.
 * - A marker in the environment, inherited by every process the run starts, also by daemons that leave
 *   the process tree (pg_ctl's postmaster, the VS Code demo's cluster): a process is the run's when it is
 *   a descendant of mocha, carries the marker, or has the run folder on its command line. Other people's
 *   runs on the same machine have other folders, so their processes are never counted or killed.
 * - On SIGINT, SIGTERM or SIGHUP (mocha has no handler of its own and would die with the cluster and the
 *   folder left behind) and on any exit, the run's processes are stopped and the folder removed.
 * - `finishRun()`, the last step of the global teardown, fails the run when a process of the run
 *   survived its fixtures, or when the run left something in the real temp dir, printing what, then
 *   removes it.
 */
const MARKER = 'AIRLOCK_TEST_RUN';

/** The temp dir before this run replaced it: for what must outlive the run (failure artifacts). */
export const realTmpDir = os.tmpdir();
export const runDir = mkdtempSync(path.join(realTmpDir, 'airlock-test-run-'));
chmodSync(runDir, 0o711);
process.env.TMPDIR = runDir;
process.env[MARKER] = runDir;

/** Entries of the real temp dir(s) before the run: anything new that the run can be tied to is a leak. */
const tempRoots = [...new Set([realTmpDir, '/tmp'])].filter((d) => existsSync(d));
const tempBefore = new Map(tempRoots.map((d) => [d, new Set(readdirSync(d))]));

export interface RunProcess {
  pid: number;
  ppid: number;
  command: string;
  why: string;
}

function readProc(pid: string, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return null; // gone, or another user's
  }
}

/** The run's live processes (not zombies, not mocha itself), with the reason each counts as the run's. */
export function runProcesses(): RunProcess[] {
  if (!existsSync('/proc')) return [];
  const all = new Map<number, { ppid: number; command: string; environ: string | null }>();
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    const stat = readProc(pid, 'stat');
    if (!stat) continue;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' || state === 'X') continue;
    const command = (readProc(pid, 'cmdline') ?? '').split('\0').join(' ').trim();
    all.set(Number(pid), { ppid: Number(ppid), command, environ: readProc(pid, 'environ') });
  }
  const own: RunProcess[] = [];
  const descendant = (pid: number): boolean => {
    for (let p = all.get(pid)?.ppid ?? 0, hops = 0; p > 1 && hops < 64; p = all.get(p)?.ppid ?? 0, hops++)
      if (p === process.pid) return true;
    return false;
  };
  for (const [pid, p] of all) {
    if (pid === process.pid) continue;
    const why = descendant(pid)
      ? 'child of the test run'
      : p.environ?.split('\0').includes(`${MARKER}=${runDir}`)
        ? `started by the test run (${MARKER} in its environment)`
        : p.command.includes(runDir)
          ? 'command line points into the run folder'
          : null;
    if (why) own.push({ pid, ppid: p.ppid, command: p.command || '(no command line)', why });
  }
  return own;
}

/** Entries made in the real temp dir during the run that the run can be tied to. */
function runTempLeftovers(processes: RunProcess[]): string[] {
  const found: string[] = [];
  for (const root of tempRoots) {
    for (const name of readdirSync(root)) {
      if (tempBefore.get(root)!.has(name)) continue;
      const full = path.join(root, name);
      if (full === runDir) continue;
      // Tied to the run by name (pid-named files) or by a process of the run using it.
      const byName = name.includes(`-${process.pid}-`) || name.endsWith(`-${process.pid}`);
      const byProcess = processes.some((p) => p.command.includes(full) || cwdOf(p.pid)?.startsWith(full));
      const byCluster = clusterPid(full) !== null && processes.some((p) => p.pid === clusterPid(full));
      if (byName || byProcess || byCluster) found.push(full);
    }
  }
  return found;
}

function cwdOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

/** The postmaster pid of a cluster folder made by startCluster (`<dir>/data/postmaster.pid`), or null. */
function clusterPid(dir: string): number | null {
  try {
    const pid = Number(readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

const isPostmaster = (p: RunProcess) => /(^|\/)postgres\s.*-D\s/.test(p.command);

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * Stops the run's processes and removes its folder and leftovers. Synchronous, so it also works from a
 * signal or exit handler. Postmasters get SIGQUIT first (immediate shutdown, which also releases their
 * shared memory); whatever is still there after that gets SIGKILL.
 */
export function sweepRun(leftovers: string[] = []): void {
  const postmasters = runProcesses().filter(isPostmaster);
  for (const p of postmasters) signal(p.pid, 'SIGQUIT');
  for (let i = 0; i < 100 && postmasters.some((p) => isRunning(p.pid)); i++) sleepSync(50);
  for (let round = 0; round < 3; round++) {
    const rest = runProcesses();
    if (rest.length === 0) break;
    for (const p of rest) signal(p.pid, 'SIGKILL');
    sleepSync(100);
  }
  for (const f of [runDir, ...leftovers]) rmSync(f, { recursive: true, force: true });
}

/**
 * The end-of-run check. Called after every fixture has cleaned up: waits briefly for processes that are
 * exiting, then throws (which fails the mocha run) listing each process and folder of the run that
 * survived. Sweeps them either way, so a failed check leaves nothing behind either.
 */
export function finishRun(): void {
  let survivors = runProcesses();
  for (let i = 0; i < 40 && survivors.length > 0; i++) {
    sleepSync(50);
    survivors = runProcesses();
  }
  const leftovers = runTempLeftovers(survivors);
  sweepRun(leftovers);
  if (survivors.length === 0 && leftovers.length === 0) return;
  const lines = [
    'the test run left things behind (now removed; fix the fixture that made them):',
    ...survivors.map((p) => `  process ${p.pid} (parent ${p.ppid}, ${p.why}): ${p.command.slice(0, 300)}`),
    ...leftovers.map((f) => `  temp entry ${f}`),
  ];
  throw new Error(lines.join('\n'));
}

/** The teardown of runs without the PostgreSQL fixture (`mocha:vscode`, which requires this file alone). */
export const mochaGlobalTeardown = finishRun;

// Interrupted: mocha runs no hooks and no teardown on a signal, so the sweep happens here.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n[test run] ${sig}: stopping the run's processes and removing ${runDir}\n`);
    sweepRun();
    process.kill(process.pid, sig); // the default action now, with the conventional exit status
  });
}
// Any other way out (an uncaught exception, process.exit from a test, a teardown that threw).
process.once('exit', () => {
  if (existsSync(runDir)) sweepRun();
});
