import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import os from 'node:os';
import type { AirlockConfig, ConnectionConfig } from '../config/config';
import { parseListen, parseUpstreamUrl, policySpec } from '../config/config';
import { PolicyGate, type Gate } from '../core/gate/gate';
import type { Logger } from '../core/log';
import type { ApprovalBroker } from '../core/approvals/broker';
import { PolicySource } from '../core/policy/source';
import { loadSqlParser } from '../core/sql/parser';
import { Recorder } from '../core/recording/recorder';
import { installationKey } from '../core/recording/checkpoint';
import { installationHashKey } from '../core/masking/hash-key';
import type { AgentChannel } from '../core/identity/actor';
import { makeVerifier } from './postgres/auth/scram';
import { newListenerSecrets } from './postgres/auth/channel-secrets';
import { PostgresListener } from './postgres/listener';
import { PostgresConnectionServices } from './postgres/connection-services';

/** What a client needs to reach one local listener; the password is this run's random secret. */
export interface LocalEndpoint {
  name: string;
  kind: 'postgres';
  host: string;
  port: number;
  user: string;
  /** The ordinary client's secret (terminals, psql): an agent name such a client gives is a claim. */
  password: string;
  database: string;
  /**
   * The agent adapters' secrets (see channel-secrets.ts): only in the process running the listener,
   * never written out; an adapter gets its own through agentEndpoint.
   */
  agentPasswords?: Record<AgentChannel, string>;
}

/** The endpoint as one agent adapter connects to it: with its channel's secret, and no other secret. */
export function agentEndpoint(e: LocalEndpoint, channel: AgentChannel): LocalEndpoint {
  const { agentPasswords, ...rest } = e;
  const password = agentPasswords?.[channel];
  if (!password) throw new Error(`listener "${e.name}" holds no secret for the ${channel} channel`);
  return { ...rest, password };
}

export interface RunningProxy {
  endpoints: LocalEndpoint[];
  /** The Postgres adapter's services of a connection (its catalog, masking), for explain and the UI. */
  connectionServices(connection: string): PostgresConnectionServices | undefined;
  /** Clients connected right now, over all listeners. */
  sessionCount(): number;
  close(): Promise<void>;
}

const DEFAULT_MAX_MESSAGE = 128 * 1024 * 1024;

function passwordSource(c: ConnectionConfig): () => Promise<string | undefined> {
  // Read at connect time, so a rotated secret is picked up and nothing is held longer than needed.
  if (c.passwordEnv) {
    const name = c.passwordEnv;
    return async () => process.env[name];
  }
  if (c.passwordFile) {
    const file = c.passwordFile;
    return async () => (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  }
  return async () => undefined;
}

export interface ProxyOptions {
  /** Replaces the gate the config's policy makes (tests compose their own). */
  gate?: Gate;
  /** Where review requests go; without one, statements that need review are denied. */
  approvals?: ApprovalBroker;
  /** The human on whose behalf clients act (until sign-in provides one: the OS user). */
  identity?: { user: string; groups: string[] };
  /** A recorder shared by several proxies (the extension connects connections one by one); not closed here. */
  recorder?: Recorder;
}

/** The policy gate the config names: the parser loaded, the policy source open. */
export async function policyGateFor(
  config: AirlockConfig,
  log: Logger,
  approvals: ApprovalBroker | null,
): Promise<{ gate: PolicyGate; source: PolicySource }> {
  await loadSqlParser();
  const source = await PolicySource.open(policySpec(config), log);
  if (config.policy === 'allow-all')
    log.warn('policy allow-all: every statement is allowed. Use it for development only.');
  return { gate: new PolicyGate(source, approvals, log), source };
}

/** Opens the config's recordings folder for writing and says what start-up recovery found. */
export function openRecorder(folder: string, config: AirlockConfig, log: Logger): Recorder {
  const recorder = Recorder.open(folder, {
    sync: config.recordingSync,
    batchWindowMs: config.recordingSyncWindowMs,
    retentionDays: config.recordingRetentionDays,
  });
  log.info(`recording sessions to ${folder} (${config.recordingSync ?? 'batch'} sync)`);
  const { tornBytes, recovered, expired } = recorder.report;
  if (tornBytes) log.warn(`recordings: a torn last line (${tornBytes} bytes) was moved to journal.torn`);
  if (recovered.length)
    log.warn(
      `recordings: ${recovered.length} session(s) left open by a stopped proxy were closed and signed`,
    );
  if (expired) log.info(`recordings: ${expired} session(s) past retention removed`);
  return recorder;
}

/** Starts a listener per configured connection. Every listener is up when this resolves. */
export async function startProxy(
  config: AirlockConfig,
  log: Logger,
  options: ProxyOptions = {},
): Promise<RunningProxy> {
  let source: PolicySource | null = null;
  let gate = options.gate;
  if (!gate) {
    const made = await policyGateFor(config, log, options.approvals ?? null);
    gate = made.gate;
    source = made.source;
  }
  const identity = options.identity ?? { user: os.userInfo().username, groups: [] };
  // Hash masks use the installation's own key unless the policy names one: derived from the key that
  // signs the recordings, so every run on this machine hashes alike and nothing new is stored.
  const hashKey = config.recordings
    ? installationHashKey(installationKey(config.recordings).privateKey)
    : undefined;
  const policyGate = gate instanceof PolicyGate ? gate : null;
  const policy = policyGate && (() => policyGate.policyState());
  const ownRecorder = !options.recorder && config.recordings;
  const recorder = options.recorder ?? (ownRecorder ? openRecorder(ownRecorder, config, log) : undefined);
  const listeners: PostgresListener[] = [];
  const connectionServices = new Map<string, PostgresConnectionServices>();
  const endpoints: LocalEndpoint[] = [];
  try {
    for (const c of config.connections) {
      const up = parseUpstreamUrl(c.upstream);
      const secrets = newListenerSecrets();
      const upstream = {
        ...up,
        password: passwordSource(c),
        connectTimeoutMs: 10_000,
        maxMessageBytes: config.maxMessageBytes ?? DEFAULT_MAX_MESSAGE,
      };
      const services = new PostgresConnectionServices(c.name, upstream, policy, hashKey);
      connectionServices.set(c.name, services);
      const listener = new PostgresListener({
        connection: c.name,
        user: up.user,
        database: up.database,
        verifier: makeVerifier(secrets),
        tls: c.tls
          ? tls.createSecureContext({ cert: readFileSync(c.tls.cert), key: readFileSync(c.tls.key) })
          : undefined,
        upstream,
        gate,
        services,
        identity,
        recorder,
        maxMessageBytes: config.maxMessageBytes ?? DEFAULT_MAX_MESSAGE,
        authTimeoutMs: 60_000,
        log,
      });
      const { host, port } = parseListen(c.listen);
      const bound = await listener.listen(host, port);
      listeners.push(listener);
      endpoints.push({
        name: c.name,
        kind: 'postgres',
        ...bound,
        user: up.user,
        password: secrets.client,
        database: up.database,
        agentPasswords: { mcp: secrets.mcp, 'lm-tool': secrets['lm-tool'] },
      });
      log.info(
        `[${c.name}] listening on ${bound.host}:${bound.port} → ${up.host}:${up.port}/${up.database} (sslmode=${up.sslmode})`,
      );
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    source?.close();
    if (ownRecorder) recorder?.close();
    throw err;
  }
  return {
    endpoints,
    connectionServices: (name) => connectionServices.get(name),
    sessionCount: () => listeners.reduce((n, l) => n + l.sessionCount, 0),
    close: async () => {
      await Promise.all(listeners.map((l) => l.close()));
      source?.close();
      if (ownRecorder) recorder?.close();
    },
  };
}
