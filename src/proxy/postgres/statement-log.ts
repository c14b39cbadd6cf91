import type { Decision } from '../../core/gate/decision';
import type { SessionRecorder } from '../../core/recording/recorder';
import type { StatementRecord } from '../../core/recording/events';
import { recordedText } from '../../core/sql/recorded-text';
import { Msg, decodeBindParameters, decodeErrorFields } from './protocol/messages';

interface Open {
  record: StatementRecord;
  started: number;
  cycle: number;
  extended: boolean;
  bytes: number;
}

/**
 * Follows each statement from its decision to its end on the backend stream and records it: the
 * decision, the command tags, the error, the duration and a bounded sample of the rows exactly as the
 * client received them (after masking). Results are matched to statements by order, as the protocol
 * guarantees; a statement's event is written when its end passes, before that end reaches the client.
 */
export class StatementLog {
  private open: Open[] = [];
  private cyclesSent = 0;
  private cyclesDone = 0;
  private columns: string[] = [];
  /** Bind messages by portal, decoded only when their Execute is recorded. */
  private readonly binds = new Map<string, Buffer>();

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
  started(protocol: string, sql: string, decision: Decision, extended: boolean, portal?: string): void {
    const record = withDetails({ protocol, sql, decision: 'allow', rule: decision.rule, tags: [] }, decision);
    const bind = portal === undefined ? undefined : this.binds.get(portal);
    if (bind) {
      const values = decodeBindParameters(bind);
      if (this.parameters === 'all' && !decision.redactLiterals) record.parameters = values;
      else if (values.length > 0) record.parameterCount = values.length;
    }
    this.open.push({
      record,
      started: Date.now(),
      cycle: this.cyclesSent + 1,
      extended,
      bytes: 0,
    });
  }

  cycleSent(): void {
    this.cyclesSent++;
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
  backend(type: number, message: Buffer): void {
    const current = this.open[0]?.cycle === this.cyclesDone + 1 ? this.open[0] : undefined;
    switch (type) {
      case Msg.rowDescription:
        this.columns = rowDescriptionNames(message);
        return;
      case Msg.dataRow:
        if (current) this.addRow(current, message);
        return;
      case Msg.commandComplete:
        if (!current) return;
        current.record.tags?.push(message.toString('utf8', 5, message.length - 1));
        if (current.extended) this.finish();
        return;
      case Msg.portalSuspended:
      case Msg.emptyQueryResponse:
        if (current?.extended) this.finish();
        return;
      case Msg.errorResponse:
        if (current) {
          const f = decodeErrorFields(message);
          current.record.error = { code: f.C ?? '', message: f.M ?? '' };
          if (current.extended) this.finish();
        }
        return;
      case Msg.readyForQuery:
        this.cyclesDone++;
        while (this.open.length && this.open[0].cycle <= this.cyclesDone) this.finish();
        return;
    }
  }

  private addRow(o: Open, message: Buffer): void {
    const sample = (o.record.sample ??= { columns: this.columns, rows: [], truncated: false });
    if (sample.rows.length >= this.sample.rows || o.bytes + message.length > this.sample.bytes) {
      sample.truncated = true;
      return;
    }
    o.bytes += message.length;
    const row: Array<string | null> = [];
    let offset = 7;
    for (let i = message.readInt16BE(5); i > 0; i--) {
      const len = message.readInt32BE(offset);
      offset += 4;
      row.push(len < 0 ? null : message.toString('utf8', offset, offset + len));
      offset += Math.max(len, 0);
    }
    sample.rows.push(row);
  }

  private finish(): void {
    const o = this.open.shift();
    if (!o) return;
    o.record.durationMs = Date.now() - o.started;
    this.recorder.statement(o.record);
  }

  /** The server did something that was not decided (see ClientSession.alarm). */
  alarm(reason: string): void {
    this.recorder.event('alarm', { reason });
  }

  /** The session ended: what was still running is recorded as it stands. */
  end(why: string): void {
    while (this.open.length) this.finish();
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

function rowDescriptionNames(message: Buffer): string[] {
  const names: string[] = [];
  let offset = 7;
  for (let i = message.readInt16BE(5); i > 0; i--) {
    const end = message.indexOf(0, offset);
    names.push(message.toString('utf8', offset, end));
    offset = end + 1 + 18;
  }
  return names;
}
