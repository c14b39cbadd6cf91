/**
 * The messages between the extension and its two webviews (the approval panel and the session replay
 * view), with strict runtime validators for both directions: a webview validates what the extension
 * sends, the extension validates what a webview posts (a webview is a less trusted place — treat every
 * message as untrusted input).
 *
 * No `vscode` import and no DOM: this module is used by the extension host and bundled into the webviews.
 */

import { AGENT_CHANNELS, type AgentChannel } from '../core/identity/actor';

// ---------------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------------

export interface WebviewActor {
  /** The human the session runs as. */
  user: string;
  /** The agent acting for them (the client's application_name), when known: a claim unless `channel`. */
  agent?: string;
  /** The agent adapter whose secret the connection authenticated with (core/identity/actor.ts). */
  channel?: AgentChannel;
}

/** What the SQL analysis found in one statement of a request. */
export interface PendingStatementFacts {
  command: string;
  kind: string;
  relations: string[];
  functions: string[];
  maskedColumns: string[];
}

/** A statement waiting for a person's decision. */
export interface PendingApproval {
  id: string;
  /** Echoed back in the decision, so a decision cannot be replayed onto another request. */
  nonce: string;
  connection: string;
  sessionId: string;
  actor: WebviewActor;
  sql: string;
  /** The policy rule that asked for review. */
  rule: string;
  ruleDescription?: string;
  statements: PendingStatementFacts[];
  /** Rows a write would affect, from EXPLAIN; null = could not be estimated; absent = not applicable. */
  estimatedRows?: number | null;
  /** Epoch ms. */
  requestedAt: number;
  /** Epoch ms; past it the statement is denied. */
  deadline: number;
}

export type ApprovalDecision = 'approve-once' | 'approve-session' | 'deny';
export const APPROVAL_DECISIONS: readonly ApprovalDecision[] = ['approve-once', 'approve-session', 'deny'];

/** Extension → approval panel. */
export type ApprovalPanelMessage = { type: 'requests'; requests: PendingApproval[] };

/** Approval panel → extension. */
export type ApprovalPanelReply =
  | { type: 'ready' }
  | { type: 'decide'; id: string; nonce: string; decision: ApprovalDecision; reason?: string };

export interface SessionSummary {
  id: string;
  connection: string;
  actor: WebviewActor;
  client: string;
  /** ISO time. */
  started: string;
  /** ISO time. */
  ended?: string;
  live: boolean;
  statements: number;
  denials: number;
}

/**
 * One recorded event. Known types: 'session-start', 'statement', 'approval', 'session-end',
 * 'checkpoint'; others are shown generically. A 'statement' event's data is a {@link StatementEventData}.
 */
export interface ReplayEvent {
  seq: number;
  /** ISO time. */
  time: string;
  type: string;
  data: Record<string, unknown>;
}

export interface ResultSample {
  columns: string[];
  /** Values as the client received them (masked); null is SQL NULL. */
  rows: Array<Array<string | null>>;
  truncated: boolean;
}

/** How a review went (as recorded by the gate): unreachable = no reviewer, failed = the review broke. */
export const REVIEW_OUTCOMES = ['approved', 'denied', 'timeout', 'unreachable', 'failed'] as const;

export interface StatementReview {
  approver?: string;
  outcome: (typeof REVIEW_OUTCOMES)[number];
  /** `session`: identical statements of the session need no further review. */
  scope?: 'once' | 'session';
  waitMs: number;
  reason?: string;
}

export interface StatementEventData {
  protocol: string;
  sql: string;
  decision: 'allow' | 'deny';
  rule: string;
  reason?: string;
  durationMs?: number;
  tags?: string[];
  error?: { code: string; message: string };
  sample?: ResultSample;
  review?: StatementReview;
  actor?: WebviewActor;
}

/** Extension → replay view. */
export type ReplayViewMessage =
  | { type: 'session'; session: SessionSummary; events: ReplayEvent[] }
  | { type: 'append'; sessionId: string; events: ReplayEvent[] };

export type ExportFormat = 'jsonl' | 'ocsf';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'ocsf'];

/** Replay view → extension. */
export type ReplayViewReply = { type: 'ready' } | { type: 'export'; sessionId: string; format: ExportFormat };

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

// ---------------------------------------------------------------------------------------------------
// Validators. Each throws a ProtocolError naming the first problem; the parse* wrappers return it.
// ---------------------------------------------------------------------------------------------------

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

type Rec = Record<string, unknown>;

function fail(path: string, what: string): never {
  throw new ProtocolError(`${path}: ${what}`);
}

function record(x: unknown, path: string): Rec {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(path, 'expected an object');
  const proto: unknown = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) fail(path, 'expected a plain object');
  return x as Rec;
}

/** An object with exactly these keys (optional ones may be absent; undefined counts as absent). */
function shape(x: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Rec {
  const r = record(x, path);
  for (const k of required) if (!Object.prototype.hasOwnProperty.call(r, k)) fail(`${path}.${k}`, 'missing');
  for (const k of Object.keys(r))
    if (!required.includes(k) && !optional.includes(k)) fail(`${path}.${k}`, 'unexpected field');
  return r;
}

function str(x: unknown, path: string, opts: { nonEmpty?: boolean; max?: number } = {}): string {
  if (typeof x !== 'string') fail(path, 'expected a string');
  if (opts.nonEmpty && x.length === 0) fail(path, 'must not be empty');
  if (opts.max !== undefined && x.length > opts.max) fail(path, `longer than ${opts.max} characters`);
  return x;
}

function optStr(r: Rec, key: string, path: string, opts: { nonEmpty?: boolean; max?: number } = {}): void {
  if (r[key] !== undefined) str(r[key], `${path}.${key}`, opts);
}

function num(x: unknown, path: string, opts: { integer?: boolean; min?: number } = {}): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) fail(path, 'expected a finite number');
  if (opts.integer && !Number.isInteger(x)) fail(path, 'expected an integer');
  if (opts.min !== undefined && x < opts.min) fail(path, `must be at least ${opts.min}`);
  return x;
}

function bool(x: unknown, path: string): boolean {
  if (typeof x !== 'boolean') fail(path, 'expected a boolean');
  return x;
}

function arr(x: unknown, path: string): unknown[] {
  if (!Array.isArray(x)) fail(path, 'expected an array');
  return x;
}

function strArray(x: unknown, path: string): string[] {
  arr(x, path).forEach((v, i) => str(v, `${path}[${i}]`));
  return x as string[];
}

function oneOf<T extends string>(x: unknown, path: string, values: readonly T[]): T {
  if (typeof x !== 'string' || !(values as readonly string[]).includes(x))
    fail(path, `expected one of ${values.join(', ')}`);
  return x as T;
}

function isoTime(x: unknown, path: string): string {
  const s = str(x, path, { nonEmpty: true });
  if (Number.isNaN(Date.parse(s))) fail(path, 'expected an ISO date-time');
  return s;
}

function actor(x: unknown, path: string): WebviewActor {
  const r = shape(x, path, ['user'], ['agent', 'channel']);
  str(r.user, `${path}.user`, { nonEmpty: true });
  optStr(r, 'agent', path);
  if (r.channel !== undefined) oneOf(r.channel, `${path}.channel`, AGENT_CHANNELS);
  return r as unknown as WebviewActor;
}

function pendingStatement(x: unknown, path: string): PendingStatementFacts {
  const r = shape(x, path, ['command', 'kind', 'relations', 'functions', 'maskedColumns']);
  str(r.command, `${path}.command`);
  str(r.kind, `${path}.kind`);
  strArray(r.relations, `${path}.relations`);
  strArray(r.functions, `${path}.functions`);
  strArray(r.maskedColumns, `${path}.maskedColumns`);
  return r as unknown as PendingStatementFacts;
}

export function assertPendingApproval(x: unknown, path = 'request'): PendingApproval {
  const r = shape(
    x,
    path,
    [
      'id',
      'nonce',
      'connection',
      'sessionId',
      'actor',
      'sql',
      'rule',
      'statements',
      'requestedAt',
      'deadline',
    ],
    ['ruleDescription', 'estimatedRows'],
  );
  str(r.id, `${path}.id`, { nonEmpty: true, max: 200 });
  str(r.nonce, `${path}.nonce`, { nonEmpty: true, max: 200 });
  str(r.connection, `${path}.connection`);
  str(r.sessionId, `${path}.sessionId`);
  actor(r.actor, `${path}.actor`);
  str(r.sql, `${path}.sql`);
  str(r.rule, `${path}.rule`);
  optStr(r, 'ruleDescription', path);
  arr(r.statements, `${path}.statements`).forEach((s, i) => pendingStatement(s, `${path}.statements[${i}]`));
  if (r.estimatedRows !== undefined && r.estimatedRows !== null)
    num(r.estimatedRows, `${path}.estimatedRows`, { min: 0 });
  num(r.requestedAt, `${path}.requestedAt`);
  num(r.deadline, `${path}.deadline`);
  return r as unknown as PendingApproval;
}

export function assertApprovalPanelMessage(x: unknown): ApprovalPanelMessage {
  const type = record(x, 'message').type;
  if (type !== 'requests') fail('message.type', `unknown message type ${JSON.stringify(type)}`);
  const r = shape(x, 'message', ['type', 'requests']);
  const ids = new Set<string>();
  arr(r.requests, 'message.requests').forEach((q, i) => {
    const p = assertPendingApproval(q, `message.requests[${i}]`);
    if (ids.has(p.id)) fail(`message.requests[${i}].id`, 'duplicate id');
    ids.add(p.id);
  });
  return r as unknown as ApprovalPanelMessage;
}

/** The longest deny reason a webview may send (longer ones are rejected, not cut). */
export const MAX_REASON_LENGTH = 2000;

export function assertApprovalPanelReply(x: unknown): ApprovalPanelReply {
  const type = record(x, 'message').type;
  if (type === 'ready') {
    shape(x, 'message', ['type']);
    return { type: 'ready' };
  }
  if (type !== 'decide') fail('message.type', `unknown message type ${JSON.stringify(type)}`);
  const r = shape(x, 'message', ['type', 'id', 'nonce', 'decision'], ['reason']);
  str(r.id, 'message.id', { nonEmpty: true, max: 200 });
  str(r.nonce, 'message.nonce', { nonEmpty: true, max: 200 });
  oneOf(r.decision, 'message.decision', APPROVAL_DECISIONS);
  optStr(r, 'reason', 'message', { max: MAX_REASON_LENGTH });
  return r as unknown as ApprovalPanelReply;
}

export function assertSessionSummary(x: unknown, path = 'session'): SessionSummary {
  const r = shape(
    x,
    path,
    ['id', 'connection', 'actor', 'client', 'started', 'live', 'statements', 'denials'],
    ['ended'],
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
  return r as unknown as SessionSummary;
}

/**
 * A statement event's data. Known fields are type-checked strictly; fields this version does not know
 * are allowed (recordings outlive the viewer, and new fields get added to the journal).
 */
export function assertStatementEventData(x: unknown, path = 'data'): StatementEventData {
  const r = record(x, path);
  for (const k of ['protocol', 'sql', 'decision', 'rule'])
    if (!Object.prototype.hasOwnProperty.call(r, k)) fail(`${path}.${k}`, 'missing');
  str(r.protocol, `${path}.protocol`);
  str(r.sql, `${path}.sql`);
  oneOf(r.decision, `${path}.decision`, ['allow', 'deny'] as const);
  str(r.rule, `${path}.rule`);
  optStr(r, 'reason', path);
  if (r.durationMs !== undefined) num(r.durationMs, `${path}.durationMs`, { min: 0 });
  if (r.tags !== undefined) strArray(r.tags, `${path}.tags`);
  if (r.error !== undefined) {
    const e = shape(r.error, `${path}.error`, ['code', 'message']);
    str(e.code, `${path}.error.code`);
    str(e.message, `${path}.error.message`);
  }
  if (r.sample !== undefined) {
    const s = shape(r.sample, `${path}.sample`, ['columns', 'rows', 'truncated']);
    const columns = strArray(s.columns, `${path}.sample.columns`);
    arr(s.rows, `${path}.sample.rows`).forEach((row, i) => {
      const cells = arr(row, `${path}.sample.rows[${i}]`);
      if (cells.length !== columns.length) fail(`${path}.sample.rows[${i}]`, 'wrong number of values');
      cells.forEach((c, j) => {
        if (c !== null) str(c, `${path}.sample.rows[${i}][${j}]`);
      });
    });
    bool(s.truncated, `${path}.sample.truncated`);
  }
  if (r.review !== undefined) {
    const a = shape(r.review, `${path}.review`, ['outcome', 'waitMs'], ['approver', 'reason', 'scope']);
    oneOf(a.outcome, `${path}.review.outcome`, REVIEW_OUTCOMES);
    num(a.waitMs, `${path}.review.waitMs`, { min: 0 });
    optStr(a, 'approver', `${path}.review`);
    optStr(a, 'reason', `${path}.review`);
    if (a.scope !== undefined) oneOf(a.scope, `${path}.review.scope`, ['once', 'session'] as const);
  }
  if (r.actor !== undefined) actor(r.actor, `${path}.actor`);
  return r as unknown as StatementEventData;
}

export function assertReplayEvent(x: unknown, path = 'event'): ReplayEvent {
  const r = shape(x, path, ['seq', 'time', 'type', 'data']);
  num(r.seq, `${path}.seq`, { integer: true, min: 0 });
  isoTime(r.time, `${path}.time`);
  str(r.type, `${path}.type`, { nonEmpty: true, max: 100 });
  record(r.data, `${path}.data`);
  if (r.type === 'statement') assertStatementEventData(r.data, `${path}.data`);
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
    assertSessionSummary(r.session, 'message.session');
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

function parser<T>(assert: (x: unknown) => T): (x: unknown) => ParseResult<T> {
  return (x) => {
    try {
      return { ok: true, value: assert(x) };
    } catch (e) {
      if (e instanceof ProtocolError) return { ok: false, error: e.message };
      throw e;
    }
  };
}

/** Extension → approval panel (used by the webview). */
export const parseApprovalPanelMessage = parser(assertApprovalPanelMessage);
/** Approval panel → extension (used by the extension). */
export const parseApprovalPanelReply = parser(assertApprovalPanelReply);
/** Extension → replay view (used by the webview). */
export const parseReplayViewMessage = parser(assertReplayViewMessage);
/** Replay view → extension (used by the extension). */
export const parseReplayViewReply = parser(assertReplayViewReply);
/** A 'statement' event's data (the replay view uses it to show statements; others are shown generically). */
export const parseStatementEventData = parser((x: unknown) => assertStatementEventData(x));

// ---------------------------------------------------------------------------------------------------
// The HTML the extension serves for a view: one root element, the bundle's CSS and script, strict CSP.
// ---------------------------------------------------------------------------------------------------

export type WebviewName = 'approval' | 'replay';

/** The files of each view, relative to the extension root (all under dist/webview/, with codicon.ttf). */
export const WEBVIEW_ASSETS: Record<WebviewName, { script: string; style: string }> = {
  approval: { script: 'dist/webview/approval.js', style: 'dist/webview/approval.css' },
  replay: { script: 'dist/webview/replay.js', style: 'dist/webview/replay.css' },
};

/** The id of the element a view renders into. */
export const WEBVIEW_ROOT_ID = 'app';

export interface WebviewHtmlOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** A fresh random nonce per render (base64 or hex, at least 128 bits). */
  nonce: string;
  /** `webview.asWebviewUri(...)` of the view's script and stylesheet, as strings. */
  scriptUri: string;
  styleUri: string;
  title: string;
  /** Extra scripts to load before the bundle, with the same nonce (tests use it for a stub API). */
  preScriptUris?: string[];
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
  ].join('; ');
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function webviewHtml(o: WebviewHtmlOptions): string {
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(o.nonce))
    throw new Error('webviewHtml: the nonce must be base64/hex, 16+ chars');
  const n = escapeAttr(o.nonce);
  const scripts = [...(o.preScriptUris ?? []), o.scriptUri]
    .map((u) => `    <script nonce="${n}" src="${escapeAttr(u)}"></script>`)
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(o.cspSource, o.nonce))}" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <link rel="stylesheet" href="${escapeAttr(o.styleUri)}" />
    <title>${escapeAttr(o.title)}</title>
  </head>
  <body>
    <div id="${WEBVIEW_ROOT_ID}"></div>
${scripts}
  </body>
</html>
`;
}
