import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import * as vscode from 'vscode';

const extensionId = 'airlock-dev.airlock';
const PG_VARS = ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'DATABASE_URL'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The environment a new integrated terminal's process gets: a terminal that runs `env` into a file.
 * Environment collections apply to every terminal that is not hidden or strict, so this one sees what
 * a person's (or an agent's) shell would see.
 */
async function newTerminalEnv(dir: string, label: string): Promise<Record<string, string>> {
  const file = path.join(dir, `${label}-${Date.now()}.env`);
  const terminal = vscode.window.createTerminal({
    name: `airlock-test ${label}`,
    shellPath: '/bin/sh',
    shellArgs: ['-c', `env -0 > '${file}.tmp' && mv '${file}.tmp' '${file}'`],
  });
  try {
    const deadline = Date.now() + 30_000;
    while (!existsSync(file)) {
      if (Date.now() > deadline) throw new Error(`the test terminal (${label}) never wrote its environment`);
      await sleep(100);
    }
  } finally {
    terminal.dispose();
  }
  const env: Record<string, string> = {};
  for (const entry of readFileSync(file, 'utf8').split('\0')) {
    const i = entry.indexOf('=');
    if (i > 0) env[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return env;
}

/** Polls new terminals until `ok` holds: collection changes reach the terminal service asynchronously. */
async function terminalEnvWhere(
  dir: string,
  label: string,
  ok: (env: Record<string, string>) => boolean,
  what: string,
): Promise<Record<string, string>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const env = await newTerminalEnv(dir, label);
    if (ok(env)) return env;
    if (Date.now() > deadline)
      throw new Error(
        `a new terminal's environment never ${what}; it has ${JSON.stringify(pick(env), null, 1)}`,
      );
    await sleep(500);
  }
}

function pick(env: Record<string, string>): Record<string, string | undefined> {
  return Object.fromEntries(PG_VARS.map((k) => [k, k === 'PGPASSWORD' && env[k] ? '<set>' : env[k]]));
}

/** One real query through the URL: it reaches the demo database through Airlock's listener. */
async function countCustomers(url: string): Promise<number> {
  const client = new Client({ connectionString: url, ssl: false });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>('SELECT count(*) AS n FROM customers');
    return Number(r.rows[0]!.n);
  } finally {
    await client.end();
  }
}

describe('Airlock terminal environment and connection string (demo database)', function () {
  // The first connect starts the demo PostgreSQL (initdb, TLS, sample data): slow on a loaded machine.
  this.timeout(180_000);
  let dir: string;
  /** A new terminal's environment before Connect (the variables may be set outside Airlock). */
  let baseline: Record<string, string>;

  before(async () => {
    await vscode.extensions.getExtension(extensionId)!.activate();
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-env-'));
    baseline = await newTerminalEnv(dir, 'baseline');
  });

  after(async () => {
    await vscode.commands.executeCommand('airlock.disconnect');
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and DATABASE_URL for new terminals after Connect', async () => {
    await vscode.commands.executeCommand('airlock.connect');
    const env = await terminalEnvWhere(
      dir,
      'connected',
      (e) => PG_VARS.every((k) => e[k]) && e.PGPORT !== baseline.PGPORT,
      'got the PG* variables and DATABASE_URL',
    );
    const url = new URL(env.DATABASE_URL!);
    assert.equal(url.protocol, 'postgresql:');
    assert.equal(url.hostname, env.PGHOST);
    assert.equal(url.port, env.PGPORT);
    assert.equal(decodeURIComponent(url.username), env.PGUSER);
    assert.equal(decodeURIComponent(url.password), env.PGPASSWORD);
    assert.equal(url.pathname, `/${env.PGDATABASE}`);
    assert.match(env.PGHOST!, /^(127\.0\.0\.1|localhost|::1)$/, 'the local listener');
    assert.equal(await countCustomers(env.DATABASE_URL!), 200, 'the URL reaches the demo database');
  });

  it('puts a postgresql:// URL of the local listener on the clipboard (Copy Local Connection String)', async () => {
    await vscode.env.clipboard.writeText('');
    await vscode.commands.executeCommand('airlock.copyConnectionString');
    const text = await vscode.env.clipboard.readText();
    assert.match(text, /^postgresql:\/\/[^:@/]+:[^@/]+@(127\.0\.0\.1|localhost|\[::1\]):\d+\/\w+$/);
    assert.equal(await countCustomers(text), 200, 'the copied URL reaches the demo database');
  });

  it('clears them for new terminals after Disconnect', async () => {
    await vscode.commands.executeCommand('airlock.disconnect');
    await terminalEnvWhere(
      dir,
      'disconnected',
      (e) => PG_VARS.every((k) => e[k] === baseline[k]),
      'lost the PG* variables again (as before Connect)',
    );
  });
});
