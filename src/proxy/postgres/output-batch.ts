import type { Writable } from 'node:stream';

/**
 * Collects outgoing message buffers and writes them with as few socket writes as possible: consecutive
 * views into the same incoming chunk are merged back into one view, so a chunk forwarded unchanged is
 * written once, without a copy. The run being merged is kept as offsets: no allocation per message.
 */
export class OutputBatch {
  private parts: Buffer[] = [];
  /** The first view of the current run, and the run's length from its start. */
  private run: Buffer | null = null;
  private runEnd = 0;

  add(buf: Buffer): void {
    const run = this.run;
    if (run && run.buffer === buf.buffer && run.byteOffset + this.runEnd === buf.byteOffset) {
      this.runEnd += buf.length;
      return;
    }
    this.closeRun();
    this.run = buf;
    this.runEnd = buf.length;
  }

  private closeRun(): void {
    const run = this.run;
    if (!run) return;
    this.parts.push(this.runEnd === run.length ? run : Buffer.from(run.buffer, run.byteOffset, this.runEnd));
    this.run = null;
  }

  /** Drops everything collected (the session ends before it may reach the client). */
  discard(): void {
    this.parts = [];
    this.run = null;
  }

  /** Writes everything collected; returns false when the destination asks to wait for 'drain'. */
  flushTo(dest: Writable): boolean {
    this.closeRun();
    const parts = this.parts;
    if (parts.length === 0) return true;
    this.parts = [];
    return dest.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
  }
}
