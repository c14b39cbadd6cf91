import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import type { ApprovalQueue, PendingReview, ReviewDecision } from '../core/approvals/queue';
import type { Actor } from '../core/identity/actor';
import type { Logger } from '../core/log';
import { agentEndpoint, type LocalEndpoint } from '../proxy/listeners';
import {
  localBackend,
  type AirlockServices,
  type ConnectionSummary,
  type MaskingSummary,
  type PolicyExplanation,
} from '../agents/backend';

/**
 * The control channel: how an `airlock mcp` started by some agent finds the Airlock already running the
 * same config (the VS Code extension, `airlock proxy`) and uses its listeners, policy services and
 * approval queue, so its statements go through that Airlock's gate and its reviews appear where the
 * person is. Not an open port: a Unix domain socket (mode 0600) in a per-user directory (0700), named
 * after the sha256 of the config file's real path, and a random token beside it (0600) that a client
 * must present first (defence in depth beyond the file modes). Protocol: JSON lines.
 *
 *   → {"id":1,"op":"hello","args":{"token":"…"}}     ← {"id":1,"result":{"protocol":1,"endpoints":[…],…}}
 *   → {"id":2,"op":"approvals.watch"}                 ← {"id":2,"result":{"watching":true}}
 *                                                     ← {"id":2,"event":"approvals","data":{"pending":[…]}}
 *   → {"id":3,"op":"approvals.decide","args":{"id":"…","nonce":"…","decision":"approve-once"}}
 *                                                     ← {"id":3,"result":{"decided":true}}
 *   errors: {"id":n,"error":{"code":"unauthorized"|"bad-request"|"forbidden"|"failed","message":"…"}}
 */

export const CONTROL_PROTOCOL_VERSION = 1;
const MAX_LINE_BYTES = 1024 * 1024;
const HELLO_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------------
// Where: a private directory per user, one socket and one token file per config.

/** `$XDG_RUNTIME_DIR/airlock`, or `<tmp>/airlock-<uid>`. */
export function controlChannelDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR))
    return path.join(env.XDG_RUNTIME_DIR, 'airlock');
  const uid = typeof process.getuid === 'function' ? String(process.getuid()) : os.userInfo().username;
  return path.join(os.tmpdir(), `airlock-${uid}`);
}

/** The config file as the channel names it: absolute, symlinks resolved. */
export function resolvedConfigPath(configFile: string): string {
  const abs = path.resolve(configFile);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

export interface ControlChannelPaths {
  dir: string;
  socket: string;
  token: string;
}

/**
 * The socket and token of the Airlock running `configFile`. The name is the sha256 of the resolved
 * path, cut to 32 hex digits (128 bits) so the socket path fits the ~104-byte limit of sun_path.
 */
export function controlChannelPaths(
  configFile: string,
  env: NodeJS.ProcessEnv = process.env,
): ControlChannelPaths {
  const hash = createHash('sha256').update(resolvedConfigPath(configFile)).digest('hex').slice(0, 32);
  const dir = controlChannelDir(env);
  const socket =
    process.platform === 'win32'
      ? `\\\\.\\pipe\\airlock-${os.userInfo().username}-${hash}`
      : path.join(dir, `${hash}.sock`);
  return { dir, socket, token: path.join(dir, `${hash}.token`) };
}

/** Creates the directory (0700) or checks an existing one: ours, a real directory, no access for others. */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // lstat: a symlink planted in a shared tmp directory is not followed.
  const st = lstatSync(dir);
  if (!st.isDirectory())
    throw new Error(`${dir} is not a directory (refusing to use it for the control channel)`);
  if (typeof process.getuid === 'function') {
    if (st.uid !== process.getuid())
      throw new Error(
        `${dir} belongs to another user (uid ${st.uid}); refusing to use it for the control channel`,
      );
    if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  }
}

// ---------------------------------------------------------------------------------------------------
// The protocol: requests are validated against these schemas before anything acts on them.

export type ControlOp =
  'hello' | 'connections' | 'endpoint' | 'explain' | 'maskedColumns' | 'approvals.watch' | 'approvals.decide';

const str = (max = 100_000) => ({ type: 'string', minLength: 1, maxLength: max });
const ARGS: Record<ControlOp, object> = {
  hello: {
    type: 'object',
    required: ['token'],
    additionalProperties: false,
    properties: { token: str(200), client: str(200) },
  },
  connections: { type: 'object', additionalProperties: false, properties: {} },
  endpoint: {
    type: 'object',
    required: ['connection'],
    additionalProperties: false,
    properties: { connection: str(200) },
  },
  explain: {
    type: 'object',
    required: ['connection', 'sql', 'agent'],
    additionalProperties: false,
    properties: { connection: str(200), sql: str(), agent: str(200) },
  },
  maskedColumns: {
    type: 'object',
    required: ['connection'],
    additionalProperties: false,
    properties: { connection: str(200) },
  },
  'approvals.watch': { type: 'object', additionalProperties: false, properties: {} },
  'approvals.decide': {
    type: 'object',
    required: ['id', 'nonce', 'decision'],
    additionalProperties: false,
    properties: {
      id: str(200),
      nonce: str(200),
      decision: { enum: ['approve-once', 'approve-session', 'deny'] },
      reason: { type: 'string', maxLength: 2000 },
    },
  },
};

const ajv = new Ajv({ allErrors: false, strict: true });
const requestValidator = ajv.compile({
  type: 'object',
  required: ['id', 'op'],
  additionalProperties: false,
  properties: {
    id: { anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 100 }] },
    op: { type: 'string' },
    args: { type: 'object' },
  },
});
const argValidators = Object.fromEntries(
  Object.entries(ARGS).map(([op, schema]) => [op, ajv.compile(schema)]),
) as Record<ControlOp, ValidateFunction>;

export interface ControlRequest {
  id: number | string;
  op: ControlOp;
  args: Record<string, unknown>;
}

export type ParsedControlRequest =
  { ok: true; request: ControlRequest } | { ok: false; id: number | string | null; message: string };

/** Parses and validates one line of a client's request stream. */
export function parseControlRequest(line: string): ParsedControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, id: null, message: 'not JSON' };
  }
  if (!requestValidator(value)) {
    const e = requestValidator.errors?.[0];
    return {
      ok: false,
      id: null,
      message: `request ${e?.instancePath || ''} ${e?.message ?? 'is invalid'}`.replace(/\s+/g, ' '),
    };
  }
  const { id, op, args = {} } = value as { id: number | string; op: string; args?: Record<string, unknown> };
  if (!Object.hasOwn(ARGS, op)) return { ok: false, id, message: `unknown op "${op}"` };
  const validate = argValidators[op as ControlOp];
  if (!validate(args)) {
    const e = validate.errors?.[0];
    const p = e?.params as Record<string, unknown> | undefined;
    const what =
      e?.keyword === 'additionalProperties'
        ? `unknown argument "${String(p?.additionalProperty)}"`
        : e?.keyword === 'required'
          ? `missing argument "${String(p?.missingProperty)}"`
          : `${e?.instancePath.slice(1) || 'args'} ${e?.message ?? 'is invalid'}`;
    return { ok: false, id, message: `${op}: ${what}` };
  }
  return { ok: true, request: { id, op: op as ControlOp, args } };
}

/** A review request as the channel shows it (the statement's parse facts stay in the queue). */
export interface PendingReviewInfo {
  id: string;
  nonce: string;
  sql: string;
  actor: Actor;
  rule: string;
  connection: string;
  sessionId: string;
  approvers: string[];
  commands: string[];
  requestedAt: number;
  /** Epoch ms; the gate denies the statement past it. */
  deadline: number;
}

export function pendingInfo(p: PendingReview): PendingReviewInfo {
  const r = p.request;
  return {
    id: r.id,
    nonce: p.nonce,
    sql: r.sql,
    actor: r.actor,
    rule: r.rule,
    connection: r.connection,
    sessionId: r.sessionId,
    approvers: r.review.approvers,
    commands: r.statements.map((s) => s.command),
    requestedAt: r.requestedAt,
    deadline: p.deadline,
  };
}

export interface HelloResult {
  protocol: number;
  /** The process serving the channel. */
  pid: number;
  configFile: string;
  connections: ConnectionSummary[];
  endpoints: LocalEndpoint[];
}

type ErrorCode = 'unauthorized' | 'bad-request' | 'forbidden' | 'failed';

/** An error answered by the channel (or the channel going away). */
export class ControlChannelError extends Error {
  override name = 'ControlChannelError';
  constructor(
    readonly code: ErrorCode | 'closed',
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------
// The server.

export interface ControlChannelOptions extends AirlockServices {
  configFile: string;
  approvals: ApprovalQueue;
  log: Logger;
  /** Whether clients may decide reviews (approvals.decide); default true. Watching is always allowed. */
  decisions?: boolean;
  /** For tests: another runtime directory. */
  env?: NodeJS.ProcessEnv;
}

export interface ControlChannel {
  paths: ControlChannelPaths;
  /** Clients connected now. */
  clientCount(): number;
  close(): Promise<void>;
}

/** Another Airlock already serves this config's control channel. */
export class ControlChannelInUseError extends Error {
  override name = 'ControlChannelInUseError';
}

/** True when something accepts connections on the socket. */
function probe(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function writePrivateFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file);
}

/** Publishes the control channel of this Airlock for `configFile`. */
export async function startControlChannel(options: ControlChannelOptions): Promise<ControlChannel> {
  const paths = controlChannelPaths(options.configFile, options.env);
  const { log, approvals } = options;
  if (process.platform !== 'win32') ensurePrivateDir(paths.dir);
  else mkdirSync(paths.dir, { recursive: true });
  if (await probe(paths.socket))
    throw new ControlChannelInUseError(
      `another Airlock already serves ${resolvedConfigPath(options.configFile)} (control channel ${paths.socket})`,
    );
  // Left by an Airlock that was killed: nobody answers on it.
  if (process.platform !== 'win32') rmSync(paths.socket, { force: true });
  const token = randomBytes(32).toString('base64url');
  writePrivateFile(paths.token, token + '\n');
  const expected = Buffer.from(token);
  // Whoever holds the token is served as the MCP adapter: the endpoints carry the MCP channel's secret.
  const backend = localBackend(options, 'mcp');
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let authenticated = false;
    let refused = false;
    let buffered = '';
    const unsubscribe: Array<() => void> = [];
    socket.once('close', () => unsubscribe.forEach((u) => u()));
    const helloTimer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    helloTimer.unref();
    const send = (message: object) => {
      if (!socket.destroyed) socket.write(JSON.stringify(message) + '\n');
    };
    const fail = (id: number | string | null, code: ErrorCode, message: string) =>
      send({ id, error: { code, message } });

    const handle = async (request: ControlRequest): Promise<void> => {
      const { id, op, args } = request;
      if (!authenticated) {
        const given = Buffer.from(op === 'hello' ? String(args.token) : '');
        if (op !== 'hello' || given.length !== expected.length || !timingSafeEqual(given, expected)) {
          log.warn('control channel: a client was refused (wrong or missing token)');
          fail(id, 'unauthorized', 'the token is wrong or missing: read it from the file beside the socket');
          refused = true;
          socket.end();
          return;
        }
        authenticated = true;
        clearTimeout(helloTimer);
        log.debug(`control channel: ${String(args.client ?? 'a client')} connected`);
      }
      switch (op) {
        case 'hello': {
          const result: HelloResult = {
            protocol: CONTROL_PROTOCOL_VERSION,
            pid: process.pid,
            configFile: resolvedConfigPath(options.configFile),
            connections: await backend.connections(),
            endpoints: (await options.endpoints()).map((e) => agentEndpoint(e, 'mcp')),
          };
          return send({ id, result });
        }
        case 'connections':
          return send({ id, result: await backend.connections() });
        case 'endpoint':
          return send({ id, result: await backend.endpoint(String(args.connection)) });
        case 'explain':
          return send({
            id,
            result: await backend.explain(String(args.connection), String(args.sql), String(args.agent)),
          });
        case 'maskedColumns':
          return send({ id, result: await backend.maskedColumns(String(args.connection)) });
        case 'approvals.watch': {
          send({ id, result: { watching: true } });
          const push = () =>
            send({ id, event: 'approvals', data: { pending: approvals.pending().map(pendingInfo) } });
          unsubscribe.push(approvals.onChange(push));
          return push();
        }
        case 'approvals.decide': {
          if (options.decisions === false)
            return fail(
              id,
              'forbidden',
              'this Airlock takes review decisions only in its own approval panel',
            );
          const decision = args.decision as ReviewDecision;
          const decided = approvals.decide(
            String(args.id),
            String(args.nonce),
            decision,
            args.reason as string | undefined,
          );
          if (decided) log.info(`review ${String(args.id)}: ${decision} through the control channel`);
          return send({ id, result: { decided } });
        }
      }
    };

    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE_BYTES && !buffered.includes('\n')) {
        fail(null, 'bad-request', `a request line is longer than ${MAX_LINE_BYTES} bytes`);
        socket.destroy();
        return;
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        if (refused) return;
        const parsed = parseControlRequest(line);
        if (!parsed.ok) {
          fail(parsed.id, authenticated ? 'bad-request' : 'unauthorized', parsed.message);
          if (!authenticated) {
            refused = true;
            socket.end();
          }
          continue;
        }
        handle(parsed.request).catch((err: unknown) =>
          fail(parsed.request.id, 'failed', err instanceof Error ? err.message : String(err)),
        );
      }
    });
  });

  const removeToken = () => {
    // Only if it is still ours (a later Airlock may have published its own).
    try {
      if (readFileSync(paths.token, 'utf8').trim() === token) unlinkSync(paths.token);
    } catch {
      // already gone
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      removeToken();
      reject(
        err.code === 'EADDRINUSE'
          ? new ControlChannelInUseError(`another Airlock just published ${paths.socket}`)
          : err,
      );
    });
    server.listen(paths.socket, () => {
      server.removeAllListeners('error');
      server.on('error', (err) => log.warn(`control channel: ${err.message}`));
      resolve();
    });
  });
  if (process.platform !== 'win32') chmodSync(paths.socket, 0o600);
  log.info(
    `control channel: ${paths.socket} (agents running \`airlock mcp --config ${options.configFile}\` connect here)`,
  );

  return {
    paths,
    clientCount: () => sockets.size,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      removeToken();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The client.

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class ControlChannelClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly watchers = new Map<number, (pending: PendingReviewInfo[]) => void>();
  private readonly closeListeners = new Set<() => void>();
  private closed = false;
  private buffered = '';
  hello!: HelloResult;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.closed = true;
      const err = new ControlChannelError('closed', 'the Airlock control channel closed');
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      for (const l of this.closeListeners) l();
    });
  }

  /**
   * Connects to the Airlock running `configFile`, or null when none is (no socket, or nobody answers).
   * Rejects with a ControlChannelError('unauthorized') when the token is refused.
   */
  static async connect(
    configFile: string,
    options: { token?: string; client?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
  ): Promise<ControlChannelClient | null> {
    const paths = controlChannelPaths(configFile, options.env);
    const socket = await new Promise<net.Socket | null>((resolve) => {
      const s = net.connect(paths.socket);
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(null));
    });
    if (!socket) return null;
    const client = new ControlChannelClient(socket);
    let token = options.token;
    if (token === undefined) {
      try {
        token = readFileSync(paths.token, 'utf8').trim();
      } catch (err) {
        client.close();
        throw new ControlChannelError(
          'unauthorized',
          `cannot read the control channel token ${paths.token}: ${(err as Error).message}`,
        );
      }
    }
    const timeout = setTimeout(() => client.close(), options.timeoutMs ?? 10_000);
    try {
      client.hello = await client.request<HelloResult>('hello', {
        token,
        ...(options.client ? { client: options.client } : {}),
      });
    } catch (err) {
      client.close();
      throw err;
    } finally {
      clearTimeout(timeout);
    }
    return client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.add(listener);
  }

  request<T>(op: ControlOp, args: Record<string, unknown> = {}): Promise<T> {
    if (this.closed)
      return Promise.reject(new ControlChannelError('closed', 'the Airlock control channel closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(JSON.stringify({ id, op, args }) + '\n');
    });
  }

  connections(): Promise<ConnectionSummary[]> {
    return this.request('connections');
  }

  endpoint(connection: string): Promise<LocalEndpoint> {
    return this.request('endpoint', { connection });
  }

  explain(connection: string, sql: string, agent: string): Promise<PolicyExplanation> {
    return this.request('explain', { connection, sql, agent });
  }

  maskedColumns(connection: string): Promise<MaskingSummary> {
    return this.request('maskedColumns', { connection });
  }

  /** Calls `listener` with every pending review now and whenever the queue changes. */
  async watchApprovals(listener: (pending: PendingReviewInfo[]) => void): Promise<void> {
    const id = this.nextId;
    this.watchers.set(id, listener);
    await this.request('approvals.watch');
  }

  /** False when the request is gone or the nonce does not match. */
  async decide(id: string, nonce: string, decision: ReviewDecision, reason?: string): Promise<boolean> {
    const r = await this.request<{ decided: boolean }>('approvals.decide', {
      id,
      nonce,
      decision,
      ...(reason !== undefined ? { reason } : {}),
    });
    return r.decided;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      let msg: {
        id?: number | null;
        result?: unknown;
        error?: { code: ErrorCode; message: string };
        event?: string;
        data?: { pending: PendingReviewInfo[] };
      };
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (msg.event === 'approvals' && typeof msg.id === 'number') {
        this.watchers.get(msg.id)?.(msg.data?.pending ?? []);
        continue;
      }
      const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
      if (!p) {
        // An error not tied to a request (e.g. refused before the hello parsed): fail everything waiting.
        if (msg.error)
          for (const q of this.pending.values())
            q.reject(new ControlChannelError(msg.error.code, msg.error.message));
        continue;
      }
      this.pending.delete(msg.id as number);
      if (msg.error) p.reject(new ControlChannelError(msg.error.code, msg.error.message));
      else p.resolve(msg.result);
    }
  }
}
