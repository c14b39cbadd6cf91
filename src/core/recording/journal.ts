import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { RecordedEvent } from './chain';

export interface JournalOptions {
  /**
   * `batch` (default): appends within `batchWindowMs` share one fdatasync (group commit) — an event is
   * acknowledged once the operating system has it, and on disk within the window. `strict`: every
   * acknowledgement waits for fdatasync, which survives power loss too.
   */
  sync?: 'batch' | 'strict';
  batchWindowMs?: number;
}

const FILE = 'journal.jsonl';

/**
 * The append-only journal of recorded events, one JSON line each. `append` resolves when the event is
 * written (batch) or synced (strict); a statement's result is released to the client only after that,
 * so everything a client received survives `kill -9` of the proxy.
 */
export class Journal {
  private readonly fd: number;
  private pending: Array<() => void> = [];
  private unwritten: string[] = [];
  private syncing = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly options: Required<JournalOptions>,
  ) {
    this.fd = openSync(file, 'a', 0o600);
  }

  static open(dir: string, options: JournalOptions = {}): Journal {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new Journal(path.join(dir, FILE), {
      sync: options.sync ?? 'batch',
      batchWindowMs: options.batchWindowMs ?? 5,
    });
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
    return new Promise((resolve) => this.pending.push(resolve));
  }

  /** Writes the queued lines in one system call: a crash tears at most the last line. */
  write(): void {
    if (this.unwritten.length === 0) return;
    const text = this.unwritten.join('\n') + '\n';
    this.unwritten = [];
    writeSync(this.fd, text);
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
    if (this.syncing || this.closed) return;
    this.write();
    const waiting = this.pending;
    this.pending = [];
    this.syncing = true;
    fdatasync(this.fd, () => {
      this.syncing = false;
      for (const resolve of waiting) resolve();
      if (this.unwritten.length || this.pending.length) this.scheduleSync();
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.write();
    fdatasyncSync(this.fd);
    this.closed = true;
    for (const resolve of this.pending.splice(0)) resolve();
    // A sync still running in the pool finishes on the closed descriptor harmlessly (its error is ignored).
    closeSync(this.fd);
  }

  /**
   * Reads every event back. A torn last line (a crash in the middle of a write) is reported, not
   * fatal; a torn line anywhere else is corruption and is reported as such.
   */
  static read(dir: string): { events: RecordedEvent[]; damaged: Array<{ line: number; problem: string }> } {
    let text: string;
    try {
      text = readFileSync(path.join(dir, FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], damaged: [] };
      throw err;
    }
    const lines = text.split('\n');
    const events: RecordedEvent[] = [];
    const damaged: Array<{ line: number; problem: string }> = [];
    lines.forEach((line, i) => {
      if (line === '') return;
      try {
        events.push(JSON.parse(line) as RecordedEvent);
      } catch {
        const last = i === lines.length - 1;
        damaged.push({
          line: i + 1,
          problem: last ? 'torn last line (the writer stopped mid-write)' : 'unreadable line',
        });
      }
    });
    return { events, damaged };
  }
}
