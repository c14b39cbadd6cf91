import { hash as digest } from 'node:crypto';
import type { EventEnvelope } from './events';

/**
 * Hash-chained session events: each event carries the hash of the one before it in its session, so a
 * modified, removed or reordered event breaks the chain at a place `verifyChain` names. The chain holds
 * any kind and data (it is what shows tampering, whatever the line says); what a kind's data must be is
 * the schema's business (events.ts).
 */
export interface ChainedEvent extends EventEnvelope {
  type: string;
  data: Record<string, unknown>;
}

/**
 * The hashed form of an event: its fields in a fixed order as JSON. Stored lines keep that order (JSON
 * parsing preserves it), so a verifier re-serialises exactly what was hashed; any edit shows.
 */
export function hashedForm(e: Omit<ChainedEvent, 'hash'>): string {
  return JSON.stringify({
    sessionId: e.sessionId,
    seq: e.seq,
    time: e.time,
    type: e.type,
    data: e.data,
    prev: e.prev,
  });
}

export function eventHash(e: Omit<ChainedEvent, 'hash'>): string {
  return digest('sha256', hashedForm(e), 'hex');
}

let lastMs = 0;
let lastIso = '';
/** The time as ISO text, formatted once per millisecond (thousands of events share one). */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** Appends events to one session's chain. */
export class SessionChain {
  /** The session id as JSON, made once: the hot path builds lines by concatenation. */
  private readonly idJson: string;

  /** A new session's chain, or one continued after its last recorded event (recovery). */
  constructor(
    readonly sessionId: string,
    private seq = 0,
    private last = '',
  ) {
    this.idJson = JSON.stringify(sessionId);
  }

  get lastSeq(): number {
    return this.seq;
  }

  get lastHash(): string {
    return this.last;
  }

  /**
   * The next event's journal line: the hashed form (byte for byte what `hashedForm` makes of the parsed
   * event, built by concatenation) with the hash added.
   */
  next(type: string, data: object): string {
    const form =
      `{"sessionId":${this.idJson},"seq":${++this.seq},"time":"${isoNow()}","type":${JSON.stringify(type)},` +
      `"data":${JSON.stringify(data)},"prev":"${this.last}"}`;
    // One-shot hashing: half the cost of a Hash object per event.
    const hash = digest('sha256', form, 'hex');
    this.last = hash;
    return `${form.slice(0, -1)},"hash":"${hash}"}`;
  }
}

export interface ChainProblem {
  sessionId: string;
  seq: number;
  problem: string;
}

/** Where a session's chain stands: its last sequence number and hash (0 and '' before its first event). */
export interface ChainPosition {
  seq: number;
  hash: string;
}

/** What is wrong with an event given where its session's chain stood before it (empty: nothing). */
export function chainProblems(e: ChainedEvent, before: ChainPosition): string[] {
  const problems: string[] = [];
  if (eventHash(e) !== e.hash) problems.push('modified: its content does not match its hash');
  if (e.seq !== before.seq + 1) {
    problems.push(
      e.seq === before.seq + 2
        ? `event ${before.seq + 1} before it is missing`
        : e.seq > before.seq + 2
          ? `events ${before.seq + 1}–${e.seq - 1} before it are missing`
          : `out of order (after event ${before.seq})`,
    );
  } else if (e.prev !== before.hash) {
    problems.push('does not follow the event before it (prev hash differs)');
  }
  return problems;
}

/** The chain's position after an event (a sequence number never moves back). */
export function chainAfter(e: ChainedEvent, before: ChainPosition): ChainPosition {
  return { seq: Math.max(before.seq, e.seq), hash: e.hash };
}

/**
 * Checks chains event by event (in the order they were stored), so a journal of any size verifies in
 * bounded memory: per session, only its last sequence number and hash are kept.
 */
export class ChainVerifier {
  readonly problems: ChainProblem[] = [];
  private readonly state = new Map<string, ChainPosition>();

  add(e: ChainedEvent): void {
    const before = this.state.get(e.sessionId) ?? { seq: 0, hash: '' };
    for (const problem of chainProblems(e, before))
      this.problems.push({ sessionId: e.sessionId, seq: e.seq, problem });
    this.state.set(e.sessionId, chainAfter(e, before));
  }
}

/** Checks every session's chain in the given events (in the order they were stored). */
export function verifyChain(events: Iterable<ChainedEvent>): ChainProblem[] {
  const verifier = new ChainVerifier();
  for (const e of events) verifier.add(e);
  return verifier.problems;
}
