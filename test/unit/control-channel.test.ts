import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApprovalQueue } from '../../src/core/approvals/queue';
import type { ApprovalRequest } from '../../src/core/approvals/broker';
import { silentLogger } from '../../src/core/log';
import type { LocalEndpoint } from '../../src/proxy/listeners';
import {
  ControlChannelClient,
  ControlChannelError,
  ControlChannelInUseError,
  controlChannelPaths,
  ensurePrivateDir,
  parseControlRequest,
  startControlChannel,
  type ControlChannel,
  type PendingReviewInfo,
} from '../../src/ipc/control-channel';

const posix = process.platform !== 'win32';

describe('control channel: protocol validation', () => {
  const bad = (line: string) => {
    const r = parseControlRequest(line);
    assert.equal(r.ok, false, line);
    return r.ok ? '' : r.message;
  };

  it('accepts each op with its arguments', () => {
    const ok = [
      '{"id":1,"op":"hello","args":{"token":"t"}}',
      '{"id":"x","op":"connections"}',
      '{"id":2,"op":"endpoint","args":{"connection":"shop"}}',
      '{"id":3,"op":"explain","args":{"connection":"shop","sql":"select 1","agent":"mcp:x/1"}}',
      '{"id":4,"op":"maskedColumns","args":{"connection":"shop"}}',
      '{"id":5,"op":"approvals.watch","args":{}}',
      '{"id":6,"op":"approvals.decide","args":{"id":"r","nonce":"n","decision":"approve-session"}}',
      '{"id":7,"op":"approvals.decide","args":{"id":"r","nonce":"n","decision":"deny","reason":"no"}}',
    ];
    for (const line of ok) assert.equal(parseControlRequest(line).ok, true, line);
  });

  it('refuses what is not a request, with a message saying why', () => {
    assert.equal(bad('{not json'), 'not JSON');
    assert.match(bad('{"op":"hello"}'), /must have required property 'id'/);
    assert.match(bad('[1,2]'), /must be object/);
    assert.match(bad('{"id":1,"op":"hello","extra":1}'), /must NOT have additional properties/);
    assert.equal(bad('{"id":1,"op":"shutdown"}'), 'unknown op "shutdown"');
    assert.equal(bad('{"id":1,"op":"toString"}'), 'unknown op "toString"');
    assert.equal(bad('{"id":1,"op":"hello","args":{}}'), 'hello: missing argument "token"');
    assert.equal(
      bad('{"id":1,"op":"hello","args":{"token":""}}'),
      'hello: token must NOT have fewer than 1 characters',
    );
    assert.equal(
      bad('{"id":1,"op":"approvals.decide","args":{"id":"r","nonce":"n","decision":"approve-forever"}}'),
      'approvals.decide: decision must be equal to one of the allowed values',
    );
    assert.equal(
      bad('{"id":1,"op":"approvals.decide","args":{"id":"r","nonce":"n","decision":"deny","why":"x"}}'),
      'approvals.decide: unknown argument "why"',
    );
    assert.equal(
      bad('{"id":1,"op":"explain","args":{"connection":"c","sql":"select 1","agent":7}}'),
      'explain: agent must be string',
    );
    assert.match(
      bad(
        JSON.stringify({
          id: 1,
          op: 'approvals.decide',
          args: { id: 'r', nonce: 'n', decision: 'deny', reason: 'x'.repeat(3000) },
        }),
      ),
      /reason must NOT have more than 2000 characters/,
    );
  });
});

describe('control channel: paths', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-cc-paths-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('a per-user directory; the name is the hash of the real config path', () => {
    const env = { XDG_RUNTIME_DIR: path.join(tmp, 'run') };
    const config = path.join(tmp, 'airlock.yaml');
    writeFileSync(config, '');
    const p = controlChannelPaths(config, env);
    assert.equal(p.dir, path.join(tmp, 'run', 'airlock'));
    assert.match(path.basename(p.socket), /^[0-9a-f]{32}\.sock$/);
    assert.equal(p.token, p.socket.replace(/\.sock$/, '.token'));
    // A relative path or a symlink to the same file finds the same channel; another file another one.
    const link = path.join(tmp, 'link.yaml');
    symlinkSync(config, link);
    assert.equal(controlChannelPaths(link, env).socket, p.socket);
    assert.equal(controlChannelPaths(path.relative(process.cwd(), config), env).socket, p.socket);
    assert.notEqual(controlChannelPaths(path.join(tmp, 'other.yaml'), env).socket, p.socket);
    const fallback = controlChannelPaths(config, {});
    assert.equal(path.dirname(fallback.socket), path.join(os.tmpdir(), `airlock-${process.getuid?.()}`));
  });

  it('the directory is made 0700, and an existing one loses group/other access', function () {
    if (!posix) this.skip();
    const dir = path.join(tmp, 'private');
    ensurePrivateDir(dir);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    chmodSync(dir, 0o755);
    ensurePrivateDir(dir);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const file = path.join(tmp, 'file');
    writeFileSync(file, '');
    assert.throws(() => ensurePrivateDir(file), /is not a directory/);
  });
});

describe('control channel: server and client', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-cc-'));
  const env = { XDG_RUNTIME_DIR: tmp };
  const config = path.join(tmp, 'airlock.yaml');
  writeFileSync(config, 'connections: []\n');
  const endpoint: LocalEndpoint = {
    name: 'shop',
    kind: 'postgres',
    host: '127.0.0.1',
    port: 5999,
    user: 'app',
    password: 'client-secret',
    database: 'shop',
    agentPasswords: { mcp: 'mcp-secret', 'lm-tool': 'lm-tool-secret' },
  };
  // A channel client is served as the MCP adapter: its secret only, never the client's or the LM tools'.
  const served: LocalEndpoint = {
    name: 'shop',
    kind: 'postgres',
    host: '127.0.0.1',
    port: 5999,
    user: 'app',
    password: 'mcp-secret',
    database: 'shop',
  };
  let approvals: ApprovalQueue;
  let channel: ControlChannel;
  const clients: ControlChannelClient[] = [];
  const connect = async (options: { token?: string } = {}) => {
    const c = await ControlChannelClient.connect(config, { env, ...options });
    assert.ok(c, 'the channel is published');
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    approvals = new ApprovalQueue(() => 'reviewer');
    channel = await startControlChannel({
      configFile: config,
      env,
      connections: () => ['shop', 'later'],
      endpoints: () => [endpoint],
      explain: (connection, sql, agent) => ({
        effect: 'allow',
        text: `${connection}|${sql}|${agent?.name}|${agent?.channel}`,
      }),
      maskedColumns: () => ({
        columns: [{ relation: 'public.c', column: 'email', mask: 'partial' }],
        contentDetectors: true,
      }),
      approvals,
      log: silentLogger,
    });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await channel.close();
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('socket 0600 and token 0600 in a 0700 directory', function () {
    if (!posix) this.skip();
    assert.equal(statSync(channel.paths.dir).mode & 0o777, 0o700);
    assert.equal(statSync(channel.paths.socket).mode & 0o777, 0o600);
    assert.equal(statSync(channel.paths.token).mode & 0o777, 0o600);
  });

  it('hello with the token: the endpoints and connections; then the policy services', async () => {
    const c = await connect();
    assert.equal(c.hello.protocol, 1);
    assert.equal(c.hello.pid, process.pid);
    assert.deepEqual(c.hello.endpoints, [served]);
    assert.deepEqual(
      c.hello.connections.map((x) => [x.name, x.listening]),
      [
        ['shop', true],
        ['later', false],
      ],
    );
    assert.deepEqual(await c.endpoint('shop'), served);
    assert.equal((await c.explain('shop', 'select 1', 'mcp:t/1')).text, 'shop|select 1|mcp:t/1|mcp');
    assert.equal((await c.maskedColumns('shop')).columns[0].column, 'email');
    await assert.rejects(
      c.endpoint('nope'),
      (e: unknown) =>
        e instanceof ControlChannelError &&
        e.code === 'failed' &&
        /no connection named "nope"/.test(e.message),
    );
    await assert.rejects(c.endpoint('later'), /not listening/);
  });

  it('a wrong token is refused and the connection closed', async () => {
    await assert.rejects(
      ControlChannelClient.connect(config, { env, token: 'wrong' }),
      (e: unknown) => e instanceof ControlChannelError && e.code === 'unauthorized',
    );
  });

  it('nothing but hello is answered before authentication', async () => {
    const raw = net.connect(channel.paths.socket);
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      raw.setEncoding('utf8');
      raw.on('data', (d: string) => (text += d));
      raw.on('close', () => resolve(text));
      raw.write('{"id":1,"op":"endpoint","args":{"connection":"shop"}}\n');
    });
    assert.deepEqual(JSON.parse(answer), {
      id: 1,
      error: {
        code: 'unauthorized',
        message: 'the token is wrong or missing: read it from the file beside the socket',
      },
    });
    assert.doesNotMatch(answer, /secret/);
  });

  it('a malformed request after hello gets bad-request; the connection stays usable', async () => {
    const c = await connect();
    await assert.rejects(
      c.request('approvals.decide', { id: 'x' }),
      (e: unknown) =>
        e instanceof ControlChannelError &&
        e.code === 'bad-request' &&
        /missing argument "nonce"/.test(e.message),
    );
    assert.equal((await c.connections()).length, 2);
  });

  it('approvals.watch streams pending reviews; approvals.decide needs the nonce', async () => {
    const c = await connect();
    const seen: PendingReviewInfo[][] = [];
    await c.watchApprovals((p) => seen.push(p));
    const request: ApprovalRequest = {
      id: 'req-1',
      connection: 'shop',
      sessionId: 's1',
      actor: { user: 'alice', groups: [], agent: 'mcp:test/1' },
      sql: 'delete from t',
      statements: [],
      rule: 'writes-need-review',
      review: { approvers: ['self'] },
      requestedAt: Date.now(),
      timeoutMs: 60_000,
    };
    const outcome = approvals.request(request, new AbortController().signal);
    for (let i = 0; i < 100 && !seen.some((s) => s.length); i++) await new Promise((r) => setTimeout(r, 10));
    const [pending] = seen.find((s) => s.length) ?? [];
    assert.ok(pending, 'the pending request was streamed');
    assert.equal(pending.sql, 'delete from t');
    assert.equal(pending.actor.agent, 'mcp:test/1');
    assert.equal(pending.rule, 'writes-need-review');
    assert.equal(pending.deadline, request.requestedAt + 60_000);
    assert.equal(await c.decide('req-1', 'forged-nonce', 'approve-once'), false);
    assert.equal(await c.decide('req-1', pending.nonce, 'approve-session'), true);
    assert.deepEqual(await outcome, { approved: true, approver: 'reviewer', scope: 'session' });
    assert.equal(await c.decide('req-1', pending.nonce, 'deny'), false, 'decided at most once');
  });

  it('a second Airlock for the same config is refused; a stale socket is replaced', async function () {
    await assert.rejects(
      startControlChannel({
        configFile: config,
        env,
        endpoints: () => [],
        explain: () => ({ effect: 'deny', text: '' }),
        maskedColumns: () => ({ columns: [], contentDetectors: false }),
        approvals,
        log: silentLogger,
      }),
      ControlChannelInUseError,
    );
    if (!posix) return;
    // Left behind by a killed Airlock: a file where the socket was, nobody listening.
    await channel.close();
    mkdirSync(path.dirname(channel.paths.socket), { recursive: true });
    writeFileSync(channel.paths.socket, '');
    assert.equal(await ControlChannelClient.connect(config, { env }), null, 'nobody answers: no channel');
    channel = await startControlChannel({
      configFile: config,
      env,
      endpoints: () => [endpoint],
      explain: () => ({ effect: 'deny', text: '' }),
      maskedColumns: () => ({ columns: [], contentDetectors: false }),
      approvals,
      log: silentLogger,
    });
    const c = await connect();
    assert.deepEqual(c.hello.endpoints, [served]);
  });

  it('closing removes the token; clients see the channel close', async () => {
    const c = await connect();
    const closed = new Promise<void>((r) => c.onClose(r));
    await channel.close();
    await closed;
    assert.throws(() => statSync(channel.paths.token), /ENOENT/);
    assert.equal(await ControlChannelClient.connect(config, { env }), null);
    await assert.rejects(
      c.connections(),
      (e: unknown) => e instanceof ControlChannelError && e.code === 'closed',
    );
  });
});
