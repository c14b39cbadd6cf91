// Shared helpers for the benchmarks: build, throwaway cluster, pgbouncer and Airlock as separate
// processes, pgbench runs and parsing, process stats, cleanup on exit/Ctrl-C, and output formatting.
import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, openSync, closeSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

const run = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const OUT_CLUSTER = path.join(ROOT, 'out', 'src', 'demo', 'postgres-cluster.js');
const require = createRequire(import.meta.url);

// ---------- build ----------

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const staleAgainstSrc = (file) =>
  !existsSync(file) || statSync(file).mtimeMs < newestMtime(path.join(ROOT, 'src'));

/**
 * Builds dist/cli.js (esbuild) and out/ (tsc) when missing or older than src/. The tree may be mid-edit
 * (tsc also compiles test/): a failed build stops the benchmark only when there is no earlier output to use,
 * otherwise it is reported loudly and the previous build is measured.
 */
let built = false;

export async function ensureBuilt() {
  // Once per process: one `npm run bench` measures one build even while src/ is being edited.
  if (built) return;
  built = true;
  if (staleAgainstSrc(CLI)) {
    note('building dist/ (esbuild)…');
    try {
      await run(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT });
    } catch (err) {
      if (!existsSync(CLI)) throw new Error(`build failed:\n${err.stderr}`);
      note(
        `WARNING: build failed, benchmarking the previous dist/cli.js of ${statSync(CLI).mtime.toISOString()}:\n${String(err.stderr).trim().split('\n').slice(0, 6).join('\n')}`,
      );
    }
  }
  if (staleAgainstSrc(OUT_CLUSTER)) {
    note('compiling out/ (tsc -p .)…');
    try {
      await run('npx', ['tsc', '-p', '.'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      if (!existsSync(OUT_CLUSTER))
        throw new Error(`tsc failed and ${OUT_CLUSTER} is missing:\n${err.stdout}`);
      note(
        `tsc reported errors (continuing with the emitted out/):\n${String(err.stdout).trim().split('\n').slice(0, 6).join('\n')}`,
      );
    }
  }
}

// ---------- cleanup ----------

const cleanups = [];

/** Registers a stop function; they run last-in first-out on exit, error or Ctrl-C. */
export function defer(fn) {
  cleanups.push(fn);
}

async function runCleanups(downTo = 0) {
  while (cleanups.length > downTo) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (err) {
      note(`cleanup failed: ${err.message}`);
    }
  }
}

/** Runs `fn` and then stops what it started, so consecutive benchmarks do not share a loaded machine. */
export async function scoped(fn) {
  const mark = cleanups.length;
  try {
    return await fn();
  } finally {
    await runCleanups(mark);
  }
}

// ---------- interruption ----------

let interrupted = null;
const clients = new Set();

/** Runs a client program (pgbench, psql, …) that an interruption kills, so the current step ends at once. */
export function exec(cmd, args, options) {
  const promise = run(cmd, args, options);
  track(promise.child);
  return promise;
}

export function track(child) {
  clients.add(child);
  child.once('exit', () => clients.delete(child));
  return child;
}

/** Called before each step: after Ctrl-C no new step (and no new process) starts. */
export function checkInterrupted() {
  if (interrupted) throw new Error(`interrupted by ${interrupted}`);
}

/**
 * Runs a benchmark's main; every deferred stop runs however it ends. The first SIGINT/SIGTERM kills the
 * running client and lets the main flow unwind at its next step, so a process being started right then is
 * registered before the stops run (stopping from the handler would race it and leak it); a second one
 * stops everything at once.
 */
export async function runMain(main) {
  const onSignal = async (signal) => {
    if (interrupted) {
      note(`${signal} again: stopping now…`);
      await runCleanups();
      process.exit(130);
    }
    interrupted = signal;
    note(`${signal}: stopping after the current step (again to force)…`);
    for (const child of clients) child.kill('SIGTERM');
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    await main();
  } catch (err) {
    process.exitCode = 1;
    if (interrupted) note(`interrupted by ${interrupted}`);
    else console.error(`bench failed: ${err.stack ?? err}`);
  } finally {
    await runCleanups();
    if (interrupted) process.exit(130);
  }
}

// ---------- processes ----------

/** CPU seconds used so far, current and peak RSS (MB) of a process, from /proc. */
export function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the ")" that closes the command name: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]) / 100;
  const sys = Number(fields[12]) / 100;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  // USER_HZ is 100 on Linux for every architecture Node supports.
  return {
    cpuSeconds: user + sys,
    userSeconds: user,
    sysSeconds: sys,
    rssMB: kb('VmRSS') / 1024,
    peakRssMB: kb('VmHWM') / 1024,
  };
}

function waitForExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM to the child's own process group (it was spawned detached), SIGKILL if it lingers. */
async function stopGroup(child, graceMs) {
  const kill = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  if (!(await waitForExit(child, graceMs))) {
    kill('SIGKILL');
    await waitForExit(child, 2000);
  }
}

/** Polls (bounded) until `probe` returns a value; fails early if `child` exits. */
async function waitFor(what, probe, child, logFile, timeoutMs = 15_000) {
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    const value = await probe();
    if (value) return value;
    if (child.exitCode !== null || child.signalCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3000) : '';
  throw new Error(
    `${what} did not become ready (exit ${child.exitCode ?? child.signalCode ?? 'none'})\n${log}`,
  );
}

const readJson = async (file) => {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return null;
  }
};

// ---------- PostgreSQL ----------

/**
 * A throwaway cluster (TLS + SCRAM, from out/src/demo/postgres-cluster.js), stopped at the end. Clients
 * in the benchmarks all connect with sslmode=disable, as pgbouncer and Airlock do upstream here.
 */
export async function startPgCluster(settings = {}) {
  checkInterrupted();
  const { startCluster } = require(OUT_CLUSTER);
  const cluster = await startCluster({ settings });
  defer(() => cluster.stop());
  return cluster;
}

/** The cluster as a benchmark target. */
export const directTarget = (cluster) => ({
  name: 'direct',
  host: cluster.host,
  port: cluster.port,
  user: cluster.user,
  password: cluster.password,
  database: 'postgres',
});

/** Environment for libpq clients (pgbench, psql) aimed at a target; always plain TCP. */
export const libpqEnv = (t) => ({
  ...process.env,
  PGHOST: t.host,
  PGPORT: String(t.port),
  PGUSER: t.user,
  PGPASSWORD: t.password,
  PGDATABASE: t.database,
  PGSSLMODE: 'disable',
  PGAPPNAME: 'airlock-bench',
});

export async function psql(target, sql) {
  checkInterrupted();
  const { stdout } = await exec('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], {
    env: libpqEnv(target),
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim();
}

async function ownedByPostgres(prefix) {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const { stdout: uid } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  const owner = [Number(uid.trim()), Number(gid.trim())];
  await chown(dir, ...owner);
  return { dir, chownFile: (f) => chown(f, ...owner) };
}

/**
 * pgbouncer in transaction pooling mode in front of the cluster, on a free loopback port, run as the
 * postgres OS user (it refuses root). Clients log in with SCRAM against a plain-text auth_file entry, which
 * pgbouncer also uses to log in to the server.
 */
export async function startPgbouncer(cluster, { poolSize = 4 } = {}) {
  checkInterrupted();
  const { freePort } = require(OUT_CLUSTER);
  const { dir, chownFile } = await ownedByPostgres('airlock-bench-pgbouncer-');
  defer(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const file = (name) => path.join(dir, name);
  const ini = [
    '[databases]',
    `postgres = host=${cluster.host} port=${cluster.port} dbname=postgres`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${file('userlist.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${poolSize}`,
    `min_pool_size = ${poolSize}`,
    'max_client_conn = 100',
    'server_tls_sslmode = disable',
    'client_tls_sslmode = disable',
    'ignore_startup_parameters = extra_float_digits',
    `logfile = ${file('pgbouncer.log')}`,
    `pidfile = ${file('pgbouncer.pid')}`,
  ].join('\n');
  await writeFile(file('pgbouncer.ini'), ini + '\n', { mode: 0o600 });
  await writeFile(file('userlist.txt'), `"${cluster.user}" "${cluster.password}"\n`, { mode: 0o600 });
  for (const f of ['pgbouncer.ini', 'userlist.txt']) await chownFile(file(f));
  const child = spawn('runuser', ['-u', 'postgres', '--', '/usr/sbin/pgbouncer', file('pgbouncer.ini')], {
    detached: true, // own process group: Ctrl-C reaches only us, and we stop it ourselves
    stdio: 'ignore',
  });
  defer(() => stopGroup(child, 3000));
  const pidText = await waitFor(
    'pgbouncer',
    async () => (await readFile(file('pgbouncer.pid'), 'utf8').catch(() => '')).trim(),
    child,
    file('pgbouncer.log'),
  );
  const target = {
    name: 'pgbouncer',
    host: '127.0.0.1',
    port,
    user: cluster.user,
    password: cluster.password,
    database: 'postgres',
  };
  // The pidfile appears before the listener is certainly up: wait until a login works.
  await waitFor(
    'pgbouncer login',
    () =>
      psql(target, 'SELECT 1').then(
        () => true,
        () => false,
      ),
    child,
    file('pgbouncer.log'),
  );
  return { ...target, pid: Number(pidText), logFile: file('pgbouncer.log') };
}

// ---------- Airlock ----------

const UPSTREAM_PASSWORD_ENV = 'AIRLOCK_BENCH_UPSTREAM_PASSWORD';

/** The default benchmark config: one allow-all postgres connection to the cluster over plain TCP. */
export function airlockConfigFor(cluster, overrides = {}) {
  return {
    policy: 'allow-all',
    logLevel: 'warn',
    connections: [
      {
        name: 'bench',
        kind: 'postgres',
        upstream: `postgres://${cluster.user}@${cluster.host}:${cluster.port}/postgres?sslmode=disable`,
        passwordEnv: UPSTREAM_PASSWORD_ENV,
        listen: '127.0.0.1:0',
      },
    ],
    ...overrides,
  };
}

/**
 * Starts `node dist/cli.js proxy` as its own process with the given config object (so its CPU and RSS
 * are its own), waits for the ready file and returns the first listener as a target plus the pid.
 * `profileDir` runs it under `--cpu-prof`; the profile is written when it exits. `cli` and `name` let a
 * comparison run another build (e.g. the previous commit's dist/cli.js) side by side.
 */
export async function startAirlock(
  config,
  { upstreamPassword, profileDir, cli = CLI, name = 'airlock' } = {},
) {
  checkInterrupted();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-bench-proxy-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const configFile = path.join(dir, 'airlock.json');
  const readyFile = path.join(dir, 'ready.json');
  const logFile = path.join(dir, 'airlock.log');
  await writeFile(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const logFd = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [...nodeArgs, cli, 'proxy', '--config', configFile, '--ready-file', readyFile],
    {
      cwd: ROOT,
      detached: true,
      env: { ...process.env, [UPSTREAM_PASSWORD_ENV]: upstreamPassword },
      stdio: ['ignore', logFd, logFd],
    },
  );
  closeSync(logFd);
  // Writing a CPU profile on exit takes a moment; allow for it before SIGKILL.
  defer(() => stopGroup(child, profileDir ? 15_000 : 5000));
  const ready = await waitFor('airlock proxy', () => readJson(readyFile), child, logFile);
  const endpoint = ready.connections[0];
  return {
    name,
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    database: endpoint.database,
    pid: child.pid,
    logFile,
    /** Stops it now (idempotent with the deferred stop), e.g. to flush a CPU profile. */
    stop: () => stopGroup(child, profileDir ? 15_000 : 5000),
  };
}

export const randomPassword = () => randomBytes(12).toString('hex');

// ---------- pgbench ----------

/** Parses pgbench's final report (PostgreSQL 13–17 wording). */
export function parsePgbench(output) {
  const num = (re) => {
    const m = re.exec(output);
    return m ? Number(m[1]) : NaN;
  };
  return {
    // "tps = N (without initial connection time)" (14+) or "(excluding connections establishing)" (≤13)
    tps: num(/^tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/m),
    transactions: num(/^number of transactions actually processed: (\d+)/m),
    failed: num(/^number of failed transactions: (\d+)/m) || 0,
    latencyMs: num(/^latency average = ([\d.]+) ms/m),
  };
}

/**
 * One `pgbench -S` run against a target. Also returns the CPU time per transaction a watched process (the
 * proxy) used during the run, so the cost of each proxy can be compared directly.
 */
export async function runPgbench(target, { seconds, mode, clients = 4, threads = 2, watchPid } = {}) {
  const args = ['-n', '-S', '-c', String(clients), '-j', String(threads), '-T', String(seconds), '-M', mode];
  checkInterrupted();
  const before = watchPid ? procStats(watchPid) : null;
  let output;
  try {
    const { stdout, stderr } = await exec('pgbench', args, {
      env: libpqEnv(target),
      maxBuffer: 16 * 1024 * 1024,
    });
    output = stdout + stderr;
  } catch (err) {
    // pgbench exits 2 when some clients failed but still prints its report: keep the figures, show why.
    checkInterrupted(); // killed by Ctrl-C: not a pgbench failure
    output = `${err.stdout ?? ''}${err.stderr ?? ''}`;
    if (!/^tps = /m.test(output))
      throw new Error(`pgbench against ${target.name} failed:\n${output || err.message}`);
  }
  const result = parsePgbench(output);
  if (Number.isNaN(result.tps))
    throw new Error(`could not parse pgbench output for ${target.name}:\n${output}`);
  if (watchPid) {
    // User vs system time tells proxy code overhead apart from the syscalls every proxy must make.
    const after = procStats(watchPid);
    result.proxyUserUsPerTx = ((after.userSeconds - before.userSeconds) / result.transactions) * 1e6;
    result.proxySysUsPerTx = ((after.sysSeconds - before.sysSeconds) / result.transactions) * 1e6;
  }
  result.errors = output
    .split('\n')
    .filter((l) => /error|abort|FATAL/i.test(l))
    .slice(0, 5);
  return result;
}

// ---------- figures and output ----------

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
/** A ratio as "0.812×", or "n/a" when a side was not measured. */
export const times = (x) => (Number.isFinite(x) ? `${x.toFixed(3)}×` : 'n/a');
export const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);

/** A plain aligned table: the first column (names) left-aligned, figures right-aligned. */
export function printTable(headers, rows) {
  const cells = [headers, ...rows].map((r) => r.map(String));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i > 0 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log(line(cells[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

export const note = (msg) => console.log(`# ${msg}`);

/**
 * Notes the 1-minute load average: anything else running on the 2 shared cores (a test suite, a build)
 * lowers every figure and widens the noise, and proxies that need more CPU per transaction lose most.
 */
export function noteLoad(when) {
  const load = os.loadavg()[0];
  const busy = load > 1 ? ' — other work is competing for the CPUs; expect low, noisy figures' : '';
  note(`load average ${when}: ${load.toFixed(2)} on ${os.cpus().length} cores${busy}`);
  return Number(load.toFixed(2));
}

/** Saves a result object under bench/results/ (git-ignored) for later comparison. */
export async function saveResult(name, result) {
  const dir = path.join(ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}

/** Tiny `--name value` argument reader with defaults; unknown flags are an error. */
export function parseOptions(argv, defaults) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!argv[i].startsWith('--') || !(key in defaults))
      throw new Error(
        `unknown option ${argv[i]}; known: ${Object.keys(defaults)
          .map((k) => `--${k}`)
          .join(' ')}`,
      );
    const value = argv[++i];
    if (value === undefined) throw new Error(`--${key} needs a value`);
    options[key] = typeof defaults[key] === 'number' ? Number(value) : value;
    if (typeof defaults[key] === 'number' && !(options[key] > 0))
      throw new Error(`--${key} must be a positive number`);
  }
  return options;
}
