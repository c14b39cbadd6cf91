import { PgError, SqlState, fatal } from './errors';

/** The largest untyped startup-phase packet PostgreSQL itself accepts (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET = 10_000;

/**
 * The largest typed message accepted before authentication ends: PostgreSQL reads SASL and password
 * messages with PG_MAX_AUTH_TOKEN_LENGTH. An unauthenticated peer must not make the proxy buffer more.
 */
export const MAX_AUTH_MESSAGE = 65_535;

/**
 * Splits a byte stream into whole messages. Typed messages are `type(1) len(4) body`; the startup phase
 * sends untyped ones (`len(4) body`). Complete messages are handed out as views into the incoming chunk,
 * so forwarding them costs no copy; only a message split across chunks is joined.
 */
export class MessageFramer {
  /** Bytes of an incomplete message, as received (joined once the message is whole: linear cost). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** How many bytes the pending message needs before it can be framed. */
  private needed = 0;

  constructor(
    private readonly maxMessageBytes: number,
    private typed = true,
  ) {}

  /** After the startup packet every message carries a type byte. */
  setTyped(): void {
    this.typed = true;
  }

  get buffered(): number {
    return this.pendingBytes;
  }

  /**
   * Calls `onMessage(type, message)` for every complete message, where `message` includes its header.
   * `type` is 0 for untyped messages. Throws PgError on a malformed or oversized header.
   */
  push(chunk: Buffer, onMessage: (type: number, message: Buffer) => void): void {
    let buf = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.needed) return;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let offset = 0;
    // The header size is re-read per message: a handler switches to typed framing after the startup packet.
    for (let header = this.typed ? 5 : 4; buf.length - offset >= header; header = this.typed ? 5 : 4) {
      const total = this.messageLength(buf, offset, header);
      if (buf.length - offset < total) break;
      const message = buf.subarray(offset, offset + total);
      offset += total;
      onMessage(header === 5 ? message[0] : 0, message);
    }
    if (offset < buf.length) {
      const header = this.typed ? 5 : 4;
      const rest = buf.subarray(offset);
      this.pending = [rest];
      this.pendingBytes = rest.length;
      this.needed = rest.length >= header ? this.messageLength(rest, 0, header) : header;
    }
  }

  /** The whole length of the message at `offset` (header included), checked against the limits. */
  private messageLength(buf: Buffer, offset: number, header: number): number {
    const len = buf.readInt32BE(offset + header - 4);
    const limit = this.typed ? this.maxMessageBytes : MAX_STARTUP_PACKET;
    if (len < 4 || (!this.typed && len < 8)) {
      throw new PgError(SqlState.protocolViolation, `invalid message length ${len}`, { severity: 'FATAL' });
    }
    if (len > limit) {
      throw fatal(
        SqlState.programLimitExceeded,
        `message of ${len} bytes exceeds the limit of ${limit} bytes`,
        {
          hint: this.typed ? 'Raise maxMessageBytes in the Airlock config if this is intended.' : undefined,
        },
      );
    }
    return len + header - 4;
  }

  /** Takes the bytes not yet framed (a partial message), e.g. when another reader takes over the socket. */
  drain(): Buffer | null {
    if (this.pendingBytes === 0) return null;
    const p = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return p;
  }
}
