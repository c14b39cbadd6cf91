import type { Decision } from '../../core/gate/decision';
import type { StatementRecord } from '../../core/recording/events';
import { Msg } from './protocol/messages';

export type AllowDecision = Extract<Decision, { effect: 'allow' }>;

/**
 * One allowed statement run upstream: a Query (all of its statements), an Execute, or a fast-path call.
 * Each stage keeps what it needs of it here, so that the stages agree by construction on which statement
 * a backend message belongs to.
 */
export interface Execution {
  kind: 'query' | 'execute' | 'fastpath';
  decision: AllowDecision;
  /** Statements completed so far (reply-verifier.ts). */
  completed: number;
  /** Rows of the current result counted against the row limit; the timeout; why Airlock cancelled it (obligations.ts). */
  rows: number;
  timer?: NodeJS.Timeout;
  cancelled?: 'timeout' | 'rows';
  /** The recording of the statement (statement-log.ts), when the session is recorded. */
  record?: StatementRecord;
  started: number;
  sampleBytes: number;
}

/** A denied statement, replaced upstream by one failing with an error that names the marker (denial.ts). */
export interface Denial {
  marker: string;
  error: Buffer;
}

/**
 * One request sent upstream and answered by one ReadyForQuery: a Query, a FunctionCall, or the
 * extended-protocol messages up to and including Sync. It says what to do with every reply to it.
 */
export class InFlightRequest {
  /** Its Query, Sync or FunctionCall has gone upstream: a ReadyForQuery will end it. */
  closed = false;
  /** Allowed statements, in the order their results come back. */
  readonly executions: Execution[] = [];
  /** How many executions have ended: the next one is the one whose results are arriving. */
  ended = 0;
  /** Denied statements, in order (null: none, the common case). */
  denials: Denial[] | null = null;
  /** Describes sent, in order: true for the ones Airlock injected before an Execute (result-masker.ts). */
  describes: boolean[] | null = null;
  describesAnswered = 0;
  /** An error ended the request's work: what did not complete was skipped by the server. */
  failed = false;

  /** The execution whose results are arriving, if any. */
  get execution(): Execution | undefined {
    return this.executions[this.ended];
  }

  /** The current execution has ended; returns it. */
  endExecution(): Execution | undefined {
    return this.executions[this.ended++];
  }

  /** Ends every execution not yet ended, in order (at ReadyForQuery, or when the session ends). */
  endAll(visit: (e: Execution) => void): void {
    while (this.ended < this.executions.length) visit(this.executions[this.ended++]);
  }
}

/**
 * The session's requests in flight, in the manner of pgbouncer's outstanding requests: frontend messages
 * are added to the tail (the request being built), backend messages answer the head. Replies come in the
 * order of requests, so the head is always the request the next backend message belongs to.
 */
export class InFlightQueue {
  private requests: InFlightRequest[] = [new InFlightRequest()];

  /** The request the backend is answering. */
  get head(): InFlightRequest {
    return this.requests[0];
  }

  /** The request frontend messages are added to: not yet closed by Query, Sync or FunctionCall. */
  get tail(): InFlightRequest {
    return this.requests[this.requests.length - 1];
  }

  /** Whether nothing was sent after `request` closed (so a cancel cannot hit a later statement). */
  isLastClosed(request: InFlightRequest): boolean {
    return request.closed && this.requests[this.requests.length - 2] === request;
  }

  /** A frontend message went upstream: Query, Sync and FunctionCall close the tail. */
  sent(type: number): void {
    if (type !== Msg.query && type !== Msg.sync && type !== Msg.functionCall) return;
    this.tail.closed = true;
    this.requests.push(new InFlightRequest());
  }

  /**
   * A backend message has passed every stage. Returns the execution it ended (CommandComplete,
   * PortalSuspended, EmptyQueryResponse or an error of an Execute), or, at ReadyForQuery, the request.
   */
  answered(type: number): Execution | InFlightRequest | undefined {
    const head = this.head;
    switch (type) {
      case Msg.readyForQuery:
        this.requests.shift();
        if (this.requests.length === 0) this.requests.push(new InFlightRequest());
        return head;
      case Msg.errorResponse:
        head.failed = true;
        return head.execution?.kind === 'execute' ? head.endExecution() : undefined;
      case Msg.commandComplete:
      case Msg.portalSuspended:
      case Msg.emptyQueryResponse:
        return head.execution?.kind === 'execute' ? head.endExecution() : undefined;
      default:
        return undefined;
    }
  }

  /** Every request still in flight, oldest first (the session is ending). */
  all(): readonly InFlightRequest[] {
    return this.requests;
  }
}
