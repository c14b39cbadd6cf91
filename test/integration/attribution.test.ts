import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { localBackend, type AgentBackend } from '../../src/agents/backend';
import { languageModelToolAdapters } from '../../src/agents/lm-tools';
import { closeAgentSessions } from '../../src/agents/sessions';
import type { ChainedEvent } from '../../src/core/recording/chain';
import { Journal } from '../../src/core/recording/journal';
import { agentEndpoint } from '../../src/proxy/listeners';
import { CLI, runAirlock } from '../helpers/airlock-cli';
import { sharedCluster } from '../helpers/global-fixtures';
import { at } from '../helpers/json-path';
import { psql, rejection } from '../helpers/policy-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';

/**
 * Issue 11 §7 against the real proxy: an agent name is verified by the secret a connection
 * authenticated with (one per channel: the ordinary client's, the MCP adapter's, the LM tools'), not by
 * what the client says in application_name; a claimed name is marked as claimed in the recording, the
 * exports and `airlock sessions`; allow rules naming agents trust verified channels only; and what a
 * client sends (its name, its SQL) reaches a person's terminal with every control character,
 * terminal escape and bidi override made visible.
 */
const POLICY = `version: 1
name: attribution
rules:
  - name: agents-read
    effect: allow
    when: { kinds: [read], agents: ["mcp:*", "copilot:*"] }
  - name: settings
    effect: allow
    when: { kinds: [session] }
`;
const ESCAPED_NAME = 'mcp:\x1b]0;pwned\x07\u202eevil';
const ESCAPED_SQL = "select '\x1b[2J' as cleared /* \u202e reversed \u2066 */";
/** What must never reach a terminal: C0 (but \n, \t), DEL, C1, bidi overrides and isolates. */
// eslint-disable-next-line no-control-regex -- finding them is the point
const HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/;

describe('attribution: verified channels, claimed names, neutralised output', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-attribution-'));
  const recordings = path.join(dir, 'recordings');
  const policy = path.join(dir, 'attribution.yaml');
  const config = path.join(dir, 'airlock.yaml');
  let p: ProxyUnderTest;
  let lmBackend: AgentBackend;
  const clients: pg.Client[] = [];

  before(async () => {
    assert.ok(existsSync(CLI), 'dist/cli.js is built (npm run build)');
    writeFileSync(policy, POLICY);
    // `airlock sessions` reads the same recordings folder.
    writeFileSync(
      config,
      `policy: read-only\nrecordings: ${recordings}\nconnections: [{name: test, kind: postgres, upstream: "postgres://u@127.0.0.1/db"}]\n`,
    );
    p = await proxyFor(sharedCluster(), { config: { policy, allowUnsignedPolicy: true, recordings } });
    // The extension's LM tools, in the process that runs the listener: the lm-tool channel's secret.
    lmBackend = localBackend(
      {
        endpoints: () => p.proxy.endpoints,
        explain: () => ({ effect: 'deny', text: 'not used here' }),
        maskedColumns: () => ({ columns: [], contentDetectors: false }),
      },
      'lm-tool',
    );
  });
  after(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    if (lmBackend) await closeAgentSessions(lmBackend);
    await p?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(password: string, applicationName: string): Promise<pg.Client> {
    const e = p.endpoint;
    const c = new pg.Client({
      host: e.host,
      port: e.port,
      user: e.user,
      database: e.database,
      password,
      application_name: applicationName,
    });
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  }

  /** The session-start events of the recording, by the agent name they carry. */
  function starts(): ChainedEvent[] {
    return Journal.read(recordings).events.filter((e) => e.type === 'session-start');
  }
  const actorOf = (e: ChainedEvent) => e.data.actor as { agent?: string; channel?: string };

  it('a wrong secret is refused with 28P01; the listener serves no channel to it', async () => {
    const err = await rejection(connect('not-a-listener-secret', 'mcp:guess'), 'a wrong secret');
    assert.equal(err.code, '28P01');
    // The secret of another listener's MCP channel is just as wrong here.
    const other = await proxyFor(sharedCluster());
    try {
      const foreign = agentEndpoint(other.endpoint, 'mcp').password;
      assert.equal((await rejection(connect(foreign, 'mcp:other'), 'a foreign secret')).code, '28P01');
    } finally {
      await other.close();
    }
  });

  it('psql claiming application_name=mcp:evil is recorded as claimed, and an agents: allow rule does not trust it', async () => {
    const r = await psql(sharedCluster(), { ...p.env, PGAPPNAME: 'mcp:evil' }, ['-c', 'select 1']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /airlock: denied.*"mcp:evil" is only claimed/);
    const start = starts().find((e) => actorOf(e).agent === 'mcp:evil');
    assert.ok(start, 'the session is recorded');
    assert.equal(actorOf(start).channel, undefined);
  });

  it('the MCP channel secret verifies the channel; the same name claimed with the client secret is denied (not served from the decision cache)', async () => {
    const name = 'mcp:same-name/1.0';
    // Both connected first: each new session reads the catalog afresh, which alone would keep the
    // second from the first's cached decision; this way only the actor tells them apart.
    const verified = await connect(agentEndpoint(p.proxy.endpoints[0], 'mcp').password, name);
    const claimed = await connect(p.endpoint.password, name);
    assert.deepEqual((await verified.query('select 1 as one')).rows, [{ one: 1 }]);
    const err = await rejection(claimed.query('select 1 as one'), 'a claimed mcp: name');
    assert.equal(err.code, '42501');
    const channels = starts()
      .filter((e) => actorOf(e).agent === name)
      .map((e) => actorOf(e).channel);
    assert.deepEqual(channels, ['mcp', undefined]);
  });

  it('the LM-tool adapter in the listener process is recorded as the lm-tool channel', async () => {
    const runQuery = languageModelToolAdapters(lmBackend).find((a) => a.name === 'airlock_run_query');
    assert.ok(runQuery);
    const out = await runQuery.invoke({ sql: 'select 41 + 1 as answer', connection: 'test' }, 'c0ffee11');
    assert.equal(out.isError, undefined, out.text);
    assert.match(out.text, /42/);
    const start = starts().find((e) => actorOf(e).agent === 'copilot:run_query#c0ffee11');
    assert.ok(start, 'the LM tool session is recorded');
    assert.equal(actorOf(start).channel, 'lm-tool');
  });

  it('escapes in an application_name and in SQL are neutralised in airlock sessions list/show, kept verbatim in the recording and exports', async () => {
    const r = await psql(sharedCluster(), { ...p.env, PGAPPNAME: ESCAPED_NAME }, ['-c', ESCAPED_SQL]);
    assert.notEqual(r.code, 0, 'a claimed name is not allowed by the agents rule');
    const start = starts().find((e) => actorOf(e).agent === ESCAPED_NAME);
    assert.ok(start, 'the name is recorded verbatim');
    const id = start.sessionId;
    const statement = Journal.read(recordings).events.find(
      (e) => e.sessionId === id && e.type === 'statement',
    );
    assert.equal(statement?.data.sql, ESCAPED_SQL, 'the statement is recorded verbatim');

    const list = await runAirlock(['sessions', 'list', '--config', config]);
    assert.equal(list.code, 0, list.stderr);
    assert.doesNotMatch(list.stdout, HIDDEN);
    const row = list.stdout.split('\n').find((l) => l.startsWith(id.slice(0, 8)));
    assert.ok(row, list.stdout);
    assert.match(row, /mcp:\\x1b\]0;pwned\\x07\\u202eevil\s+claimed\s/);
    const mcpRow = list.stdout
      .split('\n')
      .find((l) => /mcp:same-name\/1\.0\s+verified: MCP channel; client name claimed/.test(l));
    assert.ok(mcpRow, `the verified MCP session is listed as such\n${list.stdout}`);

    const show = await runAirlock(['sessions', 'show', id.slice(0, 12), '--config', config]);
    assert.equal(show.code, 0, show.stderr);
    assert.doesNotMatch(show.stdout, HIDDEN);
    assert.match(show.stdout, /via mcp:\\x1b\]0;pwned\\x07\\u202eevil \(claimed\)/);
    assert.match(show.stdout, /select '\\x1b\[2J' as cleared \/\* \\u202e reversed \\u2066 \*\//);

    // Exports are data: verbatim, and the attribution is a field.
    const jsonl = await runAirlock(['sessions', 'export', id, '--format', 'jsonl', '--config', config]);
    const events = jsonl.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ChainedEvent);
    assert.equal(at(events[0], 'data.actor.agent'), ESCAPED_NAME);
    assert.equal(at(events[0], 'data.actor.channel'), undefined);
    const ocsf = await runAirlock(['sessions', 'export', id, '--format', 'ocsf', '--config', config]);
    const logon = JSON.parse(ocsf.stdout.split('\n')[0]) as Record<string, unknown>;
    assert.equal(at(logon, 'actor.app_name'), ESCAPED_NAME);
    assert.deepEqual(at(logon, 'unmapped.airlock.agent'), { name: ESCAPED_NAME, name_claimed: true });
    const verifiedId = starts().find((e) => actorOf(e).channel === 'lm-tool')?.sessionId;
    assert.ok(verifiedId);
    const lm = await runAirlock(['sessions', 'export', verifiedId, '--format', 'ocsf', '--config', config]);
    assert.deepEqual(at(JSON.parse(lm.stdout.split('\n')[0]), 'unmapped.airlock.agent'), {
      name: 'copilot:run_query#c0ffee11',
      verified_channel: 'lm-tool',
      name_claimed: false,
    });
  });
});
