import type { Duplex } from 'node:stream';
import { MessageFramer } from './framing';
import { PgError, SqlState, fatal } from './errors';

export interface Framed {
  type: number;
  message: Buffer;
}

/**
 * Pull-style reading of whole messages during a handshake, where the peers take turns. `release()` hands the
 * socket back for streaming with whatever bytes arrived beyond the last message read.
 */
export class MessageQueue {
  private readonly framer: MessageFramer;
  private readonly ready: Framed[] = [];
  private waiter: { resolve: (m: Framed) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer) => {
    try {
      this.framer.push(chunk, (type, message) => this.deliver({ type, message }));
    } catch (err) {
      this.fail(err as Error);
    }
  };
  private readonly onEnd = () =>
    this.fail(fatal(SqlState.connectionFailure, `${this.peer} closed the connection`));
  private readonly onError = (err: Error) =>
    this.fail(fatal(SqlState.connectionFailure, `${this.peer} connection failed: ${err.message}`));

  constructor(
    private readonly socket: Duplex,
    private readonly peer: string,
    maxMessageBytes: number,
    typed: boolean,
  ) {
    this.framer = new MessageFramer(maxMessageBytes, typed);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  setTyped(): void {
    this.framer.setTyped();
  }

  /** Whether bytes beyond the messages read so far have arrived. */
  hasPending(): boolean {
    return this.ready.length > 0 || this.framer.buffered > 0;
  }

  next(timeoutMs: number, what: string): Promise<Framed> {
    const queued = this.ready.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(fatal(SqlState.connectionFailure, `timed out waiting for ${what} from ${this.peer}`));
      }, timeoutMs);
      this.waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  private deliver(m: Framed): void {
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w.resolve(m);
    } else {
      this.ready.push(m);
    }
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  /** Detaches from the socket. Returns bytes received but not yet consumed, as whole or partial messages. */
  release(): Buffer | null {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    const parts = this.ready.map((m) => m.message);
    const tail = this.framer.drain();
    if (tail) parts.push(tail);
    if (this.waiter) this.waiter.reject(new PgError(SqlState.internalError, 'queue released while waiting'));
    return parts.length ? Buffer.concat(parts) : null;
  }
}
