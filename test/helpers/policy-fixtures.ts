import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { PostgresCluster } from '../../src/demo/postgres-cluster';
import { directClient as directPg } from './clients';

/**
 * Helpers for the policy-enforcement tests (read-only bypasses, read-only compatibility, approve-writes,
 * obligations): a dedicated database per file, psql runs directly and through Airlock, and the checks
 * every denial must pass.
 */

export interface PsqlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// The libpq environments and direct clients are the ones every integration test uses.
export {
  directEnv as directPsqlEnv,
  proxiedEnv as proxiedPsqlEnv,
  directClient as directPg,
  dropDatabase,
} from './clients';

/**
 * Runs psql (always with -X, so no ~/.psqlrc) from the cluster's installation with only the given libpq
 * environment; never rejects on a non-zero exit status.
 */
export function psql(
  cluster: PostgresCluster,
  env: NodeJS.ProcessEnv,
  args: string[],
  input = '',
  timeoutMs = 30_000,
): Promise<PsqlResult> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) clean[k] = v;
  Object.assign(
    clean,
    { LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', PAGER: '', PSQL_PAGER: '', COLUMNS: '200' },
    env,
  );
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(cluster.binDir, 'psql'), ['-X', ...args], {
      env: clean,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Creates `name` afresh (dropping a leftover of an earlier run) and runs `schema` in it directly. */
export async function freshDatabase(cluster: PostgresCluster, name: string, schema: string): Promise<void> {
  const admin = await directPg(cluster, 'postgres');
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const db = await directPg(cluster, name);
  try {
    await db.query(schema);
  } finally {
    await db.end();
  }
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>, what: string): Promise<pg.DatabaseError> {
  let result: unknown;
  try {
    result = await promise;
  } catch (err) {
    return err as pg.DatabaseError;
  }
  assert.fail(`${what}: expected an error, but it succeeded with ${JSON.stringify(result, resultReplacer)}`);
}

function resultReplacer(key: string, value: unknown) {
  // node-postgres results carry the whole field/parser machinery; rows and the tag tell the story.
  if (key === '' && value && typeof value === 'object' && 'rows' in value) {
    const r = value as pg.QueryResult;
    return { command: r.command, rowCount: r.rowCount, rows: r.rows };
  }
  return value;
}

/**
 * Asserts an error is Airlock's denial (not the server's own refusal): SQLSTATE 42501, a message starting
 * `airlock: denied`, a DETAIL naming the rule and a HINT.
 */
export function assertAirlockDenial(err: pg.DatabaseError, what: string, rule?: string | RegExp): void {
  const seen = `${what}: got ${err.code} ${JSON.stringify(err.message)} detail=${JSON.stringify(err.detail)}`;
  assert.equal(err.code, '42501', seen);
  assert.match(err.message, /^airlock: denied: \S/, seen);
  assert.match(err.detail ?? '', /^Rule: [\w-]+$/, seen);
  if (typeof rule === 'string') assert.equal(err.detail, `Rule: ${rule}`, seen);
  else if (rule) assert.match(err.detail ?? '', rule, seen);
  assert.ok((err.hint ?? '').length > 0, `${seen}: no HINT`);
}

/** Awaits the promise, which must fail with Airlock's denial; returns the error. */
export async function expectDenied(
  promise: Promise<unknown>,
  what: string,
  rule?: string | RegExp,
): Promise<pg.DatabaseError> {
  const err = await rejection(promise, what);
  assertAirlockDenial(err, what, rule);
  return err;
}

/** Writes a policy YAML document to a fresh temp folder; `dispose` removes it. */
export async function tempPolicy(
  name: string,
  yaml: string,
): Promise<{ file: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-policy-test-'));
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  return { file, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** The repository root (the tests run from it; compiled tests live in out/test/…). */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
