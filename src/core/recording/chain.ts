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

/**
 * The hashed form of an event: its fields in a fixed order as JSON. Stored lines keep that order (JSON
 * parsing preserves it), so a verifier re-serialises exactly what was hashed; any edit shows.
 */
export function hashedForm(e: Omit<RecordedEvent, 'hash'>): string {
  return JSON.stringify({
    sessionId: e.sessionId,
    seq: e.seq,
    time: e.time,
    type: e.type,
    data: e.data,
    prev: e.prev,
  });
}

export function eventHash(e: Omit<RecordedEvent, 'hash'>): string {
  return createHash('sha256').update(hashedForm(e)).digest('hex');
}

/** Appends events to one session's chain. */
export class SessionChain {
  private seq = 0;
  private last = '';

  constructor(readonly sessionId: string) {}

  /** The next event, and its journal line (serialised once: the hashed form with the hash added). */
  next(
    type: string,
    data: Record<string, unknown>,
    now = new Date(),
  ): { event: RecordedEvent; line: string } {
    const partial = {
      sessionId: this.sessionId,
      seq: ++this.seq,
      time: now.toISOString(),
      type,
      data,
      prev: this.last,
    };
    const form = hashedForm(partial);
    const hash = createHash('sha256').update(form).digest('hex');
    this.last = hash;
    return { event: { ...partial, hash }, line: `${form.slice(0, -1)},"hash":"${hash}"}` };
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
