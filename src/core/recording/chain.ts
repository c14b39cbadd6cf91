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

/**
 * Checks chains event by event (in the order they were stored), so a journal of any size verifies in
 * bounded memory: per session, only its last sequence number and hash are kept.
 */
export class ChainVerifier {
  readonly problems: ChainProblem[] = [];
  private readonly state = new Map<string, { seq: number; hash: string }>();

  add(e: ChainedEvent): void {
    const s = this.state.get(e.sessionId) ?? { seq: 0, hash: '' };
    const problem = (text: string) =>
      this.problems.push({ sessionId: e.sessionId, seq: e.seq, problem: text });
    if (eventHash(e) !== e.hash) problem('modified: its content does not match its hash');
    if (e.seq !== s.seq + 1) {
      problem(
        e.seq === s.seq + 2
          ? `event ${s.seq + 1} before it is missing`
          : e.seq > s.seq + 2
            ? `events ${s.seq + 1}–${e.seq - 1} before it are missing`
            : `out of order (after event ${s.seq})`,
      );
    } else if (e.prev !== s.hash) {
      problem('does not follow the event before it (prev hash differs)');
    }
    this.state.set(e.sessionId, { seq: Math.max(s.seq, e.seq), hash: e.hash });
  }
}

/** Checks every session's chain in the given events (in the order they were stored). */
export function verifyChain(events: Iterable<ChainedEvent>): ChainProblem[] {
  const verifier = new ChainVerifier();
  for (const e of events) verifier.add(e);
  return verifier.problems;
}
