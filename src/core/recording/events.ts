/**
 * The recording's event schema, declared once: the TypeScript types and the JSON Schemas they are checked
 * against on every read (journal lines, the index, the replay view). The recorder writes these, the store
 * indexes them, the exports map them, the replay view shows them.
 *
 * Each kind of event is one thing that happened in a session. A protocol adapter adds kinds of its own for
 * its operations (Postgres: `statement`; an SSH adapter: its commands and terminal output) rather than
 * fields on another protocol's kind. A review is part of the operation it decided: `review` on the
 * statement, written with it in the same event (one truth, hash-chained with what it approved).
 *
 * Pure data and types (no Node, no validator): the webviews bundle it.
 */
import {
  REVIEW_OUTCOMES,
  REVIEW_SCOPES,
  type Decision,
  type FactsSummary,
  type ReviewRecord,
} from '../gate/decision';
import { AGENT_CHANNELS, type Actor, type AgentChannel } from '../identity/actor';

/** Who and what a recorded session is. */
export interface SessionStart {
  connection: string;
  actor: Actor;
  /** The client's application_name (psql, an ORM, an agent's tool). */
  application?: string;
  /** host:port the client connected from. */
  client: string;
  /** Where the proxy relays it (no credentials). */
  upstream?: { host: string; port: number; database: string; user: string };
  /** The policy in force when the session started: preset name, file hash or bundle id. */
  policy?: string;
}

/** The first rows of a result as the client received them (masked), bounded in count and size. */
export interface ResultSample {
  columns: string[];
  /** null is SQL NULL. */
  rows: Array<Array<string | null>>;
  truncated: boolean;
}

/** One statement as it ended: what was asked, what was decided, what came back. */
export interface StatementRecord {
  /** The Postgres message form: `simple` (Query) or `extended` (Parse/Bind/Execute). */
  protocol: string;
  /** As recorded: passwords and, on masked data, literals already removed (core/sql/recorded-text.ts). */
  sql: string;
  decision: Decision['effect'];
  rule: string;
  reason?: string;
  /** The statement used a masked column in a computation, filter or write: its literals are not kept. */
  literalsRedacted?: boolean;
  review?: ReviewRecord;
  /** Bind parameter values when the policy's `recording.parameters` is `all`; otherwise only their number. */
  parameters?: Array<string | null>;
  parameterCount?: number;
  facts?: FactsSummary[];
  durationMs?: number;
  /** Command tags of the results (e.g. "SELECT 5"), and the error if it failed. */
  tags?: string[];
  error?: { code: string; message: string };
  sample?: ResultSample;
}

/** The server did something Airlock did not decide; the session was ended. */
export interface Alarm {
  reason: string;
}

export interface SessionEnd {
  reason: string;
  /** Ended by start-up recovery: the proxy stopped without ending the session. */
  interrupted?: boolean;
}

/** The installation key's signature over the session's last event (see checkpoint.ts). */
export interface Checkpoint {
  /** Sequence number and hash of the last event before the checkpoint. */
  seq: number;
  hash: string;
  /** Identifies the signing key: the first 16 hex digits of the sha256 of its public key (SPKI DER). */
  key: string;
  /** base64 Ed25519 signature. */
  signature: string;
}

/** Every kind of event and its data. */
export interface EventData {
  'session-start': SessionStart;
  statement: StatementRecord;
  alarm: Alarm;
  'session-end': SessionEnd;
  checkpoint: Checkpoint;
}

export type EventType = keyof EventData;

/** What every event carries besides its kind and data (the hash chain: see chain.ts). */
export interface EventEnvelope {
  sessionId: string;
  /** 1, 2, 3… within the session. */
  seq: number;
  /** ISO time the event was recorded. */
  time: string;
  /** Hash of the previous event of the session ('' for the first). */
  prev: string;
  /** sha256 over the canonical JSON of the other fields. */
  hash: string;
}

/** A recorded event: narrowing on `type` gives its data's type. */
export type RecordedEvent = { [K in EventType]: EventEnvelope & { type: K; data: EventData[K] } }[EventType];

/** A session as the recordings index lists it (store.ts), summed up from its events. */
export interface SessionSummary {
  id: string;
  connection: string;
  user: string;
  /** The agent's name as the client gave it: a claim unless `channel` says which adapter it came through. */
  agent?: string;
  channel?: AgentChannel;
  application?: string;
  client: string;
  policy?: string;
  started: string;
  ended?: string;
  endReason?: string;
  /** Ended by start-up recovery after a crash. */
  interrupted: boolean;
  /** Still running: no end recorded and the folder's writer is alive. */
  live: boolean;
  events: number;
  statements: number;
  denials: number;
  approvals: number;
  checkpoint: boolean;
  /** What the hash chain and the signed checkpoint say of the session's record (`airlock verify`'s checks). */
  integrity: SessionIntegrity;
  /** The first problem found when tampered: which event, and what. */
  integrityProblem?: string;
}

export type SessionIntegrity = 'verified' | 'tampered' | 'incomplete' | 'live';
export const SESSION_INTEGRITY: readonly SessionIntegrity[] = ['verified', 'tampered', 'incomplete', 'live'];

export type ExportFormat = 'jsonl' | 'ocsf';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'ocsf'];

// ---------------------------------------------------------------------------------------------------
// JSON Schemas of the data of each kind. Known fields are checked strictly; fields a later version adds
// are let through (recordings outlive their readers).
// ---------------------------------------------------------------------------------------------------

const string = { type: 'string' } as const;
const strings = { type: 'array', items: string } as const;
const count = { type: 'integer', minimum: 0 } as const;
const nullableString = { anyOf: [string, { type: 'null' }] } as const;

const ACTOR_SCHEMA = {
  type: 'object',
  required: ['user', 'groups'],
  properties: {
    user: string,
    groups: strings,
    agent: string,
    channel: { type: 'string', enum: AGENT_CHANNELS },
  },
} as const;

const REVIEW_SCHEMA = {
  type: 'object',
  required: ['outcome', 'waitMs'],
  properties: {
    outcome: { type: 'string', enum: REVIEW_OUTCOMES },
    approver: string,
    scope: { type: 'string', enum: REVIEW_SCOPES },
    waitMs: { type: 'number', minimum: 0 },
    reason: string,
  },
} as const;

const DECISION_EFFECTS: ReadonlyArray<Decision['effect']> = ['allow', 'deny'];

export const EVENT_DATA_SCHEMAS: Record<EventType, object> = {
  'session-start': {
    type: 'object',
    required: ['connection', 'actor', 'client'],
    properties: {
      connection: string,
      actor: ACTOR_SCHEMA,
      application: string,
      client: string,
      upstream: {
        type: 'object',
        required: ['host', 'port', 'database', 'user'],
        properties: { host: string, port: count, database: string, user: string },
      },
      policy: string,
    },
  },
  statement: {
    type: 'object',
    required: ['protocol', 'sql', 'decision', 'rule'],
    properties: {
      protocol: string,
      sql: string,
      decision: { type: 'string', enum: DECISION_EFFECTS },
      rule: string,
      reason: string,
      literalsRedacted: { type: 'boolean' },
      review: REVIEW_SCHEMA,
      parameters: { type: 'array', items: nullableString },
      parameterCount: count,
      facts: {
        type: 'array',
        items: {
          type: 'object',
          required: ['command', 'kind', 'relations'],
          properties: { command: string, kind: string, relations: strings, everyRow: { const: true } },
        },
      },
      durationMs: { type: 'number', minimum: 0 },
      tags: strings,
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: string, message: string },
      },
      sample: {
        type: 'object',
        required: ['columns', 'rows', 'truncated'],
        properties: {
          columns: strings,
          rows: { type: 'array', items: { type: 'array', items: nullableString } },
          truncated: { type: 'boolean' },
        },
      },
    },
  },
  alarm: { type: 'object', required: ['reason'], properties: { reason: string } },
  'session-end': {
    type: 'object',
    required: ['reason'],
    properties: { reason: string, interrupted: { type: 'boolean' } },
  },
  checkpoint: {
    type: 'object',
    required: ['seq', 'hash', 'key', 'signature'],
    properties: { seq: count, hash: string, key: string, signature: string },
  },
};

export const EVENT_TYPES = Object.keys(EVENT_DATA_SCHEMAS) as EventType[];

/** The schema of a journal line; `data` is checked by its kind's schema above. */
export const EVENT_ENVELOPE_SCHEMA = {
  type: 'object',
  required: ['sessionId', 'seq', 'time', 'type', 'data', 'prev', 'hash'],
  additionalProperties: false,
  properties: {
    sessionId: { type: 'string', minLength: 1 },
    seq: { type: 'integer', minimum: 1 },
    time: string,
    type: { type: 'string', enum: EVENT_TYPES },
    data: { type: 'object' },
    prev: string,
    hash: string,
  },
} as const;

/**
 * The first row of a sample with more or fewer values than the sample has columns; -1 when none (a check
 * no JSON Schema states).
 */
export function sampleRowMismatch(sample: ResultSample): number {
  return sample.rows.findIndex((row) => row.length !== sample.columns.length);
}
