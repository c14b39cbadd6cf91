import type { Writable } from 'node:stream';

/**
 * Collects outgoing message buffers and writes them with as few socket writes as possible: consecutive
 * views into the same incoming chunk are merged back into one view, so a chunk forwarded unchanged is
 * written once, without a copy.
 */
export class OutputBatch {
  private parts: Buffer[] = [];

  add(buf: Buffer): void {
    const last = this.parts[this.parts.length - 1];
    if (last && last.buffer === buf.buffer && last.byteOffset + last.length === buf.byteOffset) {
      this.parts[this.parts.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + buf.length);
    } else {
      this.parts.push(buf);
    }
  }

  get empty(): boolean {
    return this.parts.length === 0;
  }

  /** Writes everything collected; returns false when the destination asks to wait for 'drain'. */
  flushTo(dest: Writable): boolean {
    const parts = this.parts;
    if (parts.length === 0) return true;
    this.parts = [];
    if (parts.length === 1) return dest.write(parts[0]);
    return dest.write(Buffer.concat(parts));
  }
}
