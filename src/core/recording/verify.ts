import type { KeyObject } from 'node:crypto';
import { ChainVerifier, type ChainProblem, type ChainedEvent } from './chain';
import { checkpointProblem, verificationKey } from './checkpoint';
import { eventProblem } from './event-reader';
import { scanJournal, type JournalDamage } from './journal';
import { liveWriter } from './writer-lock';

export interface VerifyReport {
  sessions: number;
  events: number;
  /** Modified, missing, reordered events; bad or missing checkpoints. */
  problems: ChainProblem[];
  /**
   * Unreadable lines, and lines that are not events of the schema (their place in the chain is still
   * checked); a torn last line is in `torn`: the writer stopped mid-write, nothing acknowledged.
   */
  damaged: JournalDamage[];
  torn: JournalDamage[];
  /** Sessions still being recorded (no checkpoint yet, and the writer is running). */
  live: string[];
}

/**
 * Verifies a recordings folder: every event's hash and place in its session's chain, and every session's
 * signed checkpoint (which covers its end: events cut off the end show). `publicKey` pins the key to
 * verify with; without it, the folder's own public key is used.
 */
export function verifyRecordings(dir: string, options: { publicKey?: string } = {}): VerifyReport {
  const key = verificationKey(dir, options.publicKey);
  const chains = new ChainVerifier();
  const sessions = new Map<string, { last: ChainedEvent; checkpointed: boolean; ended: boolean }>();
  const report: VerifyReport = {
    sessions: 0,
    events: 0,
    problems: chains.problems,
    damaged: [],
    torn: [],
    live: [],
  };
  scanJournal(dir, 0, {
    event: (e, offset, _length, _text, line) => {
      report.events++;
      // The chain is checked whatever the line says: a tampered event shows as modified, not just odd.
      chains.add(e);
      const problem = eventProblem(e);
      if (problem) report.damaged.push({ line, offset, problem: `not a recording event: ${problem}` });
      const s = sessions.get(e.sessionId);
      if (s?.checkpointed && e.type !== 'checkpoint') {
        report.problems.push({
          sessionId: e.sessionId,
          seq: e.seq,
          problem: "recorded after the session's checkpoint",
        });
      }
      if (e.type === 'checkpoint') checkCheckpoint(key, e, s?.last, report.problems);
      sessions.set(e.sessionId, {
        last: e,
        checkpointed: (s?.checkpointed ?? false) || e.type === 'checkpoint',
        ended: (s?.ended ?? false) || e.type === 'session-end',
      });
    },
    damaged: (d) => report.damaged.push(d),
    tornTail: (d) => report.torn.push(d),
  });
  report.sessions = sessions.size;
  const writing = liveWriter(dir) !== null;
  for (const [id, s] of sessions) {
    if (s.last.type === 'checkpoint') continue;
    if (writing && !s.ended) {
      report.live.push(id);
      continue;
    }
    report.problems.push({
      sessionId: id,
      seq: s.last.seq,
      problem: s.checkpointed
        ? 'events follow its checkpoint'
        : "no signed checkpoint after it: the events at the session's end were removed (or the proxy was killed and has not been started since, which closes such sessions)",
    });
  }
  return report;
}

function checkCheckpoint(
  key: KeyObject | null,
  e: ChainedEvent,
  before: ChainedEvent | undefined,
  problems: ChainProblem[],
): void {
  const problem = checkpointCoverage(key, e, before);
  if (problem) problems.push({ sessionId: e.sessionId, seq: e.seq, problem });
}

/**
 * What is wrong with a checkpoint event: its signature (by the installation key), or the event it says
 * it covers is not the one before it. `before`: the session's last event before the checkpoint.
 */
export function checkpointCoverage(
  key: KeyObject | null,
  e: ChainedEvent,
  before: { seq: number; hash: string } | undefined,
): string | null {
  if (!key)
    return 'checkpoint cannot be checked: the installation public key (keys/installation-ed25519.pub.pem) is missing';
  const bad = checkpointProblem(key, e.sessionId, e.data);
  if (bad) return bad;
  if (!before || e.data.seq !== before.seq || e.data.hash !== before.hash)
    return `checkpoint covers event ${String(e.data.seq)}, but the event before it is ${before ? before.seq : 'missing'}`;
  return null;
}
