import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { ConnectionConfig } from '../config/config';
import { parseListen, parseUpstreamUrl } from '../config/config';
import type { Gate } from '../core/gate/gate';
import type { Logger } from '../core/log';
import type { Recorder } from '../core/recording/recorder';
import type { AgentChannel, Human } from '../core/identity/actor';
import { makeVerifier } from './postgres/auth/scram';
import { newListenerSecrets } from './postgres/auth/channel-secrets';
import { PostgresListener } from './postgres/listener';
import { SqlState, fatal } from './postgres/protocol/errors';
import { PostgresConnectionServices } from './postgres/connection-services';
import type { PolicyState } from '../core/policy/source';

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

/**
 * Where the upstream password comes from, read at connect time (a rotated secret is picked up, nothing
 * is held longer than needed). A source that is configured but empty says which variable or file, and
 * in which process's environment, is missing.
 */
function passwordSource(c: ConnectionConfig): () => Promise<string | undefined> {
  if (c.passwordEnv) {
    const name = c.passwordEnv;
    return async () => {
      const value = process.env[name];
      if (value !== undefined) return value;
      throw fatal(
        SqlState.invalidPassword,
        `airlock: connection "${c.name}" reads its upstream password from the environment variable ${name} (passwordEnv), which is not set in the environment of the process running Airlock (pid ${process.pid})`,
        {
          hint: `Set ${name} in the environment Airlock starts in: for VS Code, before VS Code starts (a variable exported in a terminal does not reach it), for airlock proxy, in its shell or service unit; or use passwordFile.`,
        },
      );
    };
  }
  if (c.passwordFile) {
    const file = c.passwordFile;
    return async () => {
      try {
        return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        throw fatal(
          SqlState.invalidPassword,
          `airlock: connection "${c.name}" reads its upstream password from ${file} (passwordFile), which cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          {
            hint: 'Create the file (mode 0600) holding only the password, readable by the user running Airlock.',
          },
        );
      }
    };
  }
  return async () => undefined;
}

/** What every listener of one Airlock shares: the engine's gate, human and recorder. */
export interface ListenerServices {
  gate: Gate;
  /** The policy in force, for what is not a decision (masking, read-only upstream); null: none. */
  policy: (() => PolicyState) | null;
  /** Hash masks' key when the policy names none (see maskingHashKey). */
  hashKey?: Buffer;
  /** The human on whose behalf clients act, read as each session starts. */
  identity: () => Human;
  recorder?: Recorder;
  maxMessageBytes?: number;
  log: Logger;
}

/** Starts a listener per connection. Every listener is up when this resolves. */
export async function startListeners(
  connections: readonly ConnectionConfig[],
  { gate, policy, hashKey, identity, recorder, log, maxMessageBytes = DEFAULT_MAX_MESSAGE }: ListenerServices,
): Promise<RunningProxy> {
  const listeners: PostgresListener[] = [];
  const endpoints: LocalEndpoint[] = [];
  const services = new Map<string, PostgresConnectionServices>();
  try {
    for (const c of connections) {
      const up = parseUpstreamUrl(c.upstream);
      const secrets = newListenerSecrets();
      const upstream = { ...up, password: passwordSource(c), connectTimeoutMs: 10_000, maxMessageBytes };
      const connectionServices = new PostgresConnectionServices(c.name, upstream, policy, hashKey);
      services.set(c.name, connectionServices);
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
        services: connectionServices,
        identity,
        recorder,
        maxMessageBytes,
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
    throw err;
  }
  return {
    endpoints,
    connectionServices: (name) => services.get(name),
    sessionCount: () => listeners.reduce((n, l) => n + l.sessionCount, 0),
    close: async () => {
      await Promise.all(listeners.map((l) => l.close()));
    },
  };
}
