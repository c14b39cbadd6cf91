import net from 'node:net';
import tls from 'node:tls';
import { randomBytes, randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Gate, GateContext, StatementRequest } from '../../core/gate/gate';
import type { Decision } from '../../core/gate/decision';
import type { Logger } from '../../core/log';
import { PgError, SqlState, fatal } from './protocol/errors';
import { MAX_AUTH_MESSAGE, MessageFramer } from './protocol/framing';
import { MessageQueue } from './protocol/message-queue';
import { AuthCode, Msg } from './protocol/messages';
import {
  decodeBind,
  decodeClose,
  decodeExecutePortal,
  decodeFunctionCallOid,
  decodeParameterStatus,
  decodeParse,
  decodeQuery,
  decodeSaslInitial,
  decodeSaslResponse,
  decodeStartup,
  isFatal,
  type TextDecoding,
} from './protocol/decode';
import {
  authentication,
  authenticationSasl,
  backendKeyData,
  describePortal,
  errorResponse,
  readyForQuery,
} from './protocol/encode';
import { SCRAM_MECHANISM, ScramServerExchange, type ScramVerifier } from './auth/scram';
import { agentChannelOf, type ListenerSecret } from './auth/channel-secrets';
import type { AgentChannel } from '../../core/identity/actor';
import {
  connectUpstream,
  cancelUpstream,
  queryUpstream,
  UpstreamStartupError,
  type UpstreamTarget,
} from './upstream';
import { CATALOG_QUERY, catalogFromRows } from '../../core/sql/catalog';
import { OutputBatch } from './output-batch';
import { answerDenied, denialError, replaceDenied } from './denial';
import { ObligationTracker } from './obligations';
import { InFlightQueue, type AllowDecision, type Execution, type InFlightRequest } from './in-flight-queue';
import { ResultMasker } from './result-masker';
import { StatementLog } from './statement-log';
import type { Recorder } from '../../core/recording/recorder';
import { startupSettings } from './startup-settings';
import { clientDecoding, lexicalDeviation, pinLexicalEnvironment } from './lexical-environment';
import { verifyReply } from './reply-verifier';
import { quoteIdent } from '../../core/sql/quote';

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
  /** The human on whose behalf this listener's clients act. */
  identity: { user: string; groups: string[] };
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

type Phase = 'startup' | 'authenticating' | 'connecting-upstream' | 'relaying' | 'terminating' | 'closed';

/**
 * One client connection: the startup/authentication state machine on the client side, then the relay.
 * In the relay, each frontend message is framed once; statements go through the gate before they are
 * forwarded; backend messages stream back with backpressure in both directions.
 */
export class ClientSession {
  readonly id = randomBytes(8).toString('hex');
  /**
   * The client gets the upstream backend's pid (so pg_backend_pid(), pg_stat_activity and the sender of
   * notifications agree with what it was told) with a secret key of the proxy's own: the upstream's
   * key never leaves the proxy, and a CancelRequest is honoured only with the proxy's key.
   */
  processId = 0;
  readonly secretKey = randomInt(0, 2 ** 31 - 1);
  private phase: Phase = 'startup';
  private client: Duplex;
  private upstream: net.Socket | tls.TLSSocket | null = null;
  private upstreamKey = { processId: 0, secretKey: 0 };
  /** Requests sent upstream and not yet answered: what to do with each reply. */
  private readonly inFlight = new InFlightQueue();
  private readonly obligations = new ObligationTracker(this.inFlight, () => void this.cancel());
  /**
   * The request whose ReadyForQuery must pass before the next statement is lexed: one that ran code whose
   * effects Airlock cannot see, whose ParameterStatus reports are checked first (null: none).
   */
  private barrierRequest: InFlightRequest | null = null;
  /** How query texts are decoded: the client encoding the server last reported. */
  private decoding: TextDecoding | undefined;
  private readonly masker = new ResultMasker(
    () => this.settings.gate.resultMasking?.(this.settings.connection) ?? null,
  );
  private context: GateContext | null = null;
  /** The agent adapter whose secret the client proved it holds (none: the ordinary client's). */
  private channel: AgentChannel | undefined;
  private log: StatementLog | null = null;
  /** Prepared statements (protocol level) → their SQL and the decision taken at Parse. */
  private readonly statements = new Map<string, { sql: string; decision: AllowDecision }>();
  /** Portals → the statement they were bound from. */
  private readonly portals = new Map<string, string>();
  private readonly clientFramer: MessageFramer;
  /** Backend messages of the chunk being relayed, written to the client once per chunk. */
  private readonly toClient = new OutputBatch();
  private readonly upstreamFramer: MessageFramer;
  /** Frontend messages framed but not yet handled because a decision is pending. */
  private inbox: Buffer[] = [];
  private deciding = false;
  /** The inbox waits for the barrier's ReadyForQuery (see barrierRequest). */
  private waiting = false;
  /** The server said FATAL: the close that follows needs no message of ours. */
  private upstreamSentFatal = false;

  constructor(
    socket: net.Socket,
    private readonly settings: ListenerSettings,
    private readonly registry: SessionRegistry,
  ) {
    this.client = socket;
    socket.setNoDelay(true);
    this.clientFramer = new MessageFramer(settings.maxMessageBytes, true);
    this.upstreamFramer = new MessageFramer(settings.maxMessageBytes, true);
  }

  get clientAddress(): string {
    const s = this.client as net.Socket;
    return `${s.remoteAddress}:${s.remotePort}`;
  }

  /** Runs the session to its end; never rejects (errors go to the client and the log). */
  async run(): Promise<void> {
    let queue = new MessageQueue(this.client, 'client', MAX_AUTH_MESSAGE, false);
    let authTimer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        authTimer = setTimeout(
          () => reject(fatal(SqlState.connectionFailure, 'authentication timed out')),
          this.settings.authTimeoutMs,
        );
      });
      const handshake = this.handshake(queue, (q) => (queue = q));
      const params = await Promise.race([handshake, timeout]);
      clearTimeout(authTimer);
      if (!params) {
        // A CancelRequest connection: PostgreSQL closes it without a reply.
        queue.release();
        this.client.destroy();
        this.phase = 'closed';
        return;
      }
      this.context = {
        connection: this.settings.connection,
        sessionId: this.id,
        actor: {
          ...this.settings.identity,
          agent: params.get('application_name') || undefined,
          ...(this.channel ? { channel: this.channel } : {}),
        },
        estimateRows: (sql) => this.estimateRows(sql, new Map(params)),
      };
      await this.checkStartupSettings(params);
      if (this.settings.gate.readOnlyUpstream(this.settings.connection)) {
        // Defence in depth: the server refuses writes even if a statement slipped past analysis.
        params.set('default_transaction_read_only', 'on');
      }
      pinLexicalEnvironment(params);
      this.phase = 'connecting-upstream';
      const up = await connectUpstream(this.settings.upstream, params);
      const deviation = up.startupMessages.map((m) => this.lexicalReport(m)).find((d) => d !== null);
      if (deviation) {
        up.socket.destroy();
        throw fatal(SqlState.featureNotSupported, `airlock: ${deviation}, which Airlock cannot lex`, {
          hint: LEXICAL_HINT,
        });
      }
      if (this.client.destroyed) {
        up.socket.destroy();
        this.close('client left while the upstream connected');
        return;
      }
      const gate = this.settings.gate;
      if (gate.catalogNeeded?.(this.settings.connection)) {
        const rows = await queryUpstream(up, CATALOG_QUERY, this.settings.upstream);
        gate.setCatalog?.(this.settings.connection, catalogFromRows(rows));
      }
      this.upstream = up.socket;
      this.upstreamKey = { processId: up.processId, secretKey: up.secretKey };
      this.processId = up.processId;
      for (const m of up.startupMessages) this.client.write(m);
      this.client.write(backendKeyData(this.processId, this.secretKey));
      this.client.write(readyForQuery(up.status));
      this.registry.add(this);
      const recorder = this.settings.recorder;
      if (recorder) {
        const { connection, actor } = this.context;
        const { host, port, database, user } = this.settings.upstream;
        const recording = gate.recordingPolicy?.() ?? { parameters: 'none' };
        const session = recorder.session(this.id, {
          connection,
          actor,
          application: params.get('application_name') || undefined,
          client: this.clientAddress,
          upstream: { host, port, database, user },
          policy: recording.policy,
        });
        this.log = new StatementLog(session, { rows: 20, bytes: 16 * 1024 }, recording.parameters);
      }
      this.startRelay(queue.release(), up.leftover);
      this.settings.log.debug(
        `[${this.settings.connection}] session ${this.id} from ${this.clientAddress} ready`,
      );
    } catch (err) {
      clearTimeout(authTimer);
      queue.release();
      this.failClient(err);
    }
  }

  /**
   * For a reviewer: the rows a write would affect, from a plain EXPLAIN on a connection of its own (the
   * client's is busy waiting; EXPLAIN without ANALYZE plans the statement and never runs it).
   */
  private async estimateRows(sql: string, params: Map<string, string>): Promise<number | null> {
    const up = await connectUpstream(this.settings.upstream, params);
    try {
      const rows = await queryUpstream(up, `EXPLAIN (FORMAT JSON) ${sql}`, this.settings.upstream);
      return writtenRows(JSON.parse(rows[0]?.[0] ?? 'null'));
    } finally {
      up.socket.destroy();
    }
  }

  // ---------- startup and authentication ----------

  /** Startup packet(s) and authentication; `swap` is told of the new queue when TLS replaces the socket. */
  private async handshake(
    queue: MessageQueue,
    swap: (q: MessageQueue) => void,
  ): Promise<Map<string, string> | null> {
    const wait = (what: string) => queue.next(this.settings.authTimeoutMs, what);
    let params: Map<string, string> | null = null;
    // As PostgreSQL: each of SSL and GSS encryption may be requested once, SSL last.
    let askedSsl = false;
    let askedGss = false;
    while (!params) {
      const { message } = await wait('the startup packet');
      const packet = decodeStartup(message);
      switch (packet.kind) {
        case 'cancel':
          await this.registry.cancel(packet.processId, packet.secretKey);
          return null;
        case 'gssenc':
          if (askedGss || askedSsl)
            throw fatal(SqlState.protocolViolation, 'duplicate GSSENC negotiation packet');
          askedGss = true;
          this.client.write(Buffer.from('N'));
          break;
        case 'ssl': {
          if (askedSsl) throw fatal(SqlState.protocolViolation, 'duplicate SSL negotiation packet');
          askedSsl = true;
          // Bytes sent before the answer cannot have been meant for it (CVE-2021-23214).
          if (queue.hasPending()) {
            throw fatal(SqlState.protocolViolation, 'received unencrypted data after SSL request', {
              hint: 'This could be evidence of a man-in-the-middle attack.',
            });
          }
          if (!this.settings.tls) {
            this.client.write(Buffer.from('N'));
            break;
          }
          queue.release();
          this.client.write(Buffer.from('S'));
          this.client = await this.startClientTls(this.client as net.Socket);
          queue = new MessageQueue(this.client, 'client', MAX_AUTH_MESSAGE, false);
          swap(queue);
          break;
        }
        case 'startup':
          params = packet.params;
      }
    }
    queue.setTyped();
    this.phase = 'authenticating';
    const user = params.get('user') ?? '';
    const database = params.get('database') || user;
    if (params.has('replication') && params.get('replication') !== 'false') {
      throw fatal(SqlState.featureNotSupported, 'replication connections are not proxied by Airlock');
    }
    if (user !== this.settings.user) {
      throw fatal(SqlState.invalidAuthorization, `role "${user}" is not served by this Airlock listener`, {
        hint: `Connect as "${this.settings.user}" (see the Airlock ready file or terminal environment).`,
      });
    }
    if (database !== this.settings.database) {
      throw fatal(
        SqlState.invalidCatalogName,
        `database "${database}" is not served by this Airlock listener`,
        {
          hint: `Connection "${this.settings.connection}" serves database "${this.settings.database}".`,
        },
      );
    }
    await this.authenticate(wait, user);
    params.delete('user');
    params.delete('database');
    return params;
  }

  /** Settings in the startup packet take effect like SET: the gate decides them the same way. */
  private async checkStartupSettings(params: Map<string, string>): Promise<void> {
    const context = this.context as GateContext;
    for (const { setting, value } of startupSettings(params)) {
      const decision = await this.settings.gate.decide(context, { protocol: 'startup', setting, value });
      if (decision.effect === 'deny') {
        const err = denialError(decision);
        throw fatal(err.code, `${err.message} (startup setting ${setting})`, err.options);
      }
    }
  }

  private startClientTls(socket: net.Socket): Promise<tls.TLSSocket> {
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: this.settings.tls });
    return new Promise((resolve, reject) => {
      secure.once('secure', () => resolve(secure));
      secure.once('error', (err) =>
        reject(fatal(SqlState.protocolViolation, `TLS handshake failed: ${err.message}`)),
      );
    });
  }

  private async authenticate(
    wait: (what: string) => Promise<{ type: number; message: Buffer }>,
    user: string,
  ) {
    this.client.write(authenticationSasl([SCRAM_MECHANISM]));
    const exchange = new ScramServerExchange(this.settings.verifier);
    const initial = await wait('SASLInitialResponse');
    if (initial.type !== Msg.password) {
      throw fatal(
        SqlState.protocolViolation,
        `expected SASL response, got message type "${String.fromCharCode(initial.type)}"`,
      );
    }
    const { mechanism, data } = decodeSaslInitial(initial.message);
    if (mechanism !== SCRAM_MECHANISM) {
      throw fatal(SqlState.protocolViolation, `client selected an invalid SASL authentication mechanism`);
    }
    const serverFirst = exchange.serverFirstMessage(data.toString('utf8'));
    this.client.write(authentication(AuthCode.saslContinue, Buffer.from(serverFirst)));
    const final = await wait('SASLResponse');
    if (final.type !== Msg.password) throw fatal(SqlState.protocolViolation, 'expected SASL response');
    const serverFinal = exchange.serverFinalMessage(decodeSaslResponse(final.message), user);
    this.channel = agentChannelOf(exchange.authenticated);
    this.client.write(authentication(AuthCode.saslFinal, Buffer.from(serverFinal)));
    this.client.write(authentication(AuthCode.ok));
  }

  // ---------- relay ----------

  private startRelay(clientLeftover: Buffer | null, upstreamLeftover: Buffer | null): void {
    const client = this.client;
    const upstream = this.upstream as net.Socket;
    this.phase = 'relaying';
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    upstream.on('data', (chunk: Buffer) => this.fromUpstream(chunk));
    client.on('error', (err) => this.close(`client error: ${err.message}`));
    upstream.on('error', (err) => this.upstreamLost(err.message));
    client.on('close', () => this.close('client disconnected'));
    upstream.on('close', () => this.upstreamLost('closed'));
    if (upstreamLeftover) this.fromUpstream(upstreamLeftover);
    if (clientLeftover) this.fromClient(clientLeftover);
  }

  private fromClient(chunk: Buffer): void {
    try {
      this.clientFramer.push(chunk, this.onFrontendMessage);
    } catch (err) {
      this.failClient(err);
      return;
    }
    this.pump();
  }

  private readonly onFrontendMessage = (_type: number, message: Buffer): void => {
    this.inbox.push(message);
  };

  /** Handles queued frontend messages in order; stops (and pauses the client) while a decision is pending. */
  private pump(): void {
    if (this.deciding || this.phase !== 'relaying') return;
    const out = new OutputBatch();
    const upstream = this.upstream as net.Socket;
    const context = this.context as GateContext;
    try {
      for (let i = 0; i < this.inbox.length; i++) {
        const message = this.inbox[i];
        const barrier = this.barrier(message[0]);
        if (barrier === 'wait') {
          out.flushTo(upstream);
          this.inbox = this.inbox.slice(i);
          this.waiting = true;
          this.client.pause();
          return;
        }
        const request = this.statementOf(message);
        if (!request) {
          this.forwardPlain(out, message);
          continue;
        }
        const decision =
          barrier === 'deny' ? UNSEEN_EFFECTS_PENDING : this.settings.gate.decide(context, request);
        if (decision instanceof Promise) {
          out.flushTo(upstream);
          this.inbox = this.inbox.slice(i);
          this.deciding = true;
          this.client.pause();
          decision.then(
            (d) => this.decided(d, request),
            (err: Error) => {
              // The client is told only that the gate failed: an exception's text is not policy and
              // could quote anything, so it goes to the log, never into a denial.
              this.settings.log.error(
                `[${this.settings.connection}] session ${this.id}: the gate failed: ${err.stack ?? err.message}`,
              );
              this.decided(GATE_FAILED, request);
            },
          );
          return;
        }
        this.forwardDecided(out, message, request, decision);
      }
      this.inbox = [];
    } catch (err) {
      this.failClient(err);
      return;
    }
    if (!out.flushTo(upstream)) this.waitForDrain(upstream, this.client);
  }

  /**
   * Whether a message that the server lexes (Query, Parse) must wait until the code with unseen effects
   * before it has run and its ParameterStatus reports have been checked — or, when it is in the same
   * pipeline (no Sync between them), cannot wait and is refused.
   */
  private barrier(type: number): 'none' | 'wait' | 'deny' {
    if (this.barrierRequest === null || (type !== Msg.query && type !== Msg.parse)) return 'none';
    // A Query inside an unsynced pipeline belongs to that request too: waiting for its end would wait forever.
    if (this.inFlight.tail === this.barrierRequest) return 'deny';
    return 'wait';
  }

  /**
   * For a ParameterStatus: why it breaks the parser's assumptions (see lexical-environment.ts), or null;
   * a new client encoding decodes the query texts from here on.
   */
  private lexicalReport(message: Buffer): string | null {
    if (message[0] !== Msg.parameterStatus) return null;
    const { name, value } = decodeParameterStatus(message);
    const deviation = lexicalDeviation(name, value);
    if (!deviation && name === 'client_encoding') this.decoding = clientDecoding(value) ?? undefined;
    return deviation;
  }

  /** After the ReadyForQuery of `done`: when it was the barrier, the held statements are decided now. */
  private liftBarrier(done: InFlightRequest): void {
    if (done !== this.barrierRequest) return;
    this.barrierRequest = null;
    if (!this.waiting) return;
    this.waiting = false;
    this.client.resume();
    this.pump();
  }

  /**
   * An allowed Query, Execute or FunctionCall is on its way: it joins the request being sent, with what
   * every stage needs to handle its replies.
   */
  private execute(
    protocol: 'simple' | 'extended' | 'execute' | 'fastpath',
    decision: AllowDecision,
    sql: string,
    portal?: string,
  ): void {
    const request = this.inFlight.tail;
    const kind = protocol === 'simple' ? 'query' : protocol === 'fastpath' ? 'fastpath' : 'execute';
    const e: Execution = { kind, decision, completed: 0, rows: 0, started: Date.now(), sampleBytes: 0 };
    request.executions.push(e);
    this.obligations.started(request, e);
    this.log?.started(e, protocol, sql, portal);
    if (decision.unseenEffects) this.barrierRequest = request;
  }

  private decided(decision: Decision, request: StatementRequest): void {
    if (this.phase !== 'relaying') return;
    this.deciding = false;
    const message = this.inbox.shift() as Buffer;
    const out = new OutputBatch();
    try {
      this.forwardDecided(out, message, request, decision);
    } catch (err) {
      this.failClient(err);
      return;
    }
    out.flushTo(this.upstream as net.Socket);
    this.client.resume();
    this.pump();
  }

  /** A message that carries no statement: bookkeeping for Bind/Close, then forwarded as it is. */
  private forwardPlain(out: OutputBatch, message: Buffer): void {
    switch (message[0]) {
      case Msg.bind: {
        const { portal, statement } = decodeBind(message);
        this.portals.set(portal, statement);
        this.log?.bound(portal, message);
        break;
      }
      case Msg.close: {
        const { kind, name } = decodeClose(message);
        if (kind === 'S') this.statements.delete(name);
        else {
          this.portals.delete(name);
          this.log?.unbound(name);
        }
        break;
      }
      case Msg.execute: {
        // Executing the unnamed statement: decided at its Parse; its obligations apply now.
        const portal = decodeExecutePortal(message);
        const statement = this.statements.get(this.portals.get(portal) ?? '\0');
        if (statement) this.execute('extended', statement.decision, statement.sql, portal);
        this.describeForMasking(out, portal);
        break;
      }
      case Msg.describe:
        this.masker.describeSent(this.inFlight.tail, false);
        break;
    }
    this.send(out, message);
  }

  /** With masking on, the portal about to run is described first, so its rows are masked by its columns. */
  private describeForMasking(out: OutputBatch, portal: string): void {
    if (!this.masker.active) return;
    out.add(describePortal(portal));
    this.masker.describeSent(this.inFlight.tail, true);
  }

  private forwardDecided(
    out: OutputBatch,
    message: Buffer,
    request: StatementRequest,
    decision: Decision,
  ): void {
    if (decision.effect === 'allow') {
      if (request.protocol === 'execute') this.describeForMasking(out, decodeExecutePortal(message));
      if (request.protocol === 'extended') {
        this.statements.set(request.statementName, { sql: request.sql, decision });
      } else if (request.protocol !== 'startup') {
        const sql =
          'sql' in request ? request.sql : `-- fast-path call of function OID ${request.functionOid}`;
        this.execute(request.protocol, decision, sql);
      }
      this.send(out, message);
      return;
    }
    this.settings.log.info(
      `[${this.settings.connection}] session ${this.id} denied (${decision.rule}): ${decision.reason}`,
    );
    const sql =
      'sql' in request
        ? request.sql
        : request.protocol === 'fastpath'
          ? `-- fast-path call of function OID ${request.functionOid}`
          : '';
    this.log?.denied(request.protocol, sql, decision);
    if (request.protocol === 'extended') this.statements.delete(request.statementName);
    // The replacement fails upstream in the same place the original would have run: a Query for a
    // Query or fast-path call, an (unnamed) Parse in an extended-protocol batch.
    const extended = request.protocol === 'extended' || request.protocol === 'execute';
    const replacement = replaceDenied(
      this.inFlight.tail,
      extended ? 'extended' : 'simple',
      request.protocol === 'extended' ? request.statementName : '',
      decision,
    );
    out.add(replacement);
    this.inFlight.sent(message[0]);
  }

  /** Forwards a frontend message; Query, Sync and FunctionCall close the request being sent. */
  private send(out: OutputBatch, message: Buffer): void {
    out.add(message);
    if (message[0] === Msg.terminate) this.phase = 'terminating';
    else this.inFlight.sent(message[0]);
  }

  /** The statement a frontend message carries, for the gate; null for messages that carry none. */
  private statementOf(message: Buffer): StatementRequest | null {
    switch (message[0]) {
      case Msg.query:
        return { protocol: 'simple', sql: decodeQuery(message, this.decoding) };
      case Msg.parse: {
        const { name, sql } = decodeParse(message, this.decoding);
        return { protocol: 'extended', sql, statementName: name };
      }
      case Msg.execute: {
        const portal = decodeExecutePortal(message);
        const name = this.portals.get(portal);
        // A portal no Bind made here is a cursor DECLAREd in SQL: running it fetches from it.
        if (name === undefined)
          return {
            protocol: 'execute',
            sql: `FETCH FORWARD ALL FROM ${quoteIdent(portal)}`,
            statementName: '',
          };
        // The unnamed statement was decided at its Parse, just before.
        if (name === '') return null;
        // Named prepared statements are decided again when run: the policy may have changed since Parse.
        const statement = this.statements.get(name);
        if (statement) return { protocol: 'execute', sql: statement.sql, statementName: name };
        // Bound from a statement no Parse made here: one PREPAREd in SQL, decided as EXECUTE of it.
        return { protocol: 'execute', sql: `EXECUTE ${quoteIdent(name)}`, statementName: name };
      }
      case Msg.functionCall:
        if (message.length < 9) throw fatal(SqlState.protocolViolation, 'invalid FunctionCall message');
        return { protocol: 'fastpath', functionOid: decodeFunctionCallOid(message) };
      default:
        return null;
    }
  }

  private fromUpstream(chunk: Buffer): void {
    try {
      this.upstreamFramer.push(chunk, this.onBackendMessage);
    } catch (err) {
      this.toClient.flushTo(this.client);
      this.failClient(err);
      return;
    }
    const upstream = this.upstream as net.Socket;
    if (!this.log) {
      if (!this.toClient.flushTo(this.client)) this.waitForDrain(this.client, upstream);
      return;
    }
    const log = this.log;
    // The events of what this chunk completes are in the journal before the client sees it.
    log.afterWrite((err) => {
      if (err) return this.failClient(recordingFailed(err));
      if (this.phase === 'closed') return;
      if (!this.settings.recorder?.strict) {
        if (!this.toClient.flushTo(this.client)) this.waitForDrain(this.client, upstream);
        return;
      }
      // Strict recording: nothing reaches the client before its events are synced to disk.
      upstream.pause();
      void log.durable.then(() => {
        if (this.phase === 'closed') return;
        if (this.toClient.flushTo(this.client)) upstream.resume();
        else this.client.once('drain', () => upstream.resume());
      });
    });
  }

  /**
   * One backend message on its way to the client (bound once: this runs for every message). The stages
   * run in a fixed order, each reading the in-flight request the message answers: the reply check, the
   * denial (Airlock's own error, taking the place of the upstream's before anything else sees it),
   * masking (nothing after it sees an unmasked value), obligations, the recording.
   */
  private readonly onBackendMessage = (type: number, raw: Buffer): void => {
    if (this.phase === 'closed') return;
    const request = this.inFlight.head;
    const problem =
      verifyReply(request, type, raw) ?? (type === Msg.parameterStatus ? this.lexicalReport(raw) : null);
    if (problem) return this.alarm(problem);
    if (type === Msg.errorResponse && isFatal(raw)) this.upstreamSentFatal = true;
    const denial = type === Msg.errorResponse ? answerDenied(request, raw) : null;
    const message = denial ?? this.masker.backend(request, type, raw);
    if (message !== null) {
      const verdict = denial ? 'pass' : this.obligations.backend(request, type, message);
      if (verdict === 'pass') this.emit(request, message);
      else if (verdict !== 'drop') for (const b of verdict) this.emit(request, b);
    }
    const ended = this.inFlight.answered(type);
    if (ended === undefined) return;
    if (ended === request) {
      for (const e of request.unfinished()) this.executionEnded(e);
      this.liftBarrier(request);
    } else this.executionEnded(ended as Execution);
  };

  private emit(request: InFlightRequest, message: Buffer): void {
    this.log?.backend(request, message[0], message);
    this.toClient.add(message);
  }

  private executionEnded(e: Execution): void {
    this.obligations.ended(e);
    this.log?.ended(e);
  }

  /** Backpressure: stop reading the source until the destination has drained. */
  private waitForDrain(dest: Duplex, source: Duplex): void {
    source.pause();
    dest.once('drain', () => {
      if (!(source === this.client && (this.deciding || this.waiting))) source.resume();
    });
  }

  /**
   * The server did something Airlock did not decide (a parser differential, or a lexical setting changed
   * where nobody could see it): the session ends at once, what is still running is cancelled so that its
   * transaction cannot commit, nothing more reaches the client, and the alarm is recorded.
   */
  private alarm(problem: string): void {
    this.settings.log.error(`[${this.settings.connection}] session ${this.id}: ALARM: ${problem}`);
    this.log?.alarm(problem);
    void this.cancel().catch(() => undefined);
    this.toClient.discard();
    this.failClient(
      new PgError(SqlState.internalError, `airlock: ${problem}; the session is ended`, {
        severity: 'FATAL',
        detail:
          "The server's reply does not match what Airlock analysed and decided. This is recorded as an alarm.",
        hint: 'Report it to whoever runs Airlock, with the session id from the recording; reconnect to continue.',
      }),
    );
  }

  // ---------- cancel and teardown ----------

  /** Forwards a client's CancelRequest to the upstream backend serving this session. */
  async cancel(): Promise<void> {
    if (this.phase !== 'relaying') return;
    await cancelUpstream(this.settings.upstream, this.upstreamKey.processId, this.upstreamKey.secretKey);
  }

  /** Ends the session as a server shutdown does: the client is told why (57P01). */
  shutdown(): void {
    this.failClient(fatal(SqlState.adminShutdown, 'terminating connection because Airlock is shutting down'));
  }

  private upstreamLost(why: string): void {
    if (this.phase === 'closed') return;
    // After Terminate, or after the server's own FATAL (already forwarded), the client just gets EOF.
    if (this.phase === 'terminating' || this.upstreamSentFatal) {
      this.close(`upstream ${why}`);
      return;
    }
    this.failClient(
      fatal(SqlState.connectionFailure, `upstream connection ${why}`, {
        hint: 'The database server closed the session; reconnect.',
      }),
    );
  }

  /** Sends the error to the client (when it can still hear it) and ends the session. */
  private failClient(err: unknown): void {
    if (this.phase === 'closed') return;
    const pgErr =
      err instanceof PgError
        ? err
        : new PgError(SqlState.internalError, `airlock: ${(err as Error).message}`, { severity: 'FATAL' });
    const raw = err instanceof UpstreamStartupError ? err.raw : errorResponse(pgErr);
    if (!(err instanceof PgError))
      this.settings.log.error(`[${this.settings.connection}] ${String((err as Error).stack ?? err)}`);
    else
      this.settings.log.info(
        `[${this.settings.connection}] session ${this.id}: ${pgErr.code} ${pgErr.message}`,
      );
    if (this.client.writable) this.client.end(raw);
    this.close(pgErr.message);
  }

  close(why: string): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.registry.remove(this);
    // What was still running is recorded as it stands, and its timers stop.
    for (const request of this.inFlight.all()) for (const e of request.unfinished()) this.executionEnded(e);
    this.settings.gate.endSession(this.id);
    this.log?.end(why);
    this.settings.log.debug(`[${this.settings.connection}] session ${this.id} closed: ${why}`);
    this.upstream?.end();
    const client = this.client;
    if (client.writable) client.end();
    // A client that stops reading must not keep the socket (and its buffers) alive.
    setTimeout(() => {
      client.destroy();
      this.upstream?.destroy();
    }, 5000).unref();
  }
}

const LEXICAL_HINT =
  "Airlock lexes SQL with standard_conforming_strings=on and a UTF-8 client encoding: use E'...' strings for backslash escapes and client_encoding UTF8 (PGCLIENTENCODING=UTF8).";

/** Refused in a pipeline behind code whose effects Airlock cannot see (see ClientSession.barrier). */
const UNSEEN_EFFECTS_PENDING: Decision = {
  effect: 'deny',
  rule: 'lexical-environment',
  reason:
    'a statement in the same pipeline as code whose effects Airlock cannot see (DO, CALL, a function not known to be safe) is not decided before that code has run',
  hint: 'Send Sync after that statement (end the pipeline), then send the next one.',
};

const GATE_FAILED: Decision = {
  effect: 'deny',
  rule: 'gate-error',
  reason: 'the gate failed while deciding this statement',
  hint: 'See the Airlock log.',
};

/** A ModifyTable plan writes what its input node produces. */
function writtenRows(plan: unknown): number | null {
  const top = (plan as Array<{ Plan?: Record<string, unknown> }> | null)?.[0]?.Plan;
  if (!top) return null;
  const input =
    top['Node Type'] === 'ModifyTable' ? (top.Plans as Array<Record<string, unknown>> | undefined)?.[0] : top;
  const rows = input?.['Plan Rows'];
  return typeof rows === 'number' ? rows : null;
}

/** Fail closed: a result whose events cannot be recorded is not released. */
function recordingFailed(err: Error): PgError {
  return new PgError(
    SqlState.ioError,
    `airlock: the session recording could not be written: ${err.message}`,
    {
      severity: 'FATAL',
      hint: 'Results are released only once recorded. Check the recordings folder (space, permissions) and reconnect.',
    },
  );
}
