import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { DecisionContext, SqlOperation } from '../../core/gate/operation';
import type { Decision } from '../../core/gate/decision';
import { quoteIdent } from '../../core/sql/quote';
import { PgError, SqlState, fatal } from './protocol/errors';
import { MessageFramer } from './protocol/framing';
import { Msg } from './protocol/messages';
import {
  decodeBind,
  decodeClose,
  decodeExecutePortal,
  decodeFunctionCallOid,
  decodeParse,
  decodeQuery,
  isFatal,
} from './protocol/decode';
import { describePortal } from './protocol/encode';
import { OutputBatch } from './output-batch';
import { answerDenied, replaceDenied } from './denial';
import { ObligationTracker } from './obligations';
import { ResultMasker } from './result-masker';
import { verifyReply } from './reply-verifier';
import type { StatementLog } from './statement-log';
import type { LexicalEnvironment } from './lexical-environment';
import { InFlightQueue, type AllowDecision, type Execution, type InFlightRequest } from './in-flight-queue';
import type { ListenerSettings, SessionPhase } from './session';

/** What the relay needs of its session: its state, and the teardown it hands over to. */
/** A statement as the client sent it: the message form it came in, and its text for the gate. */
type StatementRequest =
  | { protocol: 'simple'; sql: string }
  | { protocol: 'extended'; sql: string; statementName: string }
  /** A named prepared statement, decided again when it is executed (the policy may have changed). */
  | { protocol: 'execute'; sql: string; statementName: string }
  | { protocol: 'fastpath'; functionOid: number };

/** What the gate decides for a request: the text the server will run, or the function it will call. */
function operationOf(request: StatementRequest): SqlOperation {
  return 'sql' in request
    ? { kind: 'sql', text: request.sql }
    : { kind: 'sql', functionOid: request.functionOid };
}

export interface RelayedSession {
  readonly id: string;
  phase: SessionPhase;
  cancel(): Promise<void>;
  alarm(problem: string): void;
  failClient(err: unknown): void;
  upstreamLost(why: string): void;
  close(why: string): void;
}

/**
 * The relay: frontend messages are framed once, statements go through the gate before they are forwarded
 * (a denied one replaced in place), and backend messages stream back through the stages — each reading
 * the in-flight request they answer — with backpressure in both directions.
 */
export class Relay {
  /** Requests sent upstream and not yet answered: what to do with each reply. */
  private readonly inFlight = new InFlightQueue();
  private readonly obligations = new ObligationTracker(this.inFlight, () => void this.session.cancel());
  private readonly masker: ResultMasker;
  /**
   * The request whose ReadyForQuery must pass before the next statement is lexed: one that ran code whose
   * effects Airlock cannot see, whose ParameterStatus reports are checked first (null: none).
   */
  private barrierRequest: InFlightRequest | null = null;
  /** Prepared statements (protocol level) → their SQL and the decision taken at Parse. */
  private readonly statements = new Map<string, { sql: string; decision: AllowDecision }>();
  /** Portals → the statement they were bound from. */
  private readonly portals = new Map<string, string>();
  private readonly clientFramer: MessageFramer;
  private readonly upstreamFramer: MessageFramer;
  /** Backend messages of the chunk being relayed, written to the client once per chunk. */
  private readonly toClient = new OutputBatch();
  /** Frontend messages framed but not yet handled because a decision is pending. */
  private inbox: Buffer[] = [];
  private deciding = false;
  /** The inbox waits for the barrier's ReadyForQuery (see barrierRequest). */
  private waiting = false;
  /** The server said FATAL: the close that follows needs no message of ours. */
  upstreamSentFatal = false;

  constructor(
    private readonly session: RelayedSession,
    private readonly settings: ListenerSettings,
    private readonly context: DecisionContext,
    private readonly client: Duplex,
    private readonly upstream: net.Socket,
    private readonly lexical: LexicalEnvironment,
    private readonly log: StatementLog | null,
  ) {
    this.clientFramer = new MessageFramer(settings.maxMessageBytes, true);
    this.upstreamFramer = new MessageFramer(settings.maxMessageBytes, true);
    this.masker = new ResultMasker(() => settings.services.resultMasking());
  }

  /** Starts relaying, with the bytes each side sent beyond its handshake. */
  start(clientLeftover: Buffer | null, upstreamLeftover: Buffer | null): void {
    const { client, upstream, session } = this;
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    upstream.on('data', (chunk: Buffer) => this.fromUpstream(chunk));
    client.on('error', (err) => session.close(`client error: ${err.message}`));
    upstream.on('error', (err) => session.upstreamLost(err.message));
    client.on('close', () => session.close('client disconnected'));
    upstream.on('close', () => session.upstreamLost('closed'));
    if (upstreamLeftover) this.fromUpstream(upstreamLeftover);
    if (clientLeftover) this.fromClient(clientLeftover);
  }

  private fromClient(chunk: Buffer): void {
    try {
      this.clientFramer.push(chunk, this.onFrontendMessage);
    } catch (err) {
      this.session.failClient(err);
      return;
    }
    this.pump();
  }

  private readonly onFrontendMessage = (_type: number, message: Buffer): void => {
    this.inbox.push(message);
  };

  /** Handles queued frontend messages in order; stops (and pauses the client) while a decision is pending. */
  private pump(): void {
    if (this.deciding || this.session.phase !== 'relaying') return;
    const out = new OutputBatch();
    const upstream = this.upstream;
    const context = this.context;
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
          barrier === 'deny'
            ? UNSEEN_EFFECTS_PENDING
            : this.settings.gate.decide(context, operationOf(request));
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
                `[${this.settings.connection}] session ${this.session.id}: the gate failed: ${err.stack ?? err.message}`,
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
      this.session.failClient(err);
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
    if (this.session.phase !== 'relaying') return;
    this.deciding = false;
    const message = this.inbox.shift() as Buffer;
    const out = new OutputBatch();
    try {
      this.forwardDecided(out, message, request, decision);
    } catch (err) {
      this.session.failClient(err);
      return;
    }
    out.flushTo(this.upstream);
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
      } else {
        const sql =
          'sql' in request ? request.sql : `-- fast-path call of function OID ${request.functionOid}`;
        this.execute(request.protocol, decision, sql);
      }
      this.send(out, message);
      return;
    }
    this.settings.log.info(
      `[${this.settings.connection}] session ${this.session.id} denied (${decision.rule}): ${decision.reason}`,
    );
    const sql = 'sql' in request ? request.sql : `-- fast-path call of function OID ${request.functionOid}`;
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
    if (message[0] === Msg.terminate) this.session.phase = 'terminating';
    else this.inFlight.sent(message[0]);
  }

  /** The statement a frontend message carries, for the gate; null for messages that carry none. */
  private statementOf(message: Buffer): StatementRequest | null {
    switch (message[0]) {
      case Msg.query:
        return { protocol: 'simple', sql: decodeQuery(message, this.lexical.decoding) };
      case Msg.parse: {
        const { name, sql } = decodeParse(message, this.lexical.decoding);
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
      this.session.failClient(err);
      return;
    }
    const upstream = this.upstream;
    if (!this.log) {
      if (!this.toClient.flushTo(this.client)) this.waitForDrain(this.client, upstream);
      return;
    }
    const log = this.log;
    // The events of what this chunk completes are in the journal before the client sees it.
    log.afterWrite((err) => {
      if (err) return this.session.failClient(recordingFailed(err));
      if (this.session.phase === 'closed') return;
      if (!this.settings.recorder?.strict) {
        if (!this.toClient.flushTo(this.client)) this.waitForDrain(this.client, upstream);
        return;
      }
      // Strict recording: nothing reaches the client before its events are synced to disk.
      upstream.pause();
      log.durable.then(
        () => {
          if (this.session.phase === 'closed') return;
          if (this.toClient.flushTo(this.client)) upstream.resume();
          else this.client.once('drain', () => upstream.resume());
        },
        (err: Error) => this.session.failClient(recordingFailed(err)),
      );
    });
  }

  /**
   * One backend message on its way to the client (bound once: this runs for every message). The stages
   * run in a fixed order, each reading the in-flight request the message answers: the reply check, the
   * denial (Airlock's own error, taking the place of the upstream's before anything else sees it),
   * masking (nothing after it sees an unmasked value), obligations, the recording.
   */
  private readonly onBackendMessage = (type: number, raw: Buffer): void => {
    if (this.session.phase === 'closed') return;
    const request = this.inFlight.head;
    const problem =
      verifyReply(request, type, raw) ?? (type === Msg.parameterStatus ? this.lexical.report(raw) : null);
    if (problem) return this.session.alarm(problem);
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
      request.endAll(this.executionEnded);
      this.liftBarrier(request);
    } else this.executionEnded(ended as Execution);
  };

  private emit(request: InFlightRequest, message: Buffer): void {
    this.log?.backend(request, message[0], message);
    this.toClient.add(message);
  }

  /** Bound once: it runs at every ReadyForQuery. */
  private readonly executionEnded = (e: Execution): void => {
    this.obligations.ended(e);
    this.log?.ended(e);
  };

  /** Backpressure: stop reading the source until the destination has drained. */
  private waitForDrain(dest: Duplex, source: Duplex): void {
    source.pause();
    dest.once('drain', () => {
      if (!(source === this.client && (this.deciding || this.waiting))) source.resume();
    });
  }

  /** Nothing more may reach the client (the session ends on an alarm). */
  discardOutput(): void {
    this.toClient.discard();
  }

  /** The session ended: what was still running is recorded as it stands, and its timers stop. */
  stop(): void {
    for (const request of this.inFlight.all()) request.endAll(this.executionEnded);
  }
}

/** Refused in a pipeline behind code whose effects Airlock cannot see (see Relay.barrierRequest). */
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
