import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AgentBackend } from '../../src/agents/backend';
import { channelBackend } from '../../src/ipc/channel-backend';
import { languageModelToolAdapters, type LanguageModelToolAdapter } from '../../src/agents/lm-tools';
import { closeAgentSessions } from '../../src/agents/sessions';
import type { ChainedEvent } from '../../src/core/recording/chain';
import { Journal } from '../../src/core/recording/journal';
import { recordedText } from '../../src/core/sql/recorded-text';
import { loadSqlParser } from '../../src/core/sql/parser';
import { ControlChannelClient } from '../../src/ipc/control-channel';
import { sharedCluster } from '../helpers/global-fixtures';
import { loadDemoDatabase } from '../helpers/masking-fixtures';
import { directPg, dropDatabase, psql, repoRoot } from '../helpers/policy-fixtures';
import { CLI, untilReady } from '../helpers/airlock-cli';
import type { ReadyFile } from '../../src/cli/ready-file';

/**
 * Issue 7's "Done when": an MCP client, a Copilot language-model tool call and psql in an Airlock
 * terminal, issuing the same statements through one running `airlock proxy`, get the same decisions and
 * the same masking, and the recording shows three different agents for one human.
 *
 * (a) the MCP SDK's client drives `airlock mcp --config F`, which finds the proxy's control channel;
 * (b) the LM-tool adapter the extension registers (`languageModelToolAdapters`) runs in this process on
 *     a backend that reaches the proxy over its control channel (`channelBackend`), with the invocation
 *     id the extension would pass;
 * (c) real psql with the listener's PG* settings from the ready file (it names itself `psql`).
 */
const DB = 'three_agents_demo';
const CONNECTION = 'shop';
const CLIENT_INFO = { name: 'three-agents-test', version: '7.0.0' };
const MCP_AGENT = 'mcp:three-agents-test/7.0.0';
/** What the extension passes as the invocation id (randomUUID().slice(0, 8) per chat request). */
const INVOCATION_ID = 'c0ffee07';
/** `lmToolAgentName(tool.name, id)`: the tool's own name, not VS Code's prefixed `airlock_run_query`. */
const COPILOT_AGENT = `copilot:run_query#${INVOCATION_ID}`;
const PSQL_AGENT = 'psql';

const MASKED_READ = 'select id, email, full_name, ssn from customers order by id limit 5';
const COMPUTE_ON_MASKED = 'select upper(email) from customers';
const WRITE = "delete from customers where city = 'Nowhere'";
const STATEMENTS = [MASKED_READ, COMPUTE_ON_MASKED, WRITE];

type Agent = 'mcp' | 'copilot' | 'psql';
const AGENTS: Agent[] = ['mcp', 'copilot', 'psql'];

/** What one agent saw of one statement, reduced to what must agree across agents. */
type Seen =
  | { ok: true; rows: string[][]; raw: string }
  | { ok: false; message: string; rule: string | undefined; raw: string };

/** The rows of a tool's Markdown table (`| a | b |` lines after the header and separator). */
function tableRows(out: string): string[][] {
  const lines = out.split('\n').filter((l) => l.startsWith('| '));
  return lines.slice(1).map((l) =>
    l
      .slice(2, -2)
      .split(' | ')
      .map((c) => c.replace(/\\\|/g, '|')),
  );
}

/** A tool's output (MCP text or LM-tool text) as Seen. */
function fromToolText(out: string, isError: boolean | undefined): Seen {
  if (!isError) return { ok: true, rows: tableRows(out), raw: out };
  return {
    ok: false,
    message: out.split('\n')[0],
    rule: /^DETAIL: Rule: (\S+)$/m.exec(out)?.[1],
    raw: out,
  };
}

const text = (r: unknown) =>
  ((r as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('three agents, one human: MCP, a Copilot LM tool and psql through one airlock proxy', function () {
  this.timeout(180_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-three-agents-'));
  // A runtime directory of this test's own: control channels never meet a developer's real ones.
  const runtime = mkdtempSync(path.join(os.tmpdir(), 'airlock-three-agents-run-'));
  const recordings = path.join(dir, 'recordings');
  const config = path.join(dir, 'airlock.yaml');
  const ready = path.join(dir, 'ready.json');
  const env = { ...process.env, XDG_RUNTIME_DIR: runtime, AIRLOCK_THREE_AGENTS_PW: '' } as Record<
    string,
    string
  >;

  let proxy: ChildProcess | null = null;
  let proxyLog = '';
  let mcp: Client | null = null;
  let mcpStderr = '';
  let channel: ControlChannelClient | null = null;
  const channels: ControlChannelClient[] = [];
  let backend: AgentBackend | null = null;
  let runQuery: LanguageModelToolAdapter;
  let listener: ReadyFile['connections'][number];
  let realEmails: string[] = [];
  let realSsns: string[] = [];
  const seen: Record<Agent, Map<string, Seen>> = { mcp: new Map(), copilot: new Map(), psql: new Map() };

  before(async function () {
    this.timeout(120_000);
    const cluster = sharedCluster();
    env.AIRLOCK_THREE_AGENTS_PW = cluster.password;
    assert.ok(existsSync(CLI), 'dist/cli.js is built by npm test (npm run build)');
    await loadSqlParser(); // recordedText, for the statements' recorded form
    await loadDemoDatabase(cluster, DB);
    const direct = await directPg(cluster, DB);
    try {
      const { rows } = await direct.query<{ email: string; ssn: string }>(
        'select email, ssn from customers order by id limit 5',
      );
      realEmails = rows.map((r) => r.email);
      realSsns = rows.map((r) => r.ssn);
    } finally {
      await direct.end();
    }
    assert.equal(realEmails.length, 5, 'the demo shop has customers');

    writeFileSync(
      config,
      [
        `policy: ${path.join(repoRoot, 'examples', 'policies', 'pii-masking.yaml')}`,
        'allowUnsignedPolicy: true',
        `recordings: ${recordings}`,
        'connections:',
        `  - name: ${CONNECTION}`,
        '    kind: postgres',
        `    upstream: postgres://${cluster.user}@${cluster.host}:${cluster.port}/${DB}?sslmode=require`,
        '    passwordEnv: AIRLOCK_THREE_AGENTS_PW',
        '',
      ].join('\n'),
    );

    // The one Airlock all three agents go through.
    const p = spawn(process.execPath, [CLI, 'proxy', '--config', config, '--ready-file', ready], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proxy = p;
    p.stderr?.on('data', (b: Buffer) => (proxyLog += b.toString()));
    await untilReady(ready, p);
    assert.ok(existsSync(ready), `airlock proxy did not start:\n${proxyLog}`);
    const file = JSON.parse(readFileSync(ready, 'utf8')) as ReadyFile;
    const l = file.connections.find((c) => c.name === CONNECTION);
    assert.ok(
      l,
      `the ready file names the connection: ${JSON.stringify(file.connections.map((c) => c.name))}`,
    );
    listener = l;

    // (a) `airlock mcp` on the same config: it must find the proxy's control channel, not embed its own.
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'mcp', '--config', config],
      env,
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (b: Buffer) => (mcpStderr += b.toString()));
    mcp = new Client(CLIENT_INFO);
    await mcp.connect(transport);

    // (b) The extension's LM tools on a backend served by the proxy over its control channel.
    const connect = async () => {
      const c = await ControlChannelClient.connect(config, { env, client: 'three-agents test (LM tools)' });
      if (c) channels.push(c);
      return c;
    };
    channel = await connect();
    assert.ok(channel, `airlock proxy publishes its control channel\n${proxyLog}`);
    backend = channelBackend(channel, connect);
    const adapter = languageModelToolAdapters(backend).find((a) => a.name === 'airlock_run_query');
    assert.ok(adapter, 'the LM tools include airlock_run_query');
    runQuery = adapter;
  });

  after(async function () {
    this.timeout(60_000);
    await mcp?.close().catch(() => undefined);
    if (backend) await closeAgentSessions(backend).catch(() => undefined);
    for (const c of channels) c.close();
    if (proxy && proxy.exitCode === null && proxy.signalCode === null) {
      const p = proxy;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await dropDatabase(sharedCluster(), DB).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  async function viaMcp(sql: string): Promise<Seen> {
    assert.ok(mcp);
    const r = await mcp.callTool({ name: 'run_query', arguments: { sql } });
    return fromToolText(text(r), r.isError as boolean | undefined);
  }

  async function viaCopilot(sql: string): Promise<Seen> {
    // What the extension's vscode.LanguageModelTool.invoke does, minus the vscode wrapping of the text.
    assert.match(runQuery.invocationMessage({ sql }), new RegExp(`through Airlock:\\n${escapeRe(sql)}$`));
    const out = await runQuery.invoke({ sql }, INVOCATION_ID);
    return fromToolText(out.text, out.isError);
  }

  async function viaPsql(sql: string): Promise<Seen> {
    const r = await psql(
      sharedCluster(),
      {
        PGHOST: listener.host,
        PGPORT: String(listener.port),
        PGUSER: listener.user,
        PGPASSWORD: listener.password,
        PGDATABASE: listener.database,
        PGSSLMODE: 'disable',
      },
      // psql sets application_name to "psql" itself (fallback_application_name).
      ['-A', '-t', '-F', '\t', '-c', sql],
    );
    const raw = `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    if (r.code === 0) {
      const rows = r.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split('\t'));
      return { ok: true, rows, raw };
    }
    const message = /^ERROR: {2}(.*)$/m.exec(r.stderr)?.[1] ?? r.stderr;
    return { ok: false, message, rule: /^DETAIL: {2}Rule: (\S+)$/m.exec(r.stderr)?.[1], raw };
  }

  const via: Record<Agent, (sql: string) => Promise<Seen>> = {
    mcp: viaMcp,
    copilot: viaCopilot,
    psql: viaPsql,
  };

  it('airlock mcp uses the running proxy through its control channel', () => {
    assert.match(mcpStderr, /using the Airlock running .*airlock\.yaml .* through its control channel/);
    assert.doesNotMatch(mcpStderr, /running Airlock embedded/);
  });

  for (const agent of AGENTS) {
    it(`${agent} issues the three statements`, async () => {
      for (const sql of STATEMENTS) seen[agent].set(sql, await via[agent](sql));
    });
  }

  it('the masked read returns the same masked values to all three, none of them real', () => {
    const results = AGENTS.map((a) => [a, seen[a].get(MASKED_READ)] as const);
    for (const [agent, r] of results) {
      assert.ok(r, `${agent} ran the read`);
      assert.ok(r.ok, `${agent}: the read is allowed\n${r.raw}`);
      assert.equal(r.rows.length, 5, `${agent}: five rows\n${r.raw}`);
      for (const [i, row] of r.rows.entries()) {
        assert.equal(row.length, 4, `${agent}: four columns\n${r.raw}`);
        const [id, email, fullName, ssn] = row;
        assert.equal(id, String(i + 1), `${agent}: rows in id order\n${r.raw}`);
        const real = realEmails[i];
        assert.notEqual(email, real, `${agent}: the real e-mail ${real} came back`);
        assert.equal(email, `***${real.slice(real.indexOf('@'))}`, `${agent}: e-mail masked as partial`);
        assert.equal(fullName, '[REDACTED]', `${agent}: full_name redacted\n${r.raw}`);
        assert.ok(ssn.length > 0 && ssn !== realSsns[i], `${agent}: ssn hashed, got ${ssn}`);
      }
      for (const real of [...realEmails, ...realSsns])
        assert.ok(!r.raw.includes(real), `${agent}: ${real} leaked`);
    }
    const [, mcpRead] = results[0];
    assert.ok(mcpRead?.ok);
    for (const [agent, r] of results.slice(1)) {
      assert.ok(r?.ok);
      assert.deepEqual(r.rows, mcpRead.rows, `${agent} saw other masked values than mcp`);
    }
  });

  for (const [what, sql, rule] of [
    ['computing on a masked column', COMPUTE_ON_MASKED, 'masking'],
    ['a write', WRITE, undefined],
  ] as const) {
    it(`${what} is denied for all three, with the same reason and rule`, () => {
      const results = AGENTS.map((a) => [a, seen[a].get(sql)] as const);
      for (const [agent, r] of results) {
        assert.ok(r, `${agent} ran ${sql}`);
        assert.ok(!r.ok, `${agent}: ${sql} was not denied\n${r.raw}`);
        assert.match(r.message, /^airlock: denied: \S/, `${agent}\n${r.raw}`);
        assert.ok(r.rule, `${agent}: the denial names its rule\n${r.raw}`);
        if (rule) assert.equal(r.rule, rule, `${agent}\n${r.raw}`);
      }
      const [, first] = results[0];
      assert.ok(first && !first.ok);
      for (const [agent, r] of results.slice(1)) {
        assert.ok(r && !r.ok);
        assert.equal(r.message, first.message, `${agent}'s denial reads differently from mcp's`);
        assert.equal(r.rule, first.rule, `${agent} was denied by another rule than mcp`);
      }
    });
  }

  it('the recording: three agents for one human, each statement decided alike for each', async function () {
    this.timeout(60_000);
    // End the agents' sessions, then stop the proxy so every event is written.
    await mcp?.close();
    mcp = null;
    if (backend) await closeAgentSessions(backend);
    for (const c of channels) c.close();
    assert.ok(proxy);
    const p = proxy;
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    assert.equal(p.exitCode, 0, `airlock proxy stopped with ${p.exitCode ?? p.signalCode}\n${proxyLog}`);

    const { events, damaged } = Journal.read(recordings);
    assert.deepEqual(damaged, []);
    const starts = events.filter((e) => e.type === 'session-start');
    const actorOf = (e: ChainedEvent) =>
      e.data.actor as { user?: string; groups?: string[]; agent?: string; channel?: string } | undefined;
    assert.ok(starts.length >= 3, `at least three sessions, got ${starts.length}`);
    const agents = [...new Set(starts.map((e) => actorOf(e)?.agent))].sort();
    assert.deepEqual(agents, [COPILOT_AGENT, MCP_AGENT, PSQL_AGENT].sort());
    const users = [...new Set(starts.map((e) => actorOf(e)?.user))];
    assert.deepEqual(users, [os.userInfo().username], 'one and the same human behind all three');
    assert.equal(
      starts.filter((e) => actorOf(e)?.agent === MCP_AGENT).length,
      1,
      'the MCP client has one session',
    );
    assert.equal(
      starts.filter((e) => actorOf(e)?.agent === COPILOT_AGENT).length,
      1,
      'the LM-tool calls of one invocation share one session',
    );

    // Attribution is verified, not claimed: the MCP client and this LM-tool adapter hold the MCP channel's
    // secret (given by the control channel they reach the proxy through), psql the ordinary client's one,
    // so its name is only claimed. (In VS Code the LM tools run in the extension host, with the
    // lm-tool channel's secret: attribution.test.ts.)
    const channelOf = new Map(starts.map((e) => [actorOf(e)?.agent, actorOf(e)?.channel]));
    assert.deepEqual(Object.fromEntries(channelOf), {
      [MCP_AGENT]: 'mcp',
      [COPILOT_AGENT]: 'mcp',
      [PSQL_AGENT]: undefined,
    });

    const agentOfSession = new Map(starts.map((e) => [e.sessionId, actorOf(e)?.agent]));
    // A statement is recorded verbatim, or without its literals when it computes, filters or writes with
    // a masked column (`upper(email)` has none to lose).
    const statementOf = (recorded: string) =>
      STATEMENTS.find((sql) => recorded === sql || recorded === recordedText(sql, true));
    type Decided = { decision: unknown; rule: unknown; reason: unknown; literalsRedacted: unknown };
    const decisions = new Map<string, Map<string, Decided>>();
    const samples = new Map<string, unknown>();
    for (const e of events) {
      if (e.type !== 'statement') continue;
      const agent = agentOfSession.get(e.sessionId);
      assert.ok(agent, `statement of an unknown session ${e.sessionId}`);
      const sql = statementOf(String(e.data.sql));
      if (!sql) continue;
      let m = decisions.get(agent);
      if (!m) decisions.set(agent, (m = new Map()));
      assert.ok(!m.has(sql), `${agent} recorded ${sql} once`);
      m.set(sql, {
        decision: e.data.decision,
        rule: e.data.rule,
        reason: e.data.reason,
        literalsRedacted: e.data.literalsRedacted,
      });
      if (sql === MASKED_READ && e.data.sample) samples.set(agent, e.data.sample);
    }
    const expected = new Map([
      [MASKED_READ, 'allow'],
      [COMPUTE_ON_MASKED, 'deny'],
      [WRITE, 'deny'],
    ]);
    const reference = decisions.get(MCP_AGENT);
    assert.ok(reference, `mcp's statements are recorded\n${JSON.stringify([...decisions.keys()])}`);
    for (const agent of [MCP_AGENT, COPILOT_AGENT, PSQL_AGENT]) {
      const m = decisions.get(agent);
      assert.ok(m, `${agent}'s statements are recorded`);
      for (const [sql, decision] of expected) {
        const d = m.get(sql);
        assert.ok(d, `${agent}: ${sql} is recorded`);
        assert.equal(d.decision, decision, `${agent}: ${sql}`);
        assert.deepEqual(d, reference.get(sql), `${agent} decided ${sql} unlike mcp`);
      }
    }
    // The denials recorded are the ones the clients were told.
    for (const sql of [COMPUTE_ON_MASKED, WRITE]) {
      const told = seen.mcp.get(sql);
      assert.ok(told && !told.ok);
      assert.equal(reference.get(sql)?.rule, told.rule, `the rule recorded for ${sql}`);
    }
    // What the recording kept of the masked rows is the same for all three (when it keeps samples).
    if (samples.size > 0) {
      assert.equal(samples.size, 3, `a sample for every agent or none: ${[...samples.keys()].join(', ')}`);
      const [first, ...rest] = [...samples.values()];
      for (const s of rest) assert.deepEqual(s, first);
      for (const real of realEmails) assert.ok(!JSON.stringify(first).includes(real), `${real} recorded`);
    }
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
