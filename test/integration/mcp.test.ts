import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Journal } from '../../src/core/recording/journal';
import {
  ControlChannelClient,
  ControlChannelError,
  type PendingReviewInfo,
} from '../../src/ipc/control-channel';
import { sharedCluster } from '../helpers/global-fixtures';
import { directPg, dropDatabase, freshDatabase, repoRoot } from '../helpers/policy-fixtures';
import { CLI, runAirlock, untilReady } from '../helpers/airlock-cli';
import { loadDemoDatabase } from '../helpers/masking-fixtures';

/**
 * `airlock mcp` driven by the MCP SDK's own client over stdio, against the real PostgreSQL of the test
 * cluster: the tools reach the database only through Airlock's listener (gate, masking, recording), both
 * embedded and through a running `airlock proxy`'s control channel, where a write waits for review and
 * is approved through the channel.
 */
const DEMO_DB = 'mcp_demo';
const WRITES_DB = 'mcp_writes';
const CLIENT_INFO = { name: 'airlock-mcp-test', version: '9.9.9' };
const AGENT = 'mcp:airlock-mcp-test/9.9.9';

const text = (r: unknown) =>
  ((r as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('airlock mcp (MCP server over the gate)', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-mcp-test-'));
  // A runtime directory of this test's own: control channels never meet a developer's real ones.
  const runtime = mkdtempSync(path.join(os.tmpdir(), 'airlock-mcp-run-'));
  const env = { ...process.env, XDG_RUNTIME_DIR: runtime, AIRLOCK_MCP_TEST_PW: '' } as Record<string, string>;
  const children: ChildProcess[] = [];
  const clients: Client[] = [];

  before(async () => {
    const cluster = sharedCluster();
    env.AIRLOCK_MCP_TEST_PW = cluster.password;
    assert.ok(existsSync(CLI), 'dist/cli.js is built by npm test (npm run build)');
    await loadDemoDatabase(cluster, DEMO_DB);
    await freshDatabase(cluster, WRITES_DB, 'create table t (id int primary key, note text);');
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const p of children) p.kill('SIGKILL');
    await dropDatabase(sharedCluster(), DEMO_DB);
    await dropDatabase(sharedCluster(), WRITES_DB);
    rmSync(dir, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  function writeConfig(name: string, policy: string, database: string): string {
    const cluster = sharedCluster();
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      [
        `policy: ${path.join(repoRoot, 'examples', 'policies', policy)}`,
        'allowUnsignedPolicy: true',
        `recordings: ${path.join(dir, `${name}-recordings`)}`,
        'connections:',
        `  - name: ${name}`,
        '    kind: postgres',
        `    upstream: postgres://${cluster.user}@${cluster.host}:${cluster.port}/${database}?sslmode=require`,
        '    passwordEnv: AIRLOCK_MCP_TEST_PW',
        '',
      ].join('\n'),
    );
    return file;
  }

  const cli = (args: string[]) => runAirlock(args, { env });

  async function mcpClient(config: string): Promise<{ client: Client; stderr: () => string }> {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'mcp', '--config', config],
      env,
      stderr: 'pipe',
    });
    let err = '';
    transport.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    const client = new Client(CLIENT_INFO);
    clients.push(client);
    await client.connect(transport);
    return { client, stderr: () => err };
  }

  describe('embedded (no Airlock running the config), under pii-masking', () => {
    let client: Client;
    let stderr: () => string;
    before(async () => {
      ({ client, stderr } = await mcpClient(writeConfig('shop', 'pii-masking.yaml', DEMO_DB)));
    });

    it('lists the four tools with their JSON Schemas', async () => {
      const { tools } = await client.listTools();
      assert.deepEqual(
        tools.map((t) => t.name),
        ['list_connections', 'describe_schema', 'run_query', 'explain_query'],
      );
      const run = tools.find((t) => t.name === 'run_query');
      assert.deepEqual(run?.inputSchema.required, ['sql']);
      assert.match(run?.description ?? '', /airlock: denied/);
      assert.equal(run?.annotations?.readOnlyHint, false);
      assert.match(stderr(), /running Airlock embedded/);
    });

    it('list_connections names the connection', async () => {
      const r = await client.callTool({ name: 'list_connections', arguments: {} });
      assert.equal(r.isError, undefined);
      assert.match(text(r), /- shop \(postgres, database mcp_demo\)/);
    });

    it('describe_schema marks the masked columns with their masks', async () => {
      const r = await client.callTool({ name: 'describe_schema', arguments: { table: 'customers' } });
      const out = text(r);
      assert.equal(r.isError, undefined, out);
      assert.match(out, /^public\.customers \(table\)$/m);
      assert.match(out, /^ {2}email text not null — masked \(partial\)$/m);
      assert.match(out, /^ {2}full_name text( not null)? — masked \(redact\)$/m);
      assert.match(out, /^ {2}ssn \S+( not null)? — masked \(hash\)$/m);
      assert.match(out, /^ {2}city text( not null)?$/m, `an unmasked column is not marked:\n${out}`);
      assert.match(out, /scanned for personal data/);
      // The view over customers is listed with its masked columns too.
      const all = text(await client.callTool({ name: 'describe_schema', arguments: {} }));
      assert.match(all, /^public\.customer_contacts \(view\)$/m);
      assert.match(all, /customer_contacts \(view\)\n(?: {2}.*\n)*? {2}email text — masked \(partial\)/);
    });

    it('run_query returns masked rows as a table with the row count', async () => {
      const direct = await directPg(sharedCluster(), DEMO_DB);
      let real: string[];
      try {
        real = (await direct.query('select email from customers order by id limit 3')).rows.map(
          (r) => r.email,
        );
      } finally {
        await direct.end();
      }
      const r = await client.callTool({
        name: 'run_query',
        arguments: { sql: 'select id, email, city from customers order by id limit 3' },
      });
      const out = text(r);
      assert.equal(r.isError, undefined, out);
      const lines = out.split('\n');
      assert.equal(lines[0], '| id | email | city |');
      assert.equal(lines.length, 6, out);
      for (const [i, email] of real.entries()) {
        assert.ok(!out.includes(email), `the real e-mail ${email} leaked`);
        assert.match(
          lines[2 + i],
          new RegExp(
            `^\\| ${i + 1} \\| \\*\\*\\*${email.slice(email.indexOf('@')).replace(/\./g, '\\.')} \\| `,
          ),
        );
      }
      assert.equal(lines[5], '(3 rows)');
    });

    it('the row cap keeps the first rows and counts them all', async () => {
      const r = await client.callTool({
        name: 'run_query',
        arguments: { sql: 'select id from customers order by id', maxRows: 2 },
      });
      const out = text(r);
      const direct = await directPg(sharedCluster(), DEMO_DB);
      const total = (await direct.query('select count(*)::int as n from customers')).rows[0].n as number;
      await direct.end();
      assert.match(out, new RegExp(`\\(${total} rows; showing the first 2 \\(row cap 2`));
      assert.equal(out.split('\n').filter((l) => /^\| \d+ \|$/.test(l)).length, 2);
    });

    it('a denied statement returns the airlock: denied reason as an error result', async () => {
      const r = await client.callTool({
        name: 'run_query',
        arguments: { sql: 'select upper(email) from customers' },
      });
      assert.equal(r.isError, true);
      const out = text(r);
      assert.match(out, /^airlock: denied: the statement computes on it/);
      assert.match(out, /masked column customers\.email/);
      assert.match(out, /^DETAIL: Rule: masking$/m);
      assert.match(out, /^HINT: /m);
      assert.match(out, /Do not try to get around the denial/);
      // The session goes on.
      const again = await client.callTool({ name: 'run_query', arguments: { sql: 'select 1 as one' } });
      assert.equal(text(again), '| one |\n|---|\n| 1 |\n(1 row)');
    });

    it('a write is denied by the policy, before it reaches the database', async () => {
      const r = await client.callTool({
        name: 'run_query',
        arguments: { sql: "delete from customers where city = 'x'" },
      });
      assert.equal(r.isError, true);
      assert.match(text(r), /^airlock: denied/);
    });

    it('explain_query: the decision without running it, and the plan when EXPLAIN is allowed', async () => {
      const denied = text(
        await client.callTool({
          name: 'explain_query',
          arguments: { sql: 'select upper(email) from customers' },
        }),
      );
      assert.match(denied, /masking +DENY: the statement computes on it/);
      assert.match(denied, /request with masking: DENY/);
      assert.match(denied, /Query plan: not fetched/);
      const allowed = text(
        await client.callTool({
          name: 'explain_query',
          arguments: { sql: 'select id, city from customers where id < 10' },
        }),
      );
      assert.match(allowed, /decision +ALLOW by rule "reads"/);
      assert.match(allowed, /Query plan \(EXPLAIN, through Airlock\):\n.*Scan/);
    });

    it('a malformed tool call gets an MCP Invalid params error naming the problem', async () => {
      await assert.rejects(client.callTool({ name: 'run_query', arguments: { sql: 42 } }), (err: unknown) => {
        assert.ok(err instanceof McpError, String(err));
        assert.equal(err.code, ErrorCode.InvalidParams);
        assert.match(err.message, /invalid arguments for tool run_query: "sql" must be string/);
        return true;
      });
      await assert.rejects(
        client.callTool({ name: 'run_query', arguments: {} }),
        /missing required argument "sql"/,
      );
      await assert.rejects(client.callTool({ name: 'drop_database', arguments: {} }), (err: unknown) => {
        assert.ok(err instanceof McpError);
        assert.equal(err.code, ErrorCode.InvalidParams);
        assert.match(err.message, /unknown tool "drop_database"/);
        return true;
      });
      // The server is still there.
      assert.equal(
        (await client.callTool({ name: 'run_query', arguments: { sql: 'select 2 as two' } })).isError,
        undefined,
      );
    });
  });

  describe('through a running airlock proxy (control channel), under approve-writes', () => {
    let proxy: ChildProcess;
    let config: string;
    let proxyLog = '';
    before(async () => {
      config = writeConfig('writes', 'approve-writes.yaml', WRITES_DB);
      const ready = path.join(dir, 'writes.ready.json');
      proxy = spawn(process.execPath, [CLI, 'proxy', '--config', config, '--ready-file', ready], {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.push(proxy);
      proxy.stderr?.on('data', (b: Buffer) => (proxyLog += b.toString()));
      await untilReady(ready, proxy);
      assert.ok(existsSync(ready), `airlock proxy did not start:\n${proxyLog}`);
    });
    after(async () => {
      if (proxy.exitCode === null) {
        proxy.kill('SIGTERM');
        await new Promise((r) => proxy.once('exit', r));
      }
    });

    it('a write waits for review, is approved through the control channel, then succeeds; the recording names the MCP client', async () => {
      const { client, stderr } = await mcpClient(config);
      assert.match(stderr(), /using the Airlock running .*writes\.yaml .* through its control channel/);

      // A reviewer on the control channel (as VS Code's approval panel would be).
      const reviewer = await ControlChannelClient.connect(config, { env, client: 'test reviewer' });
      assert.ok(reviewer, 'airlock proxy publishes its control channel');
      const arrivals: PendingReviewInfo[][] = [];
      await reviewer.watchApprovals((p) => arrivals.push(p));
      try {
        const sql = "insert into t values (1, 'approved through the channel')";
        let settled = false;
        const call = client
          .callTool({ name: 'run_query', arguments: { sql } })
          .finally(() => (settled = true));
        for (let i = 0; i < 200 && !arrivals.some((a) => a.length); i++)
          await new Promise((r) => setTimeout(r, 50));
        const pending = arrivals.find((a) => a.length)?.[0];
        assert.ok(pending, `no review request arrived\n${proxyLog}`);
        assert.equal(pending.sql, sql);
        assert.equal(pending.rule, 'writes-need-review');
        assert.equal(pending.connection, 'writes');
        assert.equal(pending.actor.agent, AGENT);
        // It connected with the MCP channel's secret, which it got over the authenticated control channel.
        assert.equal(pending.actor.channel, 'mcp');
        assert.equal(pending.actor.user, os.userInfo().username);
        assert.ok(pending.deadline > Date.now());
        assert.match(
          proxyLog,
          /review .* needed \(rule writes-need-review\) for .* via mcp:airlock-mcp-test\/9\.9\.9/,
        );

        // Held at the proxy: nothing reached the database yet.
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(settled, false, 'the write finished before it was approved');
        const direct = await directPg(sharedCluster(), WRITES_DB);
        try {
          assert.deepEqual((await direct.query('select count(*)::int as n from t')).rows, [{ n: 0 }]);
          assert.equal(await reviewer.decide(pending.id, pending.nonce, 'approve-once'), true);
          const r = await call;
          assert.equal(r.isError, undefined, text(r));
          assert.equal(text(r), 'INSERT: 1 row affected');
          assert.deepEqual((await direct.query('select id, note from t')).rows, [
            { id: 1, note: 'approved through the channel' },
          ]);
        } finally {
          await direct.end();
        }

        // A reviewer's "no" comes back to the model as the denial.
        const denied = client.callTool({ name: 'run_query', arguments: { sql: 'delete from t' } });
        for (let i = 0; i < 200 && !arrivals.at(-1)?.some((p) => p.sql === 'delete from t'); i++)
          await new Promise((r) => setTimeout(r, 50));
        const del = arrivals.at(-1)?.find((p) => p.sql === 'delete from t');
        assert.ok(del);
        assert.equal(await reviewer.decide(del.id, del.nonce, 'deny', 'keep the row'), true);
        const d = await denied;
        assert.equal(d.isError, true);
        assert.match(text(d), /^airlock: denied: a reviewer \(.*\) denied it: keep the row/);
      } finally {
        reviewer.close();
      }

      await client.close();
      proxy.kill('SIGTERM');
      await new Promise((r) => proxy.once('exit', r));
      const { events } = Journal.read(path.join(dir, 'writes-recordings'));
      const starts = events.filter(
        (e) =>
          e.type === 'session-start' && (e.data.actor as { agent?: string } | undefined)?.agent === AGENT,
      );
      assert.equal(starts.length, 1, 'one agent session for the MCP client');
      assert.equal((starts[0].data.actor as { channel?: string }).channel, 'mcp', 'a verified channel');
      const statements = events.filter((e) => e.sessionId === starts[0].sessionId && e.type === 'statement');
      const insert = statements.find((e) => String(e.data.sql).startsWith('insert into t'));
      assert.ok(insert, JSON.stringify(statements.map((e) => e.data.sql)));
      assert.equal(insert.data.decision, 'allow');
      assert.equal((insert.data.review as { outcome?: string }).outcome, 'approved');
      const del = statements.find((e) => e.data.sql === 'delete from t');
      assert.equal(del?.data.decision, 'deny');
    });

    it('a wrong control-channel token is refused', async function () {
      if (proxy.exitCode !== null) {
        // The previous test stopped the proxy to read its recording: start it again.
        const ready = path.join(dir, 'writes.ready2.json');
        proxy = spawn(process.execPath, [CLI, 'proxy', '--config', config, '--ready-file', ready], {
          env,
          stdio: 'ignore',
        });
        children.push(proxy);
        await untilReady(ready, proxy);
      }
      await assert.rejects(
        ControlChannelClient.connect(config, { env, token: 'not-the-token' }),
        (err: unknown) => err instanceof ControlChannelError && err.code === 'unauthorized',
      );
      const ok = await ControlChannelClient.connect(config, { env });
      assert.ok(ok);
      assert.equal(ok.hello.endpoints[0].name, 'writes');
      ok.close();
    });

    it('airlock approvals lists a waiting write and approves it by id prefix', async () => {
      const { client } = await mcpClient(config);
      const sql = "insert into t values (2, 'approved with airlock approvals')";
      const call = client.callTool({ name: 'run_query', arguments: { sql } });
      let listed: { code: number | null; stdout: string; stderr: string } = {
        code: -1,
        stdout: '',
        stderr: '',
      };
      for (let i = 0; i < 100; i++) {
        listed = await cli(['approvals', '--config', config]);
        if (listed.stdout.includes(sql)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(listed.code, 0, listed.stderr);
      const line = listed.stdout.split('\n')[0];
      assert.match(
        line,
        new RegExp(
          `^\\S+ {2}\\[writes\\] .* via ${AGENT.replace(/[./]/g, '\\$&')} \\(verified: MCP channel; client name claimed\\), rule writes-need-review, \\d+s left$`,
        ),
      );
      assert.match(listed.stdout, /insert into t values \(2/);
      const id = line.split(' ')[0];
      const approved = await cli(['approvals', 'approve', id.slice(0, 8), '--config', config]);
      assert.equal(approved.code, 0, approved.stderr);
      assert.equal(approved.stdout, `approve-once: ${id}\n`);
      assert.equal(text(await call), 'INSERT: 1 row affected');
      const none = await cli(['approvals', '--config', config]);
      assert.equal(none.stdout, 'no statement is waiting for review\n');
      const missing = await cli(['approvals', 'deny', 'nope', '--config', config]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no request "nope" is waiting/);
    });
  });
});
