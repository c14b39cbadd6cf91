import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sharedCluster } from '../helpers/global-fixtures';
import { runProgram } from '../helpers/clients';
import type { PostgresCluster } from '../../src/demo/postgres-cluster';
import type { ReadyFile } from '../../src/cli/ready-file';

/**
 * `airlock proxy` end to end, as a user runs it: the bundled CLI as a child process, a config file on
 * disk, the ready file, psql through the listeners, SIGTERM, and the errors for bad configs and usage.
 */

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PASSWORD_ENV = 'AIRLOCK_CLI_TEST_UPSTREAM_PW';

/** Newest modification time of any file under `dir`. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** A running `airlock` child process with its output collected. */
class Airlock {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitCode: number | null | undefined = undefined;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (b: Buffer) => (this.stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (this.stderr += b.toString('utf8')));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        resolve({ code, signal });
      }),
    );
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Resolves when `cond()` holds; rejects on timeout or when the process exits first. */
  async until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (!this.running)
        throw new Error(`airlock exited (${this.exitCode}) before ${what}\nstderr:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nstderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const children: Airlock[] = [];

function airlock(args: string[], env: NodeJS.ProcessEnv = {}): Airlock {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const a = new Airlock(child);
  children.push(a);
  return a;
}

/** Runs airlock to completion (for commands that must fail fast). */
async function airlockResult(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const a = airlock(args);
  const timer = setTimeout(() => a.child.kill('SIGKILL'), 20_000);
  const { code } = await a.exited;
  clearTimeout(timer);
  return { code, stdout: a.stdout, stderr: a.stderr };
}

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('airlock proxy CLI', function () {
  this.timeout(60_000);
  let cluster: PostgresCluster;
  let dir: string;

  const upstream = (database = 'postgres') =>
    `postgres://${cluster.user}@${cluster.host}:${cluster.port}/${database}?sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.caFile)}`;

  /** psql through one entry of the ready file. */
  const psqlVia = (c: ReadyFile['connections'][number], sql: string) =>
    runProgram(cluster, 'psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-Atc', sql], {
      PGHOST: c.host,
      PGPORT: String(c.port),
      PGUSER: c.user,
      PGPASSWORD: c.password,
      PGDATABASE: c.database,
      PGSSLMODE: 'disable',
    });

  before(async function () {
    this.timeout(180_000);
    cluster = sharedCluster();
    dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-cli-'));
    // Build the CLI bundle unless it is newer than every source file (npm test builds it first).
    if (!existsSync(CLI) || statSync(CLI).mtimeMs < newestMtime(path.join(ROOT, 'src'))) {
      await promisify(execFile)('npm', ['run', 'build', '--silent'], { cwd: ROOT, timeout: 170_000 });
    }
    assert.ok(existsSync(CLI), 'dist/cli.js was not built');
  });

  after(async () => {
    for (const a of children) if (a.running) a.child.kill('SIGKILL');
    await Promise.all(children.map((a) => a.exited));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function writeConfig(name: string, text: string): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  }

  describe('a running proxy with one listener', () => {
    let a: Airlock;
    let ready: ReadyFile;
    let readyText: string;
    const readyPath = () => path.join(dir, 'ready-one.json');

    before(async () => {
      const config = await writeConfig(
        'one.yaml',
        [
          'policy: allow-all',
          'connections:',
          '  - name: main',
          '    kind: postgres',
          `    upstream: ${upstream()}`,
          `    passwordEnv: ${PASSWORD_ENV}`,
          '    listen: 127.0.0.1:0',
          '',
        ].join('\n'),
      );
      a = airlock(['proxy', '--config', config, '--ready-file', readyPath()], {
        [PASSWORD_ENV]: cluster.password,
      });
      await a.until(() => existsSync(readyPath()), 'the ready file');
      readyText = await readFile(readyPath(), 'utf8');
      ready = JSON.parse(readyText) as ReadyFile;
    });

    it('writes the ready file with mode 0600 and exactly the connection details', async () => {
      const mode = (await stat(readyPath())).mode & 0o777;
      assert.equal(mode.toString(8), '600');
      assert.equal(ready.connections.length, 1);
      const c = ready.connections[0];
      assert.deepEqual(Object.keys(c).sort(), [
        'database',
        'host',
        'kind',
        'name',
        'password',
        'port',
        'user',
      ]);
      assert.equal(c.name, 'main');
      assert.equal(c.kind, 'postgres');
      assert.equal(c.host, '127.0.0.1');
      assert.ok(Number.isInteger(c.port) && c.port > 0);
      assert.equal(c.user, 'postgres');
      assert.equal(c.database, 'postgres');
      assert.ok(c.password.length >= 16, 'the local password is too short to be a secret');
      assert.ok(!readyText.includes(cluster.password), 'the ready file holds the upstream password');
    });

    it('serves psql with the ready file values', async () => {
      const r = await psqlVia(ready.connections[0], 'select current_user, current_database(), 6 * 7');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'postgres|postgres|42');
    });

    it('logs one line per listener on stderr, and never the upstream password', async () => {
      await a.until(() => /ready: 1 listener/.test(a.stderr), 'the ready log line', 5000);
      const lines = a.stderr.split('\n').filter((l) => / listening on /.test(l));
      assert.equal(lines.length, 1, a.stderr);
      assert.match(
        lines[0],
        new RegExp(`\\[main\\] listening on 127\\.0\\.0\\.1:${ready.connections[0].port}\\b`),
      );
      assert.ok(!a.stderr.includes(cluster.password));
      assert.ok(!a.stdout.includes(cluster.password));
    });

    it('on SIGTERM tells a connected psql session 57P01, closes the port and exits 0 within a few seconds', async () => {
      const c = ready.connections[0];
      const psql = spawn(path.join(cluster.binDir, 'psql'), ['-X', '-At', '-v', 'VERBOSITY=verbose'], {
        env: {
          ...process.env,
          PGHOST: c.host,
          PGPORT: String(c.port),
          PGUSER: c.user,
          PGPASSWORD: c.password,
          PGDATABASE: c.database,
          PGSSLMODE: 'disable',
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      psql.stdout.on('data', (b: Buffer) => (out += b.toString()));
      psql.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const psqlExited = new Promise<number | null>((resolve) => psql.once('exit', (code) => resolve(code)));
      try {
        psql.stdin.write("select 'connected-before-term';\n");
        const deadline = Date.now() + 10_000;
        while (!out.includes('connected-before-term') && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        assert.match(out, /connected-before-term/, `psql did not connect: ${err}`);

        const sent = Date.now();
        a.child.kill('SIGTERM');
        const exit = await Promise.race([
          a.exited,
          new Promise<null>((r) => setTimeout(() => r(null), 8000)),
        ]);
        assert.ok(exit, 'airlock did not exit within 8 s of SIGTERM');
        assert.deepEqual(exit, { code: 0, signal: null }, a.stderr);
        assert.ok(Date.now() - sent < 8000);
        assert.ok(await portIsClosed(c.port), 'the listener port still accepts connections');

        // psql learns of it at its next statement: the server's farewell, then the lost connection.
        psql.stdin.write("select 'after-term';\n");
        psql.stdin.end();
        await Promise.race([psqlExited, new Promise((r) => setTimeout(r, 10_000))]);
        assert.match(err, /FATAL:\s+57P01: terminating connection because Airlock is shutting down/, err);
        assert.doesNotMatch(out, /after-term/);
      } finally {
        psql.kill('SIGKILL');
      }
    });
  });

  it('serves two listeners from one config', async () => {
    const readyPath = path.join(dir, 'ready-two.json');
    const config = await writeConfig(
      'two.yaml',
      [
        'policy: allow-all',
        'connections:',
        '  - name: alpha',
        '    kind: postgres',
        `    upstream: ${upstream('postgres')}`,
        `    passwordEnv: ${PASSWORD_ENV}`,
        '  - name: beta',
        '    kind: postgres',
        `    upstream: ${upstream('template1')}`,
        `    passwordEnv: ${PASSWORD_ENV}`,
        '    listen: 127.0.0.1:0',
        '',
      ].join('\n'),
    );
    // alpha has no listen address: the default is 127.0.0.1 with a free port.
    const a = airlock(['proxy', '--config', config, '--ready-file', readyPath], {
      [PASSWORD_ENV]: cluster.password,
    });
    await a.until(() => existsSync(readyPath), 'the ready file');
    const ready = JSON.parse(await readFile(readyPath, 'utf8')) as ReadyFile;
    assert.deepEqual(
      ready.connections.map((c) => [c.name, c.database]),
      [
        ['alpha', 'postgres'],
        ['beta', 'template1'],
      ],
    );
    assert.notEqual(ready.connections[0].port, ready.connections[1].port);
    assert.notEqual(ready.connections[0].password, ready.connections[1].password, 'listeners share a secret');
    for (const c of ready.connections) {
      const r = await psqlVia(c, 'select current_database()');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), c.database);
    }
    // One listener's secret does not open the other.
    const crossed = await psqlVia(
      { ...ready.connections[1], password: ready.connections[0].password },
      'select 1',
    );
    assert.notEqual(crossed.code, 0);
    assert.match(crossed.stderr, /password authentication failed/);

    await a.until(() => /ready: 2 listener/.test(a.stderr), 'the ready log line', 5000);
    const lines = a.stderr.split('\n').filter((l) => / listening on /.test(l));
    assert.equal(lines.length, 2, a.stderr);
    assert.match(lines[0], /\[alpha\] listening on 127\.0\.0\.1:/);
    assert.match(lines[1], /\[beta\] listening on 127\.0\.0\.1:/);
    a.child.kill('SIGTERM');
    assert.deepEqual(await a.exited, { code: 0, signal: null });
    for (const c of ready.connections) assert.ok(await portIsClosed(c.port));
  });

  describe('invalid invocations exit 2 with a message that says what is wrong and where', () => {
    const connection = (over: Record<string, string> = {}) =>
      Object.entries({
        name: 'x',
        kind: 'postgres',
        upstream: 'postgres://app@127.0.0.1:5432/shop',
        passwordEnv: 'SHOP_PW',
        ...over,
      }).map(([k, v], i) => `${i === 0 ? '  - ' : '    '}${k}: ${v}`);
    /** Each bad config, line by line (the tests below name lines by number). */
    const configs: Record<string, string[]> = {
      // Line 4 holds the bad kind.
      kind: ['policy: allow-all', 'connections:', ...connection({ kind: 'mysql' })],
      flow: [
        'policy: allow-all',
        'connections: [{name: x, kind: mysql, upstream: "postgres://app@127.0.0.1:5432/shop"}]',
      ],
      // The unknown key is on line 7.
      unknown: ['policy: allow-all', 'connections:', ...connection(), 'logLevl: debug'],
      // The upstream key is on line 5.
      pwUrl: [
        'policy: allow-all',
        'connections:',
        ...connection({ upstream: 'postgres://app:hunter2-secret@127.0.0.1:5432/shop' }),
      ],
      pwBadUrl: [
        'policy: allow-all',
        'connections:',
        ...connection({ upstream: 'postgres://app:hunter2-secret@127.0.0.1:99999999/shop' }),
      ],
      // passwordEnv on line 6, passwordFile on line 7.
      both: ['policy: allow-all', 'connections:', ...connection({ passwordFile: 'pw.txt' })],
      syntax: ['policy: allow-all', 'connections:', '  - name: x', '   kind: [postgres'],
    };
    const runs = new Map<
      string,
      Promise<{ code: number | null; stdout: string; stderr: string; file: string }>
    >();

    before(async () => {
      // Every CLI start costs a second or two; the failing runs are independent, so they run side by side.
      for (const [name, lines] of Object.entries(configs)) {
        const file = await writeConfig(`${name}.yaml`, lines.join('\n') + '\n');
        runs.set(
          name,
          airlockResult(['proxy', '--config', file]).then((r) => ({ ...r, file })),
        );
      }
      runs.set(
        'noConfig',
        airlockResult(['proxy']).then((r) => ({ ...r, file: '' })),
      );
      runs.set(
        'badOption',
        airlockResult(['proxy', '--confgi', 'x.yaml']).then((r) => ({ ...r, file: '' })),
      );
      await Promise.all(runs.values());
    });

    async function failing(name: string): Promise<string> {
      const r = await (runs.get(name) as Promise<{ code: number | null; stderr: string; file: string }>);
      assert.equal(r.code, 2, `exit code for ${name}; stderr:\n${r.stderr}`);
      assert.match(r.stderr, /invalid config/);
      assert.ok(r.stderr.includes(r.file), `the message does not name the file: ${r.stderr}`);
      return r.stderr;
    }

    it('a connection of an unknown kind: names connections.0.kind, its line and the allowed values', async () => {
      const stderr = await failing('kind');
      assert.match(stderr, /connections\.0\.kind/);
      assert.match(stderr, /line 4\b/);
      assert.match(stderr, /"postgres"/);
    });

    it('the same in YAML flow style', async () => {
      const stderr = await failing('flow');
      assert.match(stderr, /connections\.0\.kind/);
      assert.match(stderr, /line 2\b/);
      assert.match(stderr, /"postgres"/);
    });

    it('an unknown top-level key: names the key and its line', async () => {
      const stderr = await failing('unknown');
      assert.match(stderr, /unknown key "logLevl"/);
      assert.match(
        stderr,
        /line 7\b/,
        `the message does not point at the line of the unknown key: ${stderr}`,
      );
    });

    it('a password in the upstream URL: refused, without echoing it', async () => {
      const stderr = await failing('pwUrl');
      assert.match(stderr, /connections\.0/);
      assert.match(stderr, /upstream/);
      assert.match(stderr, /passwordEnv or passwordFile/);
      assert.ok(!stderr.includes('hunter2-secret'), 'the password from the URL is echoed');
      // The connection starts on line 3, its upstream key is on line 5: either points the reader there.
      assert.match(stderr, /line (3|5)\b/, `no line number for the upstream key: ${stderr}`);
    });

    it('a password in an upstream URL that is otherwise invalid: still not echoed', async () => {
      const stderr = await failing('pwBadUrl');
      assert.match(stderr, /connections\.0/);
      assert.ok(!stderr.includes('hunter2-secret'), `the password from the URL is echoed: ${stderr}`);
    });

    it('passwordEnv and passwordFile both set: refused, naming both and the line', async () => {
      const stderr = await failing('both');
      assert.match(stderr, /connections\.0/);
      assert.match(stderr, /passwordEnv/);
      assert.match(stderr, /passwordFile/);
      assert.match(stderr, /line (3|6|7)\b/, `no line number: ${stderr}`);
    });

    it('a YAML syntax error: names the line', async () => {
      assert.match(await failing('syntax'), /line \d+/);
    });

    it('no --config: usage and exit 2', async () => {
      const r = await (runs.get('noConfig') as Promise<{ code: number | null; stderr: string }>);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /needs --config/);
      assert.match(r.stderr, /airlock proxy --config FILE/);
    });

    it('an unknown option: exit 2', async () => {
      const r = await (runs.get('badOption') as Promise<{ code: number | null; stderr: string }>);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--confgi/);
    });
  });
});
