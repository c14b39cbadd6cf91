import { closeSync, fdatasyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
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

  append(event: RecordedEvent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the journal is closed'));
    // One write per event: a crash leaves at most the last line torn, never an interleaving.
    writeSync(this.fd, JSON.stringify(event) + '\n');
    if (this.options.sync === 'batch') {
      this.scheduleSync();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.pending.push(resolve);
      this.scheduleSync();
    });
  }

  private scheduleSync(): void {
    if (this.timer) return;
    const window = this.options.sync === 'strict' ? 0 : this.options.batchWindowMs;
    this.timer = setTimeout(() => this.sync(), window);
  }

  private sync(): void {
    this.timer = null;
    fdatasyncSync(this.fd);
    const waiting = this.pending;
    this.pending = [];
    for (const resolve of waiting) resolve();
  }

  close(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.sync();
    this.closed = true;
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
