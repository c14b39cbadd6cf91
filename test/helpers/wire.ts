import net from 'node:net';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * A deliberately dumb PostgreSQL wire client for fault-injection tests: it sends exactly the bytes it is
 * given (well-formed or not) and records every byte that comes back, so a test can decode what the proxy
 * answered and see whether (and when) the proxy closed the connection. Encoding, decoding and the SCRAM
 * client side are written here from the protocol documentation, independently of the proxy's own code.
 */

export interface BackendMessage {
  /** The type byte as a character ('E', 'Z', 'R', …). */
  type: string;
  /** The message body, without type byte and length. */
  body: Buffer;
}

export interface ErrorFields {
  /** Severity (S), SQLSTATE (C), message (M), detail (D), hint (H), … */
  [code: string]: string;
}

/** PROTOCOL CODES */
export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

// ---------- encoding frontend messages ----------

/** An untyped startup-phase packet: length, then the 32-bit code, then `rest`. */
export function untypedPacket(code: number, rest: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(8 + rest.length);
  b.writeInt32BE(8 + rest.length, 0);
  b.writeInt32BE(code, 4);
  rest.copy(b, 8);
  return b;
}

/** StartupMessage with the given parameters (protocol 3.0 unless `version` says otherwise). */
export function startupPacket(params: Record<string, string>, version = PROTOCOL_3_0): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(params)) parts.push(Buffer.from(`${k}\0${v}\0`, 'utf8'));
  parts.push(Buffer.from([0]));
  return untypedPacket(version, Buffer.concat(parts));
}

export const sslRequest = (): Buffer => untypedPacket(SSL_REQUEST_CODE);
export const gssencRequest = (): Buffer => untypedPacket(GSSENC_REQUEST_CODE);

export function cancelRequest(processId: number, secretKey: number): Buffer {
  const rest = Buffer.alloc(8);
  rest.writeInt32BE(processId | 0, 0);
  rest.writeInt32BE(secretKey | 0, 4);
  return untypedPacket(CANCEL_REQUEST_CODE, rest);
}

/** A typed frontend message: type byte, length (itself included), body. */
export function typedMessage(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const m = Buffer.alloc(5 + b.length);
  m.write(type, 0, 'latin1');
  m.writeInt32BE(4 + b.length, 1);
  b.copy(m, 5);
  return m;
}

export const queryMessage = (sql: string): Buffer => typedMessage('Q', `${sql}\0`);
export const terminateMessage = (): Buffer => typedMessage('X');

/** A typed message header only: type and a claimed length, without the body it announces. */
export function typedHeader(type: string, claimedLength: number): Buffer {
  const m = Buffer.alloc(5);
  m.write(type, 0, 'latin1');
  m.writeUInt32BE(claimedLength >>> 0, 1);
  return m;
}

// ---------- decoding backend messages ----------

/** Splits backend bytes into typed messages; `rest` is an incomplete tail (or undecodable bytes). */
export function decodeBackend(bytes: Buffer): { messages: BackendMessage[]; rest: Buffer } {
  const messages: BackendMessage[] = [];
  let off = 0;
  while (bytes.length - off >= 5) {
    const len = bytes.readInt32BE(off + 1);
    if (len < 4 || bytes.length - off < 1 + len) break;
    messages.push({ type: String.fromCharCode(bytes[off]), body: bytes.subarray(off + 5, off + 1 + len) });
    off += 1 + len;
  }
  return { messages, rest: bytes.subarray(off) };
}

/** Fields of an ErrorResponse/NoticeResponse body. */
export function errorFields(body: Buffer): ErrorFields {
  const fields: ErrorFields = {};
  let off = 0;
  while (off < body.length && body[off] !== 0) {
    const code = String.fromCharCode(body[off]);
    const end = body.indexOf(0, off + 1);
    if (end < 0) break;
    fields[code] = body.toString('utf8', off + 1, end);
    off = end + 1;
  }
  return fields;
}

// ---------- the connection ----------

/** A raw TCP connection that records everything it receives. */
export class WireConnection {
  /** Every byte received so far. */
  received = Buffer.alloc(0);
  /** Bytes received and not yet consumed by readByte/nextMessage. */
  private unread = Buffer.alloc(0);
  closed = false;
  /** Errors on the socket (EPIPE, ECONNRESET after the proxy closed), recorded rather than thrown. */
  readonly socketErrors: Error[] = [];
  readonly closedAt: Promise<number>;
  private wake: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.unread = Buffer.concat([this.unread, chunk]);
      this.notify();
    });
    socket.on('error', (err) => this.socketErrors.push(err));
    this.closedAt = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        this.notify();
        resolve(Date.now());
      }),
    );
  }

  static async open(host: string, port: number): Promise<WireConnection> {
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    return new WireConnection(socket);
  }

  /** Takes over an already connected socket, e.g. the TLSSocket after SSLRequest was answered 'S'. */
  static wrap(socket: net.Socket): WireConnection {
    return new WireConnection(socket);
  }

  private notify(): void {
    for (const w of this.wake.splice(0)) w();
  }

  /** Waits for more input or the close, at most `ms`. */
  private waitForInput(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  send(...parts: Buffer[]): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(Buffer.concat(parts));
  }

  /** One unframed byte, e.g. the 'S'/'N' answer to SSLRequest or GSSENCRequest. */
  async readByte(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.unread.length === 0) {
      if (this.closed) throw new Error('connection closed before a byte arrived');
      if (Date.now() > deadline) throw new Error(`no byte within ${timeoutMs} ms`);
      await this.waitForInput(deadline - Date.now());
    }
    const b = this.unread.subarray(0, 1).toString('latin1');
    this.unread = this.unread.subarray(1);
    return b;
  }

  /** The next whole backend message; throws if the connection closes or nothing arrives in time. */
  async nextMessage(timeoutMs = 5000): Promise<BackendMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { messages } = decodeBackend(this.unread);
      if (messages.length) {
        const m = messages[0];
        this.unread = this.unread.subarray(5 + m.body.length);
        return m;
      }
      if (this.closed) throw new Error(`connection closed (${this.unread.length} undecoded bytes left)`);
      if (Date.now() > deadline) throw new Error(`no message within ${timeoutMs} ms`);
      await this.waitForInput(deadline - Date.now());
    }
  }

  /** Messages up to and including the next one of `type`. */
  async until(type: string, timeoutMs = 5000): Promise<BackendMessage[]> {
    const deadline = Date.now() + timeoutMs;
    const out: BackendMessage[] = [];
    for (;;) {
      const m = await this.nextMessage(Math.max(1, deadline - Date.now()));
      out.push(m);
      if (m.type === type) return out;
    }
  }

  /**
   * Waits until the peer closes the connection and returns every message not yet consumed. Rejects when
   * the connection is still open after `timeoutMs` (the "does not hang" bound).
   */
  async readUntilClosed(timeoutMs = 5000): Promise<BackendMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline)
        throw new Error(`the proxy kept the connection open for more than ${timeoutMs} ms`);
      await this.waitForInput(deadline - Date.now());
    }
    const { messages } = decodeBackend(this.unread);
    this.unread = Buffer.alloc(0);
    return messages;
  }

  /** Waits for the close without failing; true if it closed within `timeoutMs`. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await this.waitForInput(deadline - Date.now());
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The ErrorResponse fields among `messages`, in order. */
export function errorsIn(messages: BackendMessage[]): ErrorFields[] {
  return messages.filter((m) => m.type === 'E').map((m) => errorFields(m.body));
}

// ---------- SCRAM-SHA-256 client (RFC 5802 / 7677, as PostgreSQL uses it) ----------

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

function saslInitialResponse(mechanism: string, data: string): Buffer {
  const d = Buffer.from(data, 'utf8');
  const len = Buffer.alloc(4);
  len.writeInt32BE(d.length);
  return typedMessage('p', Buffer.concat([Buffer.from(`${mechanism}\0`, 'latin1'), len, d]));
}

/**
 * Runs StartupMessage + SCRAM-SHA-256 on `conn` with `password` and returns the messages the proxy sent
 * after AuthenticationOk, up to ReadyForQuery. Throws with the server's error when authentication fails.
 */
export async function authenticate(
  conn: WireConnection,
  params: Record<string, string>,
  password: string,
): Promise<BackendMessage[]> {
  conn.send(startupPacket(params));
  const sasl = await conn.nextMessage();
  if (sasl.type === 'E') throw new Error(`startup refused: ${JSON.stringify(errorFields(sasl.body))}`);
  if (sasl.type !== 'R' || sasl.body.readInt32BE(0) !== 10)
    throw new Error(`expected AuthenticationSASL, got ${sasl.type}`);
  const mechanisms = sasl.body.toString('utf8', 4).split('\0').filter(Boolean);
  if (!mechanisms.includes('SCRAM-SHA-256')) throw new Error(`no SCRAM-SHA-256 in ${mechanisms.join(',')}`);
  const clientNonce = randomBytes(18).toString('base64');
  const clientFirstBare = `n=*,r=${clientNonce}`;
  conn.send(saslInitialResponse('SCRAM-SHA-256', `n,,${clientFirstBare}`));
  const cont = await conn.nextMessage();
  if (cont.type === 'E') throw new Error(`SASL refused: ${JSON.stringify(errorFields(cont.body))}`);
  if (cont.type !== 'R' || cont.body.readInt32BE(0) !== 11)
    throw new Error(`expected SASLContinue, got ${cont.type}`);
  const serverFirst = cont.body.toString('utf8', 4);
  const attrs = new Map(serverFirst.split(',').map((p) => [p[0], p.slice(2)] as [string, string]));
  const nonce = attrs.get('r') ?? '';
  if (!nonce.startsWith(clientNonce)) throw new Error('server nonce does not extend the client nonce');
  const salted = pbkdf2Sync(
    password,
    Buffer.from(attrs.get('s') ?? '', 'base64'),
    Number(attrs.get('i')),
    32,
    'sha256',
  );
  const clientKey = hmac(salted, 'Client Key');
  const withoutProof = `c=biws,r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = hmac(sha256(clientKey), authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
  conn.send(typedMessage('p', `${withoutProof},p=${proof.toString('base64')}`));
  const final = await conn.nextMessage();
  if (final.type === 'E')
    throw new Error(`authentication failed: ${JSON.stringify(errorFields(final.body))}`);
  const expected = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
  if (
    final.type !== 'R' ||
    final.body.readInt32BE(0) !== 12 ||
    final.body.toString('utf8', 4) !== `v=${expected}`
  ) {
    throw new Error('bad SASLFinal from the server');
  }
  const ok = await conn.nextMessage();
  if (ok.type !== 'R' || ok.body.readInt32BE(0) !== 0)
    throw new Error(`expected AuthenticationOk, got ${ok.type}`);
  return conn.until('Z', 10_000);
}

// ---------- deterministic randomness ----------

/** mulberry32: a tiny seeded PRNG, so a failing fuzz run can be replayed from its printed seed. */
export function prng(seed: number): {
  next(): number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  bytes(n: number): Buffer;
} {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: (xs) => xs[int(xs.length)],
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => int(256))),
  };
}
