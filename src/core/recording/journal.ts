import {
  appendFileSync,
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { ChainedEvent } from './chain';

export interface JournalOptions {
  /**
   * `batch` (default): appends within `batchWindowMs` share one fdatasync (group commit) — an event is
   * acknowledged once the operating system has it, and on disk within the window. `strict`: every
   * acknowledgement waits for fdatasync, which survives power loss too.
   */
  sync?: 'batch' | 'strict';
  batchWindowMs?: number;
}

export const JOURNAL_FILE = 'journal.jsonl';
/**
 * Like PostgreSQL's wal_writer_delay for asynchronous commit: a sync running all the time would make
 * every journal write wait behind it (the file's lock), on the hot path.
 */
const DEFAULT_BATCH_WINDOW_MS = 100;
/** Where a torn tail found at start is kept (never silently dropped). */
export const TORN_FILE = 'journal.torn';

/**
 * The append-only journal of recorded events, one JSON line each. `append` resolves when the event is
 * written (batch) or synced (strict); a statement's result is released to the client only after that,
 * so everything a client received survives `kill -9` of the proxy.
 */
export class Journal {
  private readonly fd: number;
  private pending: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  /**
   * The first write or sync that failed (a full disk, an I/O error): the journal records nothing more, and
   * everything waiting for it is told, so nothing unrecorded is released (fail closed).
   */
  private failure: Error | null = null;
  private unwritten: string[] = [];
  private syncing = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly options: Required<JournalOptions>,
  ) {
    this.fd = openSync(file, 'a+', 0o600);
  }

  /** Bytes of a torn last line moved aside when the journal was opened (0: none). */
  tornBytes = 0;

  static open(dir: string, options: JournalOptions = {}): Journal {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const journal = new Journal(path.join(dir, JOURNAL_FILE), {
      sync: options.sync ?? 'batch',
      batchWindowMs: options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS,
    });
    journal.tornBytes = journal.setAsideTornTail(path.join(dir, TORN_FILE));
    return journal;
  }

  /**
   * A crash mid-write can leave the last line incomplete; appending after it would glue the next event
   * onto it. Its bytes (an event never acknowledged to a client) go to the torn file, and the journal
   * is cut back to its last complete line.
   */
  private setAsideTornTail(tornFile: string): number {
    const size = fstatSync(this.fd).size;
    if (size === 0) return 0;
    const tailSize = Math.min(size, 1 << 20);
    let tail = Buffer.alloc(tailSize);
    let start = size - tailSize;
    readSync(this.fd, tail, 0, tailSize, start);
    if (tail[tail.length - 1] === 0x0a) return 0;
    // Lines are far shorter than 1 MiB except huge samples; read further back until a newline shows.
    let nl = tail.lastIndexOf(0x0a);
    while (nl < 0 && start > 0) {
      const more = Buffer.alloc(Math.min(start, 1 << 20));
      start -= more.length;
      readSync(this.fd, more, 0, more.length, start);
      tail = Buffer.concat([more, tail]);
      nl = tail.lastIndexOf(0x0a);
    }
    const keep = start + nl + 1;
    appendFileSync(tornFile, Buffer.concat([tail.subarray(nl + 1), Buffer.from('\n')]), { mode: 0o600 });
    ftruncateSync(this.fd, keep);
    fdatasyncSync(this.fd);
    return size - keep;
  }

  /**
   * Queues an event's line. Lines reach the file at `write()` — the proxy calls it right before it
   * releases anything to the client — or at the next sync. In strict mode the promise resolves once
   * the event is synced.
   */
  append(line: string): Promise<void> | undefined {
    if (this.closed) throw new Error('the journal is closed');
    this.unwritten.push(line);
    this.scheduleSync();
    // Batch mode acknowledges at write(); only strict mode has something to wait for.
    if (this.options.sync === 'batch') return undefined;
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  private releases: Array<(err?: Error) => void> = [];
  private releaseScheduled = false;

  /**
   * Runs `release` once every line queued so far is in the file. Sessions whose results arrive in the
   * same turn of the event loop share one write (setImmediate runs right after that turn's I/O), so a
   * busy proxy makes fewer system calls. A failed write is passed on: nothing unrecorded is released.
   */
  afterWrite(release: (err?: Error) => void): void {
    if (this.unwritten.length === 0) return release();
    this.releases.push(release);
    if (this.releaseScheduled) return;
    this.releaseScheduled = true;
    setImmediate(() => {
      this.releaseScheduled = false;
      let error: Error | undefined;
      try {
        this.write();
      } catch (err) {
        error = err as Error;
      }
      for (const r of this.releases.splice(0)) r(error);
    });
  }

  /**
   * Writes the queued lines in one system call (a crash tears at most the last line). Throws when the
   * journal cannot be written, now or since an earlier failure; the lines stay queued, never dropped.
   */
  write(): void {
    if (this.failure) throw this.failure;
    if (this.unwritten.length === 0) return;
    const text = Buffer.from(this.unwritten.join('\n') + '\n');
    try {
      for (let done = 0; done < text.length;) done += writeSync(this.fd, text, done);
    } catch (err) {
      this.fail(err as Error);
      throw this.failure;
    }
    this.unwritten = [];
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }

  private scheduleSync(): void {
    if (this.timer) return;
    const window = this.options.sync === 'strict' ? 0 : this.options.batchWindowMs;
    this.timer = setTimeout(() => this.sync(), window);
  }

  /**
   * Writes what is queued and syncs it in the thread pool, so the event loop never waits on the disk;
   * one sync at a time, and appends that arrive meanwhile get the next one.
   */
  private sync(): void {
    this.timer = null;
    if (this.syncing || this.closed || this.failure) return;
    try {
      this.write();
    } catch {
      return; // fail() told everyone waiting; the next afterWrite passes the error on
    }
    const waiting = this.pending;
    this.pending = [];
    this.syncing = true;
    fdatasync(this.fd, (err) => {
      this.syncing = false;
      if (this.closed) return; // the descriptor was closed (and synced) meanwhile
      if (err) {
        for (const p of waiting) p.reject(err);
        return this.fail(err);
      }
      for (const p of waiting) p.resolve();
      if (this.unwritten.length || this.pending.length) this.scheduleSync();
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Writes and syncs what is queued and closes the file; a journal that cannot be written still closes. */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    try {
      this.write();
      fdatasyncSync(this.fd);
    } catch (err) {
      this.fail(err as Error);
    }
    this.closed = true;
    for (const p of this.pending.splice(0)) p.resolve();
    // A sync still running in the pool finishes on the closed descriptor harmlessly (its error is ignored).
    closeSync(this.fd);
  }

  /**
   * Reads every line back as a chained event (of any kind: see event-reader.ts for typed reading). A
   * torn last line (a crash in the middle of a write) is reported, not fatal; a torn line anywhere else
   * is corruption and is reported as such.
   */
  static read(dir: string): { events: ChainedEvent[]; damaged: JournalDamage[] } {
    const events: ChainedEvent[] = [];
    const damaged: JournalDamage[] = [];
    scanJournal(dir, 0, {
      event: (e) => events.push(e),
      damaged: (d) => damaged.push(d),
      tornTail: (d) => damaged.push(d),
    });
    return { events, damaged };
  }
}

export interface JournalDamage {
  line: number;
  offset: number;
  problem: string;
}

export interface JournalVisitor {
  /** An event, with the byte offset and length of its line, the line itself and its number. */
  event(e: ChainedEvent, offset: number, length: number, text: string, line: number): void;
  damaged?(d: JournalDamage): void;
  /** Reported only by a full read: the writer may still be writing a line a follower sees half of. */
  tornTail?(d: JournalDamage): void;
}

/**
 * Reads the journal's complete lines from `offset` in bounded chunks (memory does not grow with the
 * journal) and returns the offset after the last complete line: where a follower continues.
 */
export function scanJournal(
  dir: string,
  offset: number,
  visit: JournalVisitor,
  firstLine = 1,
  /** Stop before lines that start at or after this offset. */
  end = Infinity,
): number {
  let fd: number;
  try {
    fd = openSync(path.join(dir, JOURNAL_FILE), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return offset;
    throw err;
  }
  try {
    const chunk = Buffer.alloc(1 << 20);
    let carry = Buffer.alloc(0);
    let position = offset;
    let line = firstLine;
    while (position < end) {
      const n = readSync(fd, chunk, 0, chunk.length, position + carry.length);
      if (n === 0) break;
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (let nl = data.indexOf(0x0a); nl >= 0 && position + start < end; nl = data.indexOf(0x0a, start)) {
        if (nl > start) {
          const text = data.toString('utf8', start, nl);
          const e = parseLine(text);
          if (e) visit.event(e, position + start, nl - start, text, line);
          else visit.damaged?.({ line, offset: position + start, problem: 'unreadable line' });
        }
        line++;
        start = nl + 1;
      }
      position += start;
      carry = Buffer.from(data.subarray(start));
    }
    if (carry.length > 0 && position < end) {
      visit.tornTail?.({
        line,
        offset: position,
        problem: 'torn last line (the writer stopped mid-write)',
      });
    }
    return position;
  } finally {
    closeSync(fd);
  }
}

/** A line's JSON object; undefined for anything else (a torn or garbled line). */
function parseLine(text: string): ChainedEvent | undefined {
  try {
    const e: unknown = JSON.parse(text);
    return typeof e === 'object' && e !== null && !Array.isArray(e) ? (e as ChainedEvent) : undefined;
  } catch {
    return undefined;
  }
}
