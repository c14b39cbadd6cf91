import { hash as digest } from 'node:crypto';

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
  next(type: string, data: Record<string, unknown>): string {
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

  add(e: RecordedEvent): void {
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
export function verifyChain(events: Iterable<RecordedEvent>): ChainProblem[] {
  const verifier = new ChainVerifier();
  for (const e of events) verifier.add(e);
  return verifier.problems;
}
