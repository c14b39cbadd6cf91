import { createHash } from 'node:crypto';

/**
 * Hash-chained session events: each event carries the hash of the one before it in its session, so a
 * modified, removed or reordered event breaks the chain at a place `verifyChain` names.
 */
export interface RecordedEvent {
  sessionId: string;
  /** 1, 2, 3… within the session. */
  seq: number;
  /** ISO time the event was recorded. */
  time: string;
  type: string;
  data: Record<string, unknown>;
  /** Hash of the previous event of the session ('' for the first). */
  prev: string;
  /** sha256 over the canonical JSON of every field above. */
  hash: string;
}

/** JSON with object keys sorted, so the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function eventHash(e: Omit<RecordedEvent, 'hash'>): string {
  const { sessionId, seq, time, type, data, prev } = e;
  return createHash('sha256').update(canonicalJson({ sessionId, seq, time, type, data, prev })).digest('hex');
}

/** Appends events to one session's chain. */
export class SessionChain {
  private seq = 0;
  private last = '';

  constructor(readonly sessionId: string) {}

  next(type: string, data: Record<string, unknown>, now = new Date()): RecordedEvent {
    const partial = {
      sessionId: this.sessionId,
      seq: ++this.seq,
      time: now.toISOString(),
      type,
      data,
      prev: this.last,
    };
    const event = { ...partial, hash: eventHash(partial) };
    this.last = event.hash;
    return event;
  }
}

export interface ChainProblem {
  sessionId: string;
  seq: number;
  problem: string;
}

/** Checks every session's chain in the given events (in the order they were stored). */
export function verifyChain(events: Iterable<RecordedEvent>): ChainProblem[] {
  const problems: ChainProblem[] = [];
  const state = new Map<string, { seq: number; hash: string }>();
  for (const e of events) {
    const s = state.get(e.sessionId) ?? { seq: 0, hash: '' };
    if (eventHash(e) !== e.hash) {
      problems.push({
        sessionId: e.sessionId,
        seq: e.seq,
        problem: 'modified: its content does not match its hash',
      });
    }
    if (e.seq !== s.seq + 1) {
      problems.push({
        sessionId: e.sessionId,
        seq: e.seq,
        problem:
          e.seq === s.seq + 2
            ? `event ${s.seq + 1} before it is missing`
            : e.seq > s.seq + 2
              ? `events ${s.seq + 1}–${e.seq - 1} before it are missing`
              : `out of order (after event ${s.seq})`,
      });
    } else if (e.prev !== s.hash) {
      problems.push({
        sessionId: e.sessionId,
        seq: e.seq,
        problem: 'does not follow the event before it (prev hash differs)',
      });
    }
    state.set(e.sessionId, { seq: Math.max(s.seq, e.seq), hash: e.hash });
  }
  return problems;
}
