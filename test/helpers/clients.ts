import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import type { PostgresCluster } from '../../src/demo/postgres-cluster';
import type { ProxyUnderTest } from './proxy';

/**
 * Helpers for compatibility tests: run the same real client program (psql, pgbench, pg_dump, …) once
 * directly against the cluster and once through the proxy, and compare what the user would see.
 */

export interface ProgramResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** libpq environment variables are cleared first so the caller's own PG* settings never leak in. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  // Stable, locale-independent output from the client programs.
  env.LC_ALL = 'C.UTF-8';
  env.LANG = 'C.UTF-8';
  env.PAGER = '';
  env.PSQL_PAGER = '';
  return env;
}

/** libpq environment for a direct connection to `database` on the cluster (no proxy). */
export function directEnv(cluster: PostgresCluster, database: string): NodeJS.ProcessEnv {
  return {
    PGHOST: cluster.host,
    PGPORT: String(cluster.port),
    PGUSER: cluster.user,
    PGPASSWORD: cluster.password,
    PGDATABASE: database,
    PGSSLMODE: 'disable',
  };
}

/** libpq environment for a connection through the proxy. */
export function proxiedEnv(p: ProxyUnderTest): NodeJS.ProcessEnv {
  return { ...p.env, PGSSLMODE: 'disable' };
}

/** Runs a client program of the cluster's installation; resolves with its exit status and output (never rejects on failure). */
export function runProgram(
  cluster: PostgresCluster,
  program: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { input?: string | Buffer; cwd?: string; timeoutMs?: number; encoding?: BufferEncoding } = {},
): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(cluster.binDir, program), args, {
      env: { ...cleanEnv(), ...env },
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 50_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString(options.encoding ?? 'utf8'),
        stderr: Buffer.concat(err).toString(options.encoding ?? 'utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Runs a client program and rejects unless it exits with status 0. */
export async function runOk(
  cluster: PostgresCluster,
  program: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { input?: string | Buffer; cwd?: string; timeoutMs?: number } = {},
): Promise<ProgramResult> {
  const r = await runProgram(cluster, program, args, env, options);
  if (r.code !== 0) {
    throw new Error(
      `${program} ${args.join(' ')} exited with ${r.code ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
    );
  }
  return r;
}

/** Runs SQL directly on the cluster with psql (superuser, no proxy). */
export function directSql(cluster: PostgresCluster, database: string, sql: string): Promise<ProgramResult> {
  return runOk(
    cluster,
    'psql',
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql],
    directEnv(cluster, database),
  );
}

export async function createDatabase(cluster: PostgresCluster, name: string): Promise<void> {
  await directSql(cluster, 'postgres', `drop database if exists "${name}" with (force)`);
  await directSql(cluster, 'postgres', `create database "${name}"`);
}

export async function dropDatabase(cluster: PostgresCluster, name: string): Promise<void> {
  await directSql(cluster, 'postgres', `drop database if exists "${name}" with (force)`);
}

/** A node-postgres client connected directly to the cluster (no proxy). */
export async function directClient(
  cluster: PostgresCluster,
  database: string,
  extra: Partial<pg.ClientConfig> = {},
): Promise<pg.Client> {
  const client = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    database,
    ...extra,
  });
  await client.connect();
  return client;
}

/** An unconnected node-postgres client for the proxy, so listeners can be attached before connect(). */
export function proxiedClientConfig(
  p: ProxyUnderTest,
  extra: Partial<pg.ClientConfig> = {},
): pg.ClientConfig {
  return {
    host: p.endpoint.host,
    port: p.endpoint.port,
    user: p.endpoint.user,
    password: p.endpoint.password,
    database: p.endpoint.database,
    ...extra,
  };
}

export function directClientConfig(
  cluster: PostgresCluster,
  database: string,
  extra: Partial<pg.ClientConfig> = {},
): pg.ClientConfig {
  return {
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    database,
    ...extra,
  };
}

/** Resolves when `cond()` is true; rejects after `timeoutMs`. */
export async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Asserts two (possibly large) texts are equal, reporting the first differing line with some context
 * instead of a multi-megabyte diff.
 */
export function assertSameText(actual: string, expected: string, label: string): void {
  if (actual === expected) return;
  const a = actual.split('\n');
  const e = expected.split('\n');
  let i = 0;
  while (i < a.length && i < e.length && a[i] === e[i]) i++;
  const show = (lines: string[]) =>
    lines
      .slice(Math.max(0, i - 3), i + 4)
      .map((l, k) => `${Math.max(0, i - 3) + k + 1}: ${l.length > 300 ? l.slice(0, 300) + '…' : l}`)
      .join('\n');
  throw new Error(
    `${label}: texts differ at line ${i + 1} (actual ${a.length} lines, expected ${e.length} lines)\n` +
      `--- expected\n${show(e)}\n--- actual\n${show(a)}`,
  );
}
