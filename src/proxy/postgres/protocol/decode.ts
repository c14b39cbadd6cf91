import { PgError, SqlState } from './errors';
import { StartupCode, type TransactionStatus } from './messages';

/** Turns text bytes into a string (UTF-8 unless the client encoding says otherwise). */
export type TextDecoding = (buf: Buffer, start: number, end: number) => string;
export const utf8: TextDecoding = (buf, start, end) => buf.toString('utf8', start, end);

const invalid = (what: string) =>
  new PgError(SqlState.protocolViolation, `invalid ${what} in message`, { severity: 'FATAL' });

/**
 * Reads a message's fields in order, as pg-protocol's parser does. Messages from the client are untrusted:
 * a read past the end is a protocol violation, never a RangeError.
 */
export class BufferReader {
  constructor(
    private readonly buf: Buffer,
    public offset = 5,
  ) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  byte(): number {
    if (this.offset >= this.buf.length) throw invalid('byte');
    return this.buf[this.offset++];
  }

  int16(): number {
    if (this.offset + 2 > this.buf.length) throw invalid('integer');
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    if (this.offset + 4 > this.buf.length) throw invalid('integer');
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  uint32(): number {
    if (this.offset + 4 > this.buf.length) throw invalid('integer');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  cstring(decode: TextDecoding = utf8): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw invalid('string');
    const s = decode(this.buf, this.offset, end);
    this.offset = end + 1;
    return s;
  }

  /** A view of the next `length` bytes (no copy). */
  bytes(length: number): Buffer {
    if (length < 0 || this.offset + length > this.buf.length) throw invalid('length');
    const b = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return b;
  }

  /** The bytes up to the end of the message (no copy). */
  rest(): Buffer {
    return this.bytes(this.buf.length - this.offset);
  }
}

// ---------- frontend messages ----------

export type StartupPacket =
  | { kind: 'startup'; params: Map<string, string> }
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: number };

/** Decodes an untyped startup-phase packet (header included). */
export function decodeStartup(packet: Buffer): StartupPacket {
  const r = new BufferReader(packet, 4);
  const code = r.int32();
  switch (code) {
    case StartupCode.ssl:
      return { kind: 'ssl' };
    case StartupCode.gssenc:
      return { kind: 'gssenc' };
    case StartupCode.cancel:
      if (packet.length !== 16) break;
      return { kind: 'cancel', processId: r.int32(), secretKey: r.int32() };
    case StartupCode.protocol3: {
      const params = new Map<string, string>();
      while (r.remaining > 0 && packet[r.offset] !== 0) {
        const key = r.cstring();
        params.set(key, r.cstring());
      }
      if (r.offset !== packet.length - 1) break;
      return { kind: 'startup', params };
    }
    default:
      if (code >> 16 === 3) {
        // 3.x minor versions: PostgreSQL would negotiate down; we serve 3.0 only and say so plainly.
        throw new PgError(SqlState.featureNotSupported, `unsupported frontend protocol 3.${code & 0xffff}`, {
          severity: 'FATAL',
          hint: 'Airlock speaks protocol 3.0.',
        });
      }
      throw new PgError(
        SqlState.featureNotSupported,
        `unsupported frontend protocol ${code >> 16}.${code & 0xffff}: server supports 3.0 to 3.0`,
        { severity: 'FATAL' },
      );
  }
  throw new PgError(SqlState.protocolViolation, 'invalid startup packet layout', { severity: 'FATAL' });
}

/** The SQL text of a simple Query message, decoded as the client encoding says. */
export function decodeQuery(message: Buffer, decode = utf8): string {
  return new BufferReader(message).cstring(decode);
}

/** Statement name and SQL text of a Parse message. */
export function decodeParse(message: Buffer, decode = utf8): { name: string; sql: string } {
  const r = new BufferReader(message);
  const name = r.cstring();
  return { name, sql: r.cstring(decode) };
}

/** Portal and statement names of a Bind message. */
export function decodeBind(message: Buffer): { portal: string; statement: string } {
  const r = new BufferReader(message);
  const portal = r.cstring();
  return { portal, statement: r.cstring() };
}

/**
 * Bind's parameter values as text: text-format values as sent, binary ones as \\x hex (as bytea shows
 * them). Bind was already checked by the upstream-bound framing; a short message yields what it holds.
 */
export function decodeBindParameters(message: Buffer): Array<string | null> {
  const r = new BufferReader(message);
  r.cstring();
  r.cstring();
  const formatCount = r.int16();
  const formats: number[] = [];
  for (let i = 0; i < formatCount; i++) formats.push(r.int16());
  const count = r.int16();
  const values: Array<string | null> = [];
  for (let i = 0; i < count && r.remaining >= 4; i++) {
    const len = r.int32();
    if (len < 0) {
      values.push(null);
      continue;
    }
    const binary = (formatCount === 1 ? formats[0] : formats[i]) === 1;
    const value = r.bytes(Math.min(len, r.remaining));
    values.push(binary ? '\\x' + value.toString('hex') : value.toString('utf8'));
  }
  return values;
}

/** Close: 'S' (statement) or 'P' (portal), and the name. */
export function decodeClose(message: Buffer): { kind: 'S' | 'P'; name: string } {
  const r = new BufferReader(message);
  const kind = r.byte() === 0x53 ? 'S' : 'P';
  return { kind, name: r.cstring() };
}

/** The portal an Execute runs. */
export function decodeExecutePortal(message: Buffer): string {
  return new BufferReader(message).cstring();
}

/** The OID of the function a (fast-path) FunctionCall calls. */
export function decodeFunctionCallOid(message: Buffer): number {
  return new BufferReader(message).int32();
}

/** SASLInitialResponse: mechanism and the client-first-message. */
export function decodeSaslInitial(message: Buffer): { mechanism: string; data: Buffer } {
  const r = new BufferReader(message);
  const mechanism = r.cstring();
  if (r.remaining < 4) throw new PgError(SqlState.protocolViolation, 'malformed SASLInitialResponse');
  const len = r.int32();
  if (len < 0 || len !== r.remaining) {
    throw new PgError(SqlState.protocolViolation, 'malformed SASLInitialResponse', { severity: 'FATAL' });
  }
  return { mechanism, data: r.rest() };
}

/** SASLResponse (and a cleartext PasswordMessage): the data it carries. */
export function decodeSaslResponse(message: Buffer): string {
  return new BufferReader(message).rest().toString('utf8');
}

// ---------- backend messages ----------

/** Name and value of a ParameterStatus message. */
export function decodeParameterStatus(message: Buffer): { name: string; value: string } {
  const r = new BufferReader(message);
  const name = r.cstring();
  return { name, value: r.cstring() };
}

/** The command tag of a CommandComplete message ("SELECT 3", "INSERT 0 1", "CREATE TABLE"). */
export function decodeCommandTag(message: Buffer): string {
  return new BufferReader(message).cstring();
}

export interface ErrorFields {
  [code: string]: string;
}

/** Fields of an ErrorResponse or NoticeResponse, keyed by their one-letter codes (S, C, M, D, H, …). */
export function decodeErrorFields(message: Buffer): ErrorFields {
  const fields: ErrorFields = {};
  const r = new BufferReader(message);
  while (r.remaining > 0) {
    const code = r.byte();
    if (code === 0) break;
    fields[String.fromCharCode(code)] = r.cstring();
  }
  return fields;
}

/** Whether an ErrorResponse ends the session (severity FATAL or PANIC). */
export function isFatal(message: Buffer): boolean {
  const severity = decodeErrorFields(message).S;
  return severity === 'FATAL' || severity === 'PANIC';
}

export function decodeReadyForQuery(message: Buffer): TransactionStatus {
  return String.fromCharCode(new BufferReader(message).byte()) as TransactionStatus;
}

/** Authentication request: its code and the data after it (salt, SASL mechanisms or SASL data). */
export function decodeAuthentication(message: Buffer): { code: number; data: Buffer } {
  const r = new BufferReader(message);
  const code = r.int32();
  return { code, data: r.rest() };
}

/** The SASL mechanisms an AuthenticationSASL request offers. */
export function decodeSaslMechanisms(data: Buffer): string[] {
  return data.toString('utf8').split('\0').filter(Boolean);
}

export function decodeBackendKeyData(message: Buffer): { processId: number; secretKey: number } {
  const r = new BufferReader(message);
  const processId = r.int32();
  return { processId, secretKey: r.int32() };
}

/** One column of a RowDescription. */
export interface RowField {
  name: string;
  /** The table and attribute number the column comes from (0: computed). */
  tableOid: number;
  attnum: number;
  typeOid: number;
  /** 0 text, 1 binary. */
  format: number;
}

export function decodeRowDescription(message: Buffer): RowField[] {
  const r = new BufferReader(message);
  const fields: RowField[] = [];
  for (let i = r.int16(); i > 0; i--) {
    const name = r.cstring();
    const tableOid = r.uint32();
    const attnum = r.int16();
    const typeOid = r.uint32();
    r.int16(); // type size
    r.int32(); // type modifier
    fields.push({ name, tableOid, attnum, typeOid, format: r.int16() });
  }
  return fields;
}

/**
 * Walks the fields of a DataRow as views into the message, without copying or allocating: the result
 * path reads every row through one cursor, reset per row.
 */
export class DataRowCursor {
  message: Buffer = Buffer.alloc(0);
  /** Number of fields in the row. */
  count = 0;
  /** Index of the current field (after next()). */
  index = -1;
  /** Where the current field's value starts and how long it is (-1: NULL). */
  start = 0;
  length = 0;
  private nextOffset = 7;

  reset(message: Buffer): this {
    this.message = message;
    this.count = message.readInt16BE(5);
    this.index = -1;
    this.nextOffset = 7;
    return this;
  }

  /** Moves to the next field; false after the last one. */
  next(): boolean {
    if (this.index + 1 >= this.count) return false;
    this.index++;
    this.length = this.message.readInt32BE(this.nextOffset);
    this.start = this.nextOffset + 4;
    this.nextOffset = this.start + Math.max(this.length, 0);
    return true;
  }

  get end(): number {
    return this.start + Math.max(this.length, 0);
  }

  /** The current field as text (null for NULL). */
  text(): string | null {
    return this.length < 0 ? null : this.message.toString('utf8', this.start, this.end);
  }
}

/** A DataRow's values as text (null for NULL): for the proxy's own queries and recorded samples. */
export function decodeDataRow(message: Buffer): Array<string | null> {
  const cursor = new DataRowCursor().reset(message);
  const row: Array<string | null> = [];
  while (cursor.next()) row.push(cursor.text());
  return row;
}

/** The overall format of a CopyOutResponse: true when binary. */
export function isBinaryCopy(message: Buffer): boolean {
  return new BufferReader(message).byte() === 1;
}

/** A CopyData message's payload (no copy). */
export function copyDataPayload(message: Buffer): Buffer {
  return message.subarray(5);
}

export function decodeNotification(message: Buffer): { processId: number; channel: string; payload: string } {
  const r = new BufferReader(message);
  const processId = r.int32();
  const channel = r.cstring();
  return { processId, channel, payload: r.cstring() };
}
