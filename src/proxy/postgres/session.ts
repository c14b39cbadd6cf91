import type net from 'node:net';
import type tls from 'node:tls';
import { randomBytes, randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Gate } from '../../core/gate/gate';
import type { DecisionContext } from '../../core/gate/operation';
import type { Human } from '../../core/identity/actor';
import type { Logger } from '../../core/log';
import type { Recorder } from '../../core/recording/recorder';
import { SqlState, fatal } from './protocol/errors';
import { backendKeyData, readyForQuery } from './protocol/encode';
import type { ScramVerifier } from './auth/scram';
import type { ListenerSecret } from './auth/channel-secrets';
import type { UpstreamTarget } from './upstream';
import { ClientHandshake, checkStartupSettings, estimateRows, openUpstream } from './handshake';
import type { PostgresConnectionServices } from './connection-services';
import { LexicalEnvironment } from './lexical-environment';
import { Relay, type RelayedSession } from './relay';
import { StatementLog } from './statement-log';
import * as teardown from './teardown';

/** Everything a listener knows about the connection it serves. */
export interface ListenerSettings {
  connection: string;
  /** The user and database clients must name; they authenticate with the per-session secret. */
  user: string;
  database: string;
  /** One key per secret (see channel-secrets.ts): which one a client proves names its channel. */
  verifier: ScramVerifier<ListenerSecret>;
  /** Offered to clients that send SSLRequest; absent → the client is told 'N'. */
  tls?: tls.SecureContext;
  upstream: UpstreamTarget;
  gate: Gate;
  /** The connection's catalog, masking, read-only mode: what the adapter keeps beside decisions. */
  services: PostgresConnectionServices;
  /** The human on whose behalf this listener's clients act, read as each session starts (sign-in may change it). */
  identity: () => Human;
  /** Where sessions are recorded (none: not recorded). */
  recorder?: Recorder;
  maxMessageBytes: number;
  /** Time allowed from connect to the end of authentication, as PostgreSQL's authentication_timeout. */
  authTimeoutMs: number;
  log: Logger;
}

/** Registers live sessions by the key their client got in BackendKeyData, for CancelRequest. */
export interface SessionRegistry {
  add(session: ClientSession): void;
  remove(session: ClientSession): void;
  /**
   * A CancelRequest arrived on a fresh connection: cancel the matching session's statement, if any.
   * Resolves once the upstream has the request, as PostgreSQL signals before it closes the connection
   * (libpq waits for that close, so a cancel cannot land on the client's next statement).
   */
  cancel(processId: number, secretKey: number): Promise<void>;
}

/**
 * Where a session is: the client's startup and authentication (handshake.ts), the upstream connection,
 * the relay (relay.ts), and its end (teardown.ts). Every transition is made here or by teardown.
 */
export type SessionPhase =
  'startup' | 'authenticating' | 'connecting-upstream' | 'relaying' | 'terminating' | 'closed';

/**
 * One client connection: the state machine that takes it through the handshake, the upstream connection
 * and the relay to its end, and wires the rooms that do each.
 */
export class ClientSession implements RelayedSession, teardown.EndingSession {
  readonly id = randomBytes(8).toString('hex');
  /**
   * The client gets the upstream backend's pid (so pg_backend_pid(), pg_stat_activity and the sender of
   * notifications agree with what it was told) with a secret key of the proxy's own: the upstream's
   * key never leaves the proxy, and a CancelRequest is honoured only with the proxy's key.
   */
  processId = 0;
  readonly secretKey = randomInt(0, 2 ** 31 - 1);
  phase: SessionPhase = 'startup';
  /** The client's socket (a TLS socket once the client asked for TLS). */
  client: Duplex;
  upstream: net.Socket | null = null;
  upstreamKey = { processId: 0, secretKey: 0 };
  log: StatementLog | null = null;
  relay: Relay | null = null;
  private readonly lexical = new LexicalEnvironment();

  constructor(
    socket: net.Socket,
    readonly settings: ListenerSettings,
    private readonly registry: SessionRegistry,
  ) {
    this.client = socket;
    socket.setNoDelay(true);
  }

  get clientAddress(): string {
    const s = this.client as net.Socket;
    return `${s.remoteAddress}:${s.remotePort}`;
  }

  /** Runs the session to its end; never rejects (errors go to the client and the log). */
  async run(): Promise<void> {
    const handshake = new ClientHandshake(this.client, this.settings, this.registry);
    let authTimer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        authTimer = setTimeout(
          () => reject(fatal(SqlState.connectionFailure, 'authentication timed out')),
          this.settings.authTimeoutMs,
        );
      });
      const hello = await Promise.race([
        handshake.run(() => {
          this.client = handshake.client;
          this.phase = 'authenticating';
        }),
        timeout,
      ]).finally(() => (this.client = handshake.client));
      clearTimeout(authTimer);
      if (!hello) {
        // A CancelRequest connection: PostgreSQL closes it without a reply.
        handshake.queue.release();
        this.client.destroy();
        this.phase = 'closed';
        return;
      }
      const { params, channel } = hello;
      const context: DecisionContext = {
        connection: this.settings.connection,
        sessionId: this.id,
        actor: {
          ...this.human(),
          agent: params.get('application_name') || undefined,
          ...(channel ? { channel } : {}),
        },
        sql: this.settings.services.sqlEnvironment((sql) =>
          estimateRows(this.settings, sql, new Map(params)),
        ),
      };
      await checkStartupSettings(this.settings, context, params);
      this.phase = 'connecting-upstream';
      const up = await openUpstream(this.settings, params, this.lexical);
      if (this.client.destroyed) {
        up.socket.destroy();
        this.close('client left while the upstream connected');
        return;
      }
      if (this.settings.services.catalogNeeded) await this.settings.services.loadCatalog(up);
      this.upstream = up.socket;
      this.upstreamKey = { processId: up.processId, secretKey: up.secretKey };
      this.processId = up.processId;
      for (const m of up.startupMessages) this.client.write(m);
      this.client.write(backendKeyData(this.processId, this.secretKey));
      this.client.write(readyForQuery(up.status));
      this.registry.add(this);
      this.log = this.openRecording(context, params);
      this.phase = 'relaying';
      this.relay = new Relay(this, this.settings, context, this.client, up.socket, this.lexical, this.log);
      this.relay.start(handshake.queue.release(), up.leftover);
      this.settings.log.debug(
        `[${this.settings.connection}] session ${this.id} from ${this.clientAddress} ready`,
      );
    } catch (err) {
      clearTimeout(authTimer);
      handshake.queue.release();
      this.failClient(err);
    }
  }

  /**
   * The human this session acts for. An identity source whose sign-in has ended throws rather than name
   * anyone: the client is refused (28000) with what to do, before anything reaches the upstream.
   */
  private human(): Human {
    try {
      return this.settings.identity();
    } catch (err) {
      throw fatal(
        SqlState.invalidAuthorization,
        `airlock: no signed-in identity: ${(err as Error).message}`,
        {
          hint: 'Sign in again (airlock login, or Accounts → Airlock in VS Code), then reconnect.',
        },
      );
    }
  }

  private openRecording(context: DecisionContext, params: Map<string, string>): StatementLog | null {
    const recorder = this.settings.recorder;
    if (!recorder) return null;
    const { host, port, database, user } = this.settings.upstream;
    const recording = this.settings.services.recordingPolicy();
    const session = recorder.session(this.id, {
      connection: context.connection,
      actor: context.actor,
      application: params.get('application_name') || undefined,
      client: this.clientAddress,
      upstream: { host, port, database, user },
      policy: recording.policy,
    });
    return new StatementLog(session, { rows: 20, bytes: 16 * 1024 }, recording.parameters);
  }

  // ---------- the end of the session (teardown.ts) ----------

  /** Forwards a client's CancelRequest to the upstream backend serving this session. */
  cancel(): Promise<void> {
    return teardown.cancelStatement(this);
  }

  /** Ends the session as a server shutdown does: the client is told why (57P01). */
  shutdown(): void {
    this.failClient(fatal(SqlState.adminShutdown, 'terminating connection because Airlock is shutting down'));
  }

  alarm(problem: string): void {
    teardown.alarm(this, problem);
  }

  failClient(err: unknown): void {
    teardown.failClient(this, err);
  }

  upstreamLost(why: string): void {
    teardown.upstreamLost(this, why);
  }

  close(why: string): void {
    teardown.close(this, why);
  }

  unregister(): void {
    this.registry.remove(this);
  }
}
