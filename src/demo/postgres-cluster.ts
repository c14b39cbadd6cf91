import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL cluster from the local server binaries: initdb in a temp folder, a free loopback
 * port, SCRAM-SHA-256 password auth, TLS with a freshly made CA and server certificate. Used by the demo
 * and by the tests; postgres refuses to run as root, so as root it runs as the `postgres` OS user.
 */
export interface ClusterOptions {
  /** Superuser password; random when absent. */
  password?: string;
  /** Extra `postgresql.conf` settings. */
  settings?: Record<string, string>;
  /** Speed over durability (tests, demo). */
  fast?: boolean;
  /** pg_hba method for host connections. */
  hostAuth?: 'scram-sha-256' | 'md5' | 'password' | 'trust';
}

export interface PostgresCluster {
  host: string;
  port: number;
  user: string;
  password: string;
  dir: string;
  /** CA certificate that signed the server certificate (for sslmode=verify-ca/verify-full). */
  caFile: string;
  binDir: string;
  /** Runs a PostgreSQL client program (psql, pg_dump, …) from the same installation. */
  client(
    program: string,
    args: string[],
    env?: NodeJS.ProcessEnv,
  ): Promise<{ stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** The bin folder of the newest local PostgreSQL installation, or null. */
export function findPostgresBinaries(): string | null {
  const candidates: string[] = [];
  if (process.env.AIRLOCK_PG_BIN) candidates.push(process.env.AIRLOCK_PG_BIN);
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => path.join(root, v, 'bin')));
  }
  candidates.push('/usr/local/pgsql/bin');
  return (
    candidates.find((d) => existsSync(path.join(d, 'initdb')) && existsSync(path.join(d, 'postgres'))) ?? null
  );
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

async function osUser(): Promise<{ uid: number; gid: number } | null> {
  if (!isRoot()) return null;
  try {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: g } = await run('id', ['-g', 'postgres']);
    return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
  } catch {
    throw new Error('PostgreSQL refuses to run as root and there is no "postgres" OS user to run it as');
  }
}

/** Makes a CA and a server certificate for 127.0.0.1/localhost with openssl. */
async function makeCertificates(dir: string): Promise<void> {
  const o = (args: string[]) => run('openssl', args, { cwd: dir });
  await o([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Airlock test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  ]);
  await o([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  await writeFile(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await o([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  ]);
  await chmod(path.join(dir, 'server.key'), 0o600);
}

/** Whether every folder on the path lets other users through (o+x). */
function reachableByOthers(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (d === path.dirname(d)) return true;
  }
}

export async function startCluster(options: ClusterOptions = {}): Promise<PostgresCluster> {
  const binDir = findPostgresBinaries();
  if (!binDir) throw new Error('no local PostgreSQL server binaries found (initdb, postgres)');
  const owner = await osUser();
  // As root the cluster belongs to the postgres user, who must be able to reach it: a private TMPDIR
  // (an editor's, a test harness's) is not reachable, the system's /tmp is.
  const base = owner && !reachableByOthers(os.tmpdir()) ? '/tmp' : os.tmpdir();
  const dir = await mkdtemp(path.join(base, 'airlock-pg-'));
  const data = path.join(dir, 'data');
  const password = options.password ?? randomBytes(12).toString('hex');
  const user = 'postgres';
  // As root, every command runs as the postgres OS user: runuser keeps our environment.
  const asOwner = (cmd: string, args: string[]): [string, string[]] =>
    owner ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const exec = (cmd: string, args: string[]) => {
    const [c, a] = asOwner(path.join(binDir, cmd), args);
    return run(c, a, { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  };
  try {
    await writeFile(path.join(dir, 'pwfile'), password + '\n', { mode: 0o600 });
    await makeCertificates(dir);
    if (owner) {
      await chown(dir, owner.uid, owner.gid);
      for (const f of ['pwfile', 'server.key', 'server.crt', 'ca.crt'])
        await chown(path.join(dir, f), owner.uid, owner.gid);
    }
    const auth = options.hostAuth ?? 'scram-sha-256';
    await exec('initdb', [
      '-D',
      data,
      '-U',
      user,
      `--auth-host=${auth}`,
      '--auth-local=trust',
      '--pwfile',
      path.join(dir, 'pwfile'),
      '-E',
      'UTF8',
      '--locale=C',
      ...(options.fast !== false ? ['--no-sync'] : []),
    ]);
    const port = await freePort();
    const settings: Record<string, string> = {
      port: String(port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dir,
      ssl: 'on',
      ssl_cert_file: path.join(dir, 'server.crt'),
      ssl_key_file: path.join(dir, 'server.key'),
      password_encryption: auth === 'md5' ? 'md5' : 'scram-sha-256',
      ...(options.fast !== false ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
      ...options.settings,
    };
    const conf = Object.entries(settings)
      .map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`)
      .join('\n');
    await writeFile(path.join(data, 'postgresql.auto.conf'), conf + '\n');
    if (owner) await chown(path.join(data, 'postgresql.auto.conf'), owner.uid, owner.gid);
    await exec('pg_ctl', ['-D', data, '-l', path.join(dir, 'postgres.log'), '-w', '-t', '60', 'start']);
    const cluster: PostgresCluster = {
      host: '127.0.0.1',
      port,
      user,
      password,
      dir,
      caFile: path.join(dir, 'ca.crt'),
      binDir,
      client: (program, args, env) =>
        run(path.join(binDir, program), args, {
          env: {
            ...process.env,
            PGHOST: '127.0.0.1',
            PGPORT: String(port),
            PGUSER: user,
            PGPASSWORD: password,
            ...env,
          },
          maxBuffer: 256 * 1024 * 1024,
        }),
      stop: async () => {
        await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
    if (auth === 'md5') {
      // initdb stored the password as SCRAM; md5 auth needs it re-hashed under password_encryption=md5.
      await cluster.client('psql', [
        '-h',
        dir,
        '-d',
        'postgres',
        '-c',
        `ALTER ROLE postgres PASSWORD '${password}'`,
      ]);
    }
    return cluster;
  } catch (err) {
    await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Stops the clusters startCluster made in `parent` (its temp dir) that their owner did not stop — a
 * process killed before cluster.stop(), such as a VS Code extension host — and removes their folders.
 * The postmaster runs in a session of its own, so it outlives whoever started it: SIGQUIT is an immediate
 * shutdown that also releases its shared memory.
 */
export async function stopClustersIn(parent: string): Promise<void> {
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent).filter((n) => n.startsWith('airlock-pg-'))) {
    const dir = path.join(parent, name);
    const pid = postmasterOf(path.join(dir, 'data'));
    if (pid) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        /* it just ended */
      }
      for (let i = 0; i < 200 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 50));
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** The pid of the live postmaster of `data`, or null (none, or a stale pid file whose pid was reused). */
function postmasterOf(data: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
  if (!(pid > 0) || !isRunning(pid)) return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(data) ? pid : null;
  } catch {
    return pid; // no /proc: trust the pid file
  }
}

/**
 * Whether a process with this pid runs. An ended daemon waits as a zombie until init reaps it, which some
 * container inits do late: signal 0 would still find it, so where there is /proc, its state decides.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return !existsSync('/proc');
  }
}
