import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { sharedCluster } from '../helpers/global-fixtures';
import { dropDatabase, freshDatabase } from '../helpers/policy-fixtures';
import { CLI, runAirlock } from '../helpers/airlock-cli';

/**
 * The agents' explain tool answers what the gate then does, on the real database: a user function named
 * lower() shadows the built-in for PostgreSQL, so under read-only the gate denies
 * `select lower(name) from t`, and explain_query must say DENY (and offer no plan) — not "allowed".
 */
const DB = 'explain_path';
const text = (r: unknown) =>
  ((r as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('one decision path: the explain tool on the real database agrees with the gate', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-explain-path-'));
  const runtime = mkdtempSync(path.join(os.tmpdir(), 'airlock-explain-run-'));
  const env = { ...process.env, XDG_RUNTIME_DIR: runtime } as Record<string, string>;
  let client: Client | null = null;

  before(async () => {
    const cluster = sharedCluster();
    env.AIRLOCK_EXPLAIN_TEST_PW = cluster.password;
    await freshDatabase(
      cluster,
      DB,
      `create table t (name text); insert into t values ('Ada');
       create function public.lower(text) returns text language sql as $$ select 'shadowed' $$;`,
    );
    const config = path.join(dir, 'airlock.yaml');
    writeFileSync(
      config,
      [
        'policy: read-only',
        'connections:',
        '  - name: shop',
        '    kind: postgres',
        `    upstream: postgres://${cluster.user}@${cluster.host}:${cluster.port}/${DB}?sslmode=require`,
        '    passwordEnv: AIRLOCK_EXPLAIN_TEST_PW',
        '',
      ].join('\n'),
    );
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'mcp', '--config', config],
      env,
      stderr: 'pipe',
    });
    client = new Client({ name: 'explain-path-test', version: '1' });
    await client.connect(transport);
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    await dropDatabase(sharedCluster(), DB);
    rmSync(dir, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  const call = async (name: string, sql: string) =>
    text(await (client as Client).callTool({ name, arguments: { sql } }));

  it('a user function shadowing lower(): explain_query says DENY, and run_query is denied by the same rule', async () => {
    const explained = await call('explain_query', 'select lower(name) from t');
    assert.match(explained, /functions {2}lower .*\[unknown\]/);
    assert.match(explained, /request: DENY/);
    assert.match(explained, /catalog: the database's, read now/);
    assert.match(explained, /Query plan: not fetched/);
    const ran = await call('run_query', 'select lower(name) from t');
    assert.match(ran, /airlock: denied: .*lower/);
    assert.doesNotMatch(ran, /shadowed/);
  });

  it('a built-in the database does not shadow: explain_query says ALLOW with the plan, and run_query runs it', async () => {
    const explained = await call('explain_query', 'select upper(name) from t');
    assert.match(explained, /decision +ALLOW by rule "reads"/);
    assert.match(explained, /Query plan \(EXPLAIN, through Airlock\):\n.*Scan/);
    assert.match(await call('run_query', 'select upper(name) from t'), /ADA/);
  });

  it('airlock policy explain (offline, no database) says it decided without the catalog', async () => {
    const offline = await runAirlock([
      'policy',
      'explain',
      '--policy',
      'read-only',
      'select lower(name) from t',
    ]);
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stdout, /catalog: none \(offline/);
  });
});
