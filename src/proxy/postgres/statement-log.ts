import type { Decision } from '../../core/gate/decision';
import type { SessionRecorder } from '../../core/recording/recorder';
import type { StatementRecord } from '../../core/recording/events';
import { recordedText } from '../../core/sql/recorded-text';
import {
  DataRowCursor,
  decodeBindParameters,
  decodeCommandTag,
  decodeErrorFields,
  decodeRowDescription,
} from './protocol/decode';
import { Msg } from './protocol/messages';
import type { Execution, InFlightRequest } from './in-flight-queue';

/**
 * Follows each statement from its decision to its end on the backend stream and records it: the
 * decision, the command tags, the error, the duration and a bounded sample of the rows exactly as the
 * client received them (after masking). The in-flight queue says which statement a message belongs to;
 * a statement's event is written when its end passes, before that end reaches the client.
 */
export class StatementLog {
  private columns: string[] = [];
  /** Bind messages by portal, decoded only when their Execute is recorded. */
  private readonly binds = new Map<string, Buffer>();
  private readonly cursor = new DataRowCursor();

  constructor(
    private readonly recorder: SessionRecorder,
    private readonly sample: { rows: number; bytes: number },
    private readonly parameters: 'none' | 'all',
  ) {}

  /** A denied statement is recorded at once: it never runs. */
  denied(protocol: string, sql: string, decision: Decision): void {
    this.recorder.statement(
      withDetails(
        {
          protocol,
          sql,
          decision: 'deny',
          rule: decision.rule,
          reason: decision.effect === 'deny' ? decision.reason : undefined,
        },
        decision,
      ),
    );
  }

  bound(portal: string, message: Buffer): void {
    this.binds.set(portal, message);
  }

  unbound(portal: string): void {
    this.binds.delete(portal);
  }

  /** An allowed Query or Execute (of `portal`) was sent upstream. */
  started(e: Execution, protocol: string, sql: string, portal?: string): void {
    const decision = e.decision;
    const record = withDetails({ protocol, sql, decision: 'allow', rule: decision.rule, tags: [] }, decision);
    const bind = portal === undefined ? undefined : this.binds.get(portal);
    if (bind) {
      const values = decodeBindParameters(bind);
      if (this.parameters === 'all' && !decision.redactLiterals) record.parameters = values;
      else if (values.length > 0) record.parameterCount = values.length;
    }
    e.record = record;
  }

  /** Calls `release` once the events recorded so far are in the journal file (an error if they cannot be). */
  afterWrite(release: (err?: Error) => void): void {
    this.recorder.afterWrite(release);
  }

  /** Resolves when the events recorded so far are as durable as the journal promises. */
  get durable(): Promise<void> {
    return this.recorder.durable;
  }

  /** Sees every backend message after masking (the bytes the client gets). */
  backend(request: InFlightRequest, type: number, message: Buffer): void {
    const record = request.execution?.record;
    switch (type) {
      case Msg.rowDescription:
        this.columns = decodeRowDescription(message).map((f) => f.name);
        return;
      case Msg.dataRow:
        if (record) this.addRow(request.execution as Execution, record, message);
        return;
      case Msg.commandComplete:
        record?.tags?.push(decodeCommandTag(message));
        return;
      case Msg.errorResponse:
        if (record) {
          const f = decodeErrorFields(message);
          record.error = { code: f.C ?? '', message: f.M ?? '' };
        }
        return;
    }
  }

  private addRow(e: Execution, record: StatementRecord, message: Buffer): void {
    const sample = (record.sample ??= { columns: this.columns, rows: [], truncated: false });
    if (sample.rows.length >= this.sample.rows || e.sampleBytes + message.length > this.sample.bytes) {
      sample.truncated = true;
      return;
    }
    e.sampleBytes += message.length;
    const row: Array<string | null> = [];
    const cursor = this.cursor.reset(message);
    while (cursor.next()) row.push(cursor.text());
    sample.rows.push(row);
  }

  /** The execution ended (its CommandComplete, error, or its request's ReadyForQuery passed): its event is written. */
  ended(e: Execution): void {
    const record = e.record;
    if (!record) return;
    e.record = undefined;
    record.durationMs = Date.now() - e.started;
    this.recorder.statement(record);
  }

  /** The server did something that was not decided (see ClientSession.alarm). */
  alarm(reason: string): void {
    this.recorder.event('alarm', { reason });
  }

  /** The session ended (what was still running is recorded as it stands by the caller, via ended()). */
  end(why: string): void {
    this.recorder.end(why);
  }
}

/** Adds what the decision knows to the record, and redacts its text, in place (once per statement: no copy). */
function withDetails(record: StatementRecord, d: Decision): StatementRecord {
  record.sql = recordedText(record.sql, d.redactLiterals);
  if (d.facts) record.facts = d.facts;
  if (d.review) record.review = d.review;
  if (d.redactLiterals) record.literalsRedacted = true;
  return record;
}
