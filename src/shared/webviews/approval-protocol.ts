/**
 * The approval panel's messages, shared by the extension (approval-panel.ts) and the page
 * (webview/approval): the extension sends the queue, the page posts decisions, each side checks what it
 * receives.
 */
import type { FactsSummary } from '../../core/gate/decision';
import {
  actor,
  arr,
  fail,
  num,
  oneOf,
  optStr,
  parser,
  record,
  shape,
  str,
  strArray,
  type WebviewActor,
} from './checks';

/** What the SQL analysis found in one statement of a request: the recorded summary, and more. */
export interface PendingStatementFacts extends FactsSummary {
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

/** A request that left the queue, for the panel's short history. */
export interface DecidedApproval {
  id: string;
  sql: string;
  actor: WebviewActor;
  connection: string;
  outcome: (typeof DECIDED_OUTCOMES)[number];
  /** Who decided; absent when nobody did (timed out, withdrawn). */
  by?: string;
  /** Epoch ms. */
  at: number;
}
export const DECIDED_OUTCOMES = [
  'approved once',
  'approved for the session',
  'denied',
  'timed out',
  'withdrawn',
] as const;

/** Extension → approval panel: the queue, and the latest decisions first. */
export type ApprovalPanelMessage = {
  type: 'requests';
  requests: PendingApproval[];
  history?: DecidedApproval[];
};

/** Approval panel → extension. */
export type ApprovalPanelReply =
  | { type: 'ready' }
  | { type: 'decide'; id: string; nonce: string; decision: ApprovalDecision; reason?: string };

/** The longest deny reason a webview may send (longer ones are rejected, not cut). */
export const MAX_REASON_LENGTH = 2000;

function pendingStatement(x: unknown, path: string): PendingStatementFacts {
  const r = shape(x, path, ['command', 'kind', 'relations', 'functions', 'maskedColumns'], ['everyRow']);
  str(r.command, `${path}.command`);
  str(r.kind, `${path}.kind`);
  strArray(r.relations, `${path}.relations`);
  strArray(r.functions, `${path}.functions`);
  strArray(r.maskedColumns, `${path}.maskedColumns`);
  if (r.everyRow !== undefined && r.everyRow !== true) fail(`${path}.everyRow`, 'expected true or absent');
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

function decidedApproval(x: unknown, path: string): DecidedApproval {
  const r = shape(x, path, ['id', 'sql', 'actor', 'connection', 'outcome', 'at'], ['by']);
  str(r.id, `${path}.id`, { nonEmpty: true, max: 200 });
  str(r.sql, `${path}.sql`);
  actor(r.actor, `${path}.actor`);
  str(r.connection, `${path}.connection`);
  oneOf(r.outcome, `${path}.outcome`, DECIDED_OUTCOMES);
  optStr(r, 'by', path);
  num(r.at, `${path}.at`);
  return r as unknown as DecidedApproval;
}

export function assertApprovalPanelMessage(x: unknown): ApprovalPanelMessage {
  const type = record(x, 'message').type;
  if (type !== 'requests') fail('message.type', `unknown message type ${JSON.stringify(type)}`);
  const r = shape(x, 'message', ['type', 'requests'], ['history']);
  if (r.history !== undefined)
    arr(r.history, 'message.history').forEach((d, i) => decidedApproval(d, `message.history[${i}]`));
  const ids = new Set<string>();
  arr(r.requests, 'message.requests').forEach((q, i) => {
    const p = assertPendingApproval(q, `message.requests[${i}]`);
    if (ids.has(p.id)) fail(`message.requests[${i}].id`, 'duplicate id');
    ids.add(p.id);
  });
  return r as unknown as ApprovalPanelMessage;
}

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

/** Extension → approval panel (checked by the page). */
export const parseApprovalPanelMessage = parser(assertApprovalPanelMessage);
/** Approval panel → extension (checked by the extension). */
export const parseApprovalPanelReply = parser(assertApprovalPanelReply);
