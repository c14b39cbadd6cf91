/**
 * The session replay view's messages, shared by the extension (replay-panel.ts) and the page
 * (webview/replay): the extension sends a session and its events (and appends while it is live), the
 * page posts `ready` and export requests. Events are the recording's own (core/recording/events.ts): a
 * statement's data is checked against the schema the journal is read with; kinds this version does not
 * know are let through and shown generically (recordings outlive viewers).
 */
import {
  EVENT_DATA_SCHEMAS,
  EXPORT_FORMATS,
  SESSION_INTEGRITY,
  sampleRowMismatch,
  type EventEnvelope,
  type ExportFormat,
  type RecordedEvent,
  type SessionSummary,
  type StatementRecord,
} from '../../core/recording/events';
import {
  actor,
  arr,
  bool,
  conforms,
  fail,
  isoTime,
  num,
  oneOf,
  parser,
  record,
  shape,
  str,
  type WebviewActor,
} from './checks';

/** The session as the replay view shows it. */
export type ReplaySession = Pick<
  SessionSummary,
  | 'id'
  | 'connection'
  | 'client'
  | 'started'
  | 'ended'
  | 'live'
  | 'statements'
  | 'denials'
  | 'integrity'
  | 'integrityProblem'
> & { actor: WebviewActor };

/** A recorded event as the view receives it (the chain's fields stay in the host). */
export interface ReplayEvent extends Pick<EventEnvelope, 'seq' | 'time'> {
  type: string;
  data: object;
}

/** Extension → replay view. */
export type ReplayViewMessage =
  | { type: 'session'; session: ReplaySession; events: ReplayEvent[] }
  | { type: 'append'; sessionId: string; events: ReplayEvent[] };

/** Replay view → extension. */
export type ReplayViewReply = { type: 'ready' } | { type: 'export'; sessionId: string; format: ExportFormat };

export function replaySession(s: SessionSummary): ReplaySession {
  return {
    id: s.id,
    connection: s.connection,
    actor: {
      user: s.user,
      ...(s.agent ? { agent: s.agent } : {}),
      ...(s.channel ? { channel: s.channel } : {}),
    },
    client: s.client,
    started: s.started,
    ...(s.ended ? { ended: s.ended } : {}),
    live: s.live,
    statements: s.statements,
    denials: s.denials,
    integrity: s.integrity,
    ...(s.integrityProblem ? { integrityProblem: s.integrityProblem } : {}),
  };
}

export function replayEvent(e: RecordedEvent): ReplayEvent {
  return { seq: e.seq, time: e.time, type: e.type, data: e.data };
}

export function assertReplaySession(x: unknown, path = 'session'): ReplaySession {
  const r = shape(
    x,
    path,
    ['id', 'connection', 'actor', 'client', 'started', 'live', 'statements', 'denials', 'integrity'],
    ['ended', 'integrityProblem'],
  );
  str(r.id, `${path}.id`, { nonEmpty: true });
  str(r.connection, `${path}.connection`);
  actor(r.actor, `${path}.actor`);
  str(r.client, `${path}.client`);
  isoTime(r.started, `${path}.started`);
  if (r.ended !== undefined) isoTime(r.ended, `${path}.ended`);
  bool(r.live, `${path}.live`);
  num(r.statements, `${path}.statements`, { integer: true, min: 0 });
  num(r.denials, `${path}.denials`, { integer: true, min: 0 });
  oneOf(r.integrity, `${path}.integrity`, SESSION_INTEGRITY);
  if (r.integrityProblem !== undefined) str(r.integrityProblem, `${path}.integrityProblem`);
  return r as unknown as ReplaySession;
}

/** A statement event's data, by the recording's schema. */
export function assertStatementRecord(x: unknown, path = 'data'): StatementRecord {
  conforms(EVENT_DATA_SCHEMAS.statement, x, path);
  const s = x as StatementRecord;
  const row = s.sample ? sampleRowMismatch(s.sample) : -1;
  if (row >= 0) fail(`${path}.sample.rows[${row}]`, 'wrong number of values');
  return s;
}

export function assertReplayEvent(x: unknown, path = 'event'): ReplayEvent {
  const r = shape(x, path, ['seq', 'time', 'type', 'data']);
  num(r.seq, `${path}.seq`, { integer: true, min: 0 });
  isoTime(r.time, `${path}.time`);
  str(r.type, `${path}.type`, { nonEmpty: true, max: 100 });
  record(r.data, `${path}.data`);
  if (r.type === 'statement') assertStatementRecord(r.data, `${path}.data`);
  return r as unknown as ReplayEvent;
}

function events(x: unknown, path: string): ReplayEvent[] {
  let last = -Infinity;
  return arr(x, path).map((e, i) => {
    const ev = assertReplayEvent(e, `${path}[${i}]`);
    if (ev.seq <= last) fail(`${path}[${i}].seq`, 'events must be in increasing seq order');
    last = ev.seq;
    return ev;
  });
}

export function assertReplayViewMessage(x: unknown): ReplayViewMessage {
  const type = record(x, 'message').type;
  if (type === 'session') {
    const r = shape(x, 'message', ['type', 'session', 'events']);
    assertReplaySession(r.session, 'message.session');
    events(r.events, 'message.events');
    return r as unknown as ReplayViewMessage;
  }
  if (type === 'append') {
    const r = shape(x, 'message', ['type', 'sessionId', 'events']);
    str(r.sessionId, 'message.sessionId', { nonEmpty: true });
    events(r.events, 'message.events');
    return r as unknown as ReplayViewMessage;
  }
  fail('message.type', `unknown message type ${JSON.stringify(type)}`);
}

export function assertReplayViewReply(x: unknown): ReplayViewReply {
  const type = record(x, 'message').type;
  if (type === 'ready') {
    shape(x, 'message', ['type']);
    return { type: 'ready' };
  }
  if (type !== 'export') fail('message.type', `unknown message type ${JSON.stringify(type)}`);
  const r = shape(x, 'message', ['type', 'sessionId', 'format']);
  str(r.sessionId, 'message.sessionId', { nonEmpty: true });
  oneOf(r.format, 'message.format', EXPORT_FORMATS);
  return r as unknown as ReplayViewReply;
}

/** Extension → replay view (checked by the page). */
export const parseReplayViewMessage = parser(assertReplayViewMessage);
/** Replay view → extension (checked by the extension). */
export const parseReplayViewReply = parser(assertReplayViewReply);
/** A 'statement' event's data (the view shows statements from it; other kinds generically). */
export const parseStatementRecord = parser((x: unknown) => assertStatementRecord(x));
