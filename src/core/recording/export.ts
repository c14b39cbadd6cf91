import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { ExportFormat, RecordedEvent, SessionStart, StatementRecord } from './events';
import { version } from '../../../package.json';

/**
 * Exports for SIEMs and auditors. JSONL is the events exactly as recorded (each line verifies against
 * its hash). OCSF 1.3: statements → Datastore Activity (6005), session start/end → Authentication
 * (3002, logon/logoff), reviews and denials → Authorize Session (3003); Airlock's own fields that OCSF
 * has no place for go under `unmapped.airlock`.
 */
export function toJsonl(e: RecordedEvent): string {
  return JSON.stringify(e);
}

/** Writes the export of `events` to `out`, a line per output event (respecting backpressure); returns the count. */
export async function writeExport(
  out: Writable,
  events: Iterable<RecordedEvent>,
  format: ExportFormat,
  ocsf = new OcsfConverter(),
): Promise<number> {
  let count = 0;
  for (const e of events) {
    for (const line of format === 'jsonl' ? [toJsonl(e)] : ocsf.convert(e).map((o) => JSON.stringify(o))) {
      count++;
      if (!out.write(line + '\n')) await once(out, 'drain');
    }
  }
  return count;
}

const OCSF_VERSION = '1.3.0';
const product = { name: 'Airlock', vendor_name: 'Airlock', version };

type Obj = Record<string, unknown>;
/** Empty text is no text (OCSF fields are left out rather than empty). */
const str = (v: string | undefined): string | undefined => (v === '' ? undefined : v);

/** Session-level context every OCSF event of the session repeats (SIEM events stand alone). */
interface SessionContext {
  actor: Obj;
  /** How far the agent's name is verified (OCSF has no field for it: `unmapped.airlock.agent`). */
  agent?: Obj;
  src_endpoint?: Obj;
  database?: Obj;
  service?: Obj;
  policy?: string;
}

/** Converts a session's events, in order, to OCSF events (a checkpoint has no OCSF counterpart). */
export class OcsfConverter {
  private readonly sessions = new Map<string, SessionContext>();

  convert(e: RecordedEvent): Obj[] {
    switch (e.type) {
      case 'session-start': {
        const ctx = this.context(e);
        return [this.authentication(e, ctx, 1, 'Logon', 'Success')];
      }
      case 'session-end': {
        const ctx = this.context(e);
        this.sessions.delete(e.sessionId);
        return [
          this.authentication(e, ctx, 2, 'Logoff', 'Success', {
            message: str(e.data.reason),
          }),
        ];
      }
      case 'statement': {
        const ctx = this.context(e);
        const d = e.data;
        const out = [this.datastore(e, ctx, d)];
        // The review is the statement's own field: one truth for the replay, the store and this export.
        if (d.decision === 'deny' || d.review) out.push(this.authorization(e, ctx, d));
        return out;
      }
      case 'alarm':
        return [this.finding(e, this.context(e), e.data.reason)];
      case 'checkpoint':
        return [];
    }
  }

  private context(e: RecordedEvent): SessionContext {
    let ctx = this.sessions.get(e.sessionId);
    if (ctx && e.type !== 'session-start') return ctx;
    // A session whose start is not in the export: what is known is its id.
    const d: Partial<SessionStart> = e.type === 'session-start' ? e.data : {};
    const actor: Partial<SessionStart['actor']> = d.actor ?? {};
    const groups = actor.groups ?? [];
    const agent = str(actor.agent) ?? str(d.application);
    const channel = actor.channel;
    ctx = {
      actor: {
        user: {
          name: str(actor.user) ?? 'unknown',
          ...(groups.length ? { groups: groups.map((name) => ({ name })) } : {}),
        },
        ...(agent ? { app_name: agent } : {}),
        session: { uid: e.sessionId },
      },
      policy: str(d.policy),
      ...(agent || channel
        ? {
            agent: stripUndefined({
              name: agent,
              verified_channel: channel,
              // Only names the LM tools adapter makes are Airlock's own; an MCP client names itself.
              name_claimed: channel !== 'lm-tool',
            }),
          }
        : {}),
    };
    const client = str(d.client);
    const m = client ? /^(.*):(\d+)$/.exec(client) : null;
    if (m) ctx.src_endpoint = { ip: m[1].replace(/^::ffff:/, ''), port: Number(m[2]) };
    if (str(d.upstream?.database)) {
      ctx.database = { name: d.upstream?.database, type: 'Relational', type_id: 1 };
    }
    if (str(d.connection)) ctx.service = { name: d.connection };
    this.sessions.set(e.sessionId, ctx);
    return ctx;
  }

  private base(
    e: RecordedEvent,
    classUid: number,
    className: string,
    category: [number, string],
    activity: [number, string],
  ): Obj {
    return {
      class_uid: classUid,
      class_name: className,
      category_uid: category[0],
      category_name: category[1],
      activity_id: activity[0],
      activity_name: activity[1],
      type_uid: classUid * 100 + activity[0],
      time: Date.parse(e.time),
      metadata: {
        version: OCSF_VERSION,
        product,
        uid: `${e.sessionId}:${e.seq}`,
        correlation_uid: e.sessionId,
        log_name: 'airlock-recording',
      },
    };
  }

  private authentication(
    e: RecordedEvent,
    ctx: SessionContext,
    activity: number,
    name: string,
    status: 'Success' | 'Failure',
    extra: Obj = {},
  ): Obj {
    return {
      ...this.base(e, 3002, 'Authentication', [3, 'Identity & Access Management'], [activity, name]),
      severity_id: 1,
      severity: 'Informational',
      status,
      status_id: status === 'Success' ? 1 : 2,
      user: ctx.actor.user,
      actor: ctx.actor,
      session: { uid: e.sessionId },
      auth_protocol: 'SCRAM-SHA-256',
      auth_protocol_id: 99,
      ...(ctx.src_endpoint ? { src_endpoint: ctx.src_endpoint } : {}),
      ...(ctx.service ? { service: ctx.service } : {}),
      ...(ctx.agent ? { unmapped: { airlock: { agent: ctx.agent } } } : {}),
      ...stripUndefined(extra),
    };
  }

  private datastore(e: RecordedEvent, ctx: SessionContext, d: StatementRecord): Obj {
    const denied = d.decision === 'deny';
    const error = str(d.error?.code) ? d.error : undefined;
    const failed = denied || error !== undefined;
    return {
      ...this.base(e, 6005, 'Datastore Activity', [6, 'Application Activity'], datastoreActivity(d)),
      severity_id: denied ? 3 : 1,
      severity: denied ? 'Medium' : 'Informational',
      status: failed ? 'Failure' : 'Success',
      status_id: failed ? 2 : 1,
      ...(error ? { status_code: error.code, status_detail: error.message } : {}),
      disposition: denied ? 'Blocked' : 'Allowed',
      disposition_id: denied ? 2 : 1,
      actor: ctx.actor,
      type_id: 1,
      type: 'Database',
      ...(ctx.database ? { database: ctx.database } : {}),
      ...(ctx.src_endpoint ? { src_endpoint: ctx.src_endpoint } : {}),
      query_info: { query_string: d.sql },
      ...(typeof d.durationMs === 'number' ? { duration: d.durationMs } : {}),
      policy: { name: d.rule, ...(ctx.policy ? { uid: ctx.policy } : {}) },
      ...(denied && str(d.reason) ? { message: d.reason } : {}),
      unmapped: {
        airlock: stripUndefined({
          decision: d.decision,
          rule: d.rule,
          reason: d.reason,
          review: d.review,
          facts: d.facts,
          tags: d.tags,
          sample: d.sample,
          parameters: d.parameters,
          literals_redacted: d.literalsRedacted,
          agent: ctx.agent,
        }),
      },
    };
  }

  /** An alarm: the server did something Airlock did not decide (the session was ended). */
  private finding(e: RecordedEvent, ctx: SessionContext, why: string): Obj {
    const reason = str(why) ?? 'alarm';
    return {
      ...this.base(e, 2004, 'Detection Finding', [2, 'Findings'], [1, 'Create']),
      severity_id: 4,
      severity: 'High',
      status: 'New',
      status_id: 1,
      message: reason,
      finding_info: {
        uid: `${e.sessionId}:${e.seq}`,
        title: "The server's reply does not match what Airlock decided",
        desc: reason,
      },
      actor: ctx.actor,
      ...(ctx.agent ? { unmapped: { airlock: { agent: ctx.agent } } } : {}),
    };
  }

  private authorization(e: RecordedEvent, ctx: SessionContext, d: StatementRecord): Obj {
    const approved = d.decision === 'allow';
    return {
      ...this.base(
        e,
        3003,
        'Authorize Session',
        [3, 'Identity & Access Management'],
        [99, approved ? 'Statement approved' : 'Statement denied'],
      ),
      severity_id: approved ? 1 : 3,
      severity: approved ? 'Informational' : 'Medium',
      status: approved ? 'Success' : 'Failure',
      status_id: approved ? 1 : 2,
      user: ctx.actor.user,
      actor: ctx.actor,
      session: { uid: e.sessionId },
      policy: { name: d.rule, ...(ctx.policy ? { uid: ctx.policy } : {}) },
      message: approved
        ? `approved by ${str(d.review?.approver) ?? 'a reviewer'}`
        : (str(d.reason) ?? 'denied'),
      unmapped: {
        airlock: stripUndefined({ statement_seq: e.seq, review: d.review, sql: d.sql, agent: ctx.agent }),
      },
    };
  }
}

/** OCSF Datastore Activity ids: Read 1, Update 2, Query 4, Write 5, Create 6, Delete 7, Other 99. */
function datastoreActivity(d: StatementRecord): [number, string] {
  const facts = d.facts ?? [];
  const commands = facts.map((f) => f.command);
  const kinds = facts.map((f) => f.kind);
  if (commands.length === 1) {
    switch (commands[0]) {
      case 'INSERT':
        return [6, 'Create'];
      case 'UPDATE':
      case 'MERGE':
        return [2, 'Update'];
      case 'DELETE':
      case 'TRUNCATE':
        return [7, 'Delete'];
    }
  }
  if (kinds.length > 0 && kinds.every((k) => k === 'read')) return [4, 'Query'];
  if (kinds.some((k) => k === 'write')) return [5, 'Write'];
  return [99, commands.join('; ') || 'Other'];
}

function stripUndefined(o: Obj): Obj {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
