import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Journal, JOURNAL_FILE, scanJournal, type JournalOptions } from './journal';
import { SessionChain } from './chain';
import { installationKey, signCheckpoint, type InstallationKey } from './checkpoint';
import { WriterLock } from './writer-lock';
import type { EventData, EventType, SessionStart, StatementRecord } from './events';

export interface RecorderOptions extends JournalOptions {
  /** Sessions that ended longer ago than this are removed at start (compaction). Default 365. */
  retentionDays?: number;
}

/** What start-up found and did. */
export interface RecoveryReport {
  /** Bytes of a line torn by a crash, moved to journal.torn. */
  tornBytes: number;
  /** Sessions left open by a crash, now ended and checkpointed. */
  recovered: string[];
  /** Sessions past retention, removed. */
  expired: number;
}

interface SessionTail {
  seq: number;
  hash: string;
  type: string;
  time: string;
}

const DAY_MS = 24 * 3600_000;

/**
 * Records sessions into the journal: every event hash-chained per session, written before the client
 * is told its statement completed, each ended session closed by a signed checkpoint.
 */
export class Recorder {
  private constructor(
    private readonly journal: Journal,
    private readonly key: InstallationKey,
    private readonly lock: WriterLock,
    readonly strict: boolean,
    readonly report: RecoveryReport,
  ) {}

  /**
   * Opens the folder for writing: sets a torn tail aside, removes sessions past retention, and ends
   * (with a checkpoint) every session a crash left open, so the journal verifies again.
   */
  static open(dir: string, options: RecorderOptions = {}): Recorder {
    const journalOptions = { sync: options.sync, batchWindowMs: options.batchWindowMs };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The lock first: setting a torn tail aside must never cut a live writer's line.
    const lock = WriterLock.acquire(dir);
    let journal: Journal | undefined;
    try {
      journal = Journal.open(dir, journalOptions);
      const key = installationKey(dir);
      let tails = sessionTails(dir);
      const cutoff = new Date(Date.now() - (options.retentionDays ?? 365) * DAY_MS).toISOString();
      let expired = [...tails].filter(([, t]) => t.type === 'checkpoint' && t.time < cutoff);
      if (expired.length > 0) {
        journal.close();
        if (!compact(dir, new Set(expired.map(([id]) => id)))) expired = [];
        journal = Journal.open(dir, journalOptions);
        tails = sessionTails(dir);
      }
      const recorder: Recorder = new Recorder(journal, key, lock, options.sync === 'strict', {
        tornBytes: journal.tornBytes,
        recovered: [],
        expired: expired.length,
      });
      for (const [id, tail] of tails) {
        if (tail.type === 'checkpoint') continue;
        const session = new SessionRecorder(journal, new SessionChain(id, tail.seq, tail.hash), key);
        if (tail.type !== 'session-end') {
          session.event('session-end', {
            reason: 'interrupted: the proxy stopped without ending the session (closed at the next start)',
            interrupted: true,
          });
        }
        session.checkpoint();
        recorder.report.recovered.push(id);
      }
      journal.write();
      return recorder;
    } catch (err) {
      journal?.close();
      lock.release();
      throw err;
    }
  }

  session(id: string, start: SessionStart): SessionRecorder {
    const rec = new SessionRecorder(this.journal, new SessionChain(id), this.key);
    rec.event('session-start', { ...start });
    return rec;
  }

  close(): void {
    this.journal.close();
    this.lock.release();
  }
}

/** The last event of every session in the journal. */
function sessionTails(dir: string): Map<string, SessionTail> {
  const tails = new Map<string, SessionTail>();
  scanJournal(dir, 0, {
    event: (e) => tails.set(e.sessionId, { seq: e.seq, hash: e.hash, type: e.type, time: e.time }),
  });
  return tails;
}

/**
 * Rewrites the journal without the given sessions: the kept lines are copied byte for byte (their
 * hashes stay valid), synced, then renamed over the journal in one step. A journal with an unreadable
 * line is left as it is (that line is evidence for verify); false then.
 */
function compact(dir: string, drop: Set<string>): boolean {
  const file = path.join(dir, JOURNAL_FILE);
  const next = `${file}.compacting`;
  const fd = openSync(next, 'w', 0o600);
  let damaged = false;
  try {
    let pending: string[] = [];
    let size = 0;
    const flush = () => {
      if (pending.length) writeSync(fd, pending.join(''));
      pending = [];
      size = 0;
    };
    scanJournal(dir, 0, {
      event: (e, _offset, _length, text) => {
        if (drop.has(e.sessionId)) return;
        pending.push(text + '\n');
        size += text.length + 1;
        if (size > 1 << 20) flush();
      },
      damaged: () => {
        damaged = true;
      },
    });
    flush();
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (damaged) {
    unlinkSync(next);
    return false;
  }
  renameSync(next, file);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return true;
}

export class SessionRecorder {
  /** Resolves when every event so far is as durable as the journal's mode promises. */
  durable: Promise<void> = Promise.resolve();

  constructor(
    private readonly journal: Journal,
    private readonly chain: SessionChain,
    private readonly key: InstallationKey,
  ) {}

  event<K extends EventType>(type: K, data: EventData[K]): void {
    if (this.journal.isClosed) return; // after shutdown, a straggling session end has nowhere to go
    const synced = this.journal.append(this.chain.next(type, data));
    if (!synced) return;
    // Whoever waits on durability hears of a failure; an event nobody waits on must not crash the process.
    synced.catch(() => undefined);
    this.durable = synced;
  }

  /** Puts every event recorded so far into the file (before the client is told anything about them). */
  write(): void {
    this.journal.write();
  }

  /** Calls `release` when every event recorded so far is in the file (see Journal.afterWrite). */
  afterWrite(release: (err?: Error) => void): void {
    this.journal.afterWrite(release);
  }

  /** `s.sql` as recorded: redacted by the caller (core/sql/recorded-text.ts). */
  statement(s: StatementRecord): void {
    this.event('statement', s);
  }

  end(why: string): void {
    this.event('session-end', { reason: why });
    this.checkpoint();
  }

  /** Signs the session's last event: from here on, removing events at its end shows. */
  checkpoint(): void {
    this.event('checkpoint', {
      ...signCheckpoint(this.key, this.chain.sessionId, this.chain.lastSeq, this.chain.lastHash),
    });
  }
}
