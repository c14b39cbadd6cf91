import { Writer } from 'pg-protocol/dist/buffer-writer';
import { PgError, SqlState } from './errors';

/** Message type bytes (protocol 3.0). Backend (B) and frontend (F) share some letters. */
export const Msg = {
  // frontend
  bind: 0x42, // B
  close: 0x43, // C
  describe: 0x44, // D
  execute: 0x45, // E
  flush: 0x48, // H
  functionCall: 0x46, // F
  parse: 0x50, // P
  query: 0x51, // Q
  sync: 0x53, // S
  terminate: 0x58, // X
  password: 0x70, // p (PasswordMessage, SASLInitialResponse, SASLResponse)
  copyData: 0x64, // d (both)
  copyDone: 0x63, // c (both)
  copyFail: 0x66, // f
  // backend
  authentication: 0x52, // R
  backendKeyData: 0x4b, // K
  bindComplete: 0x32, // 2
  closeComplete: 0x33, // 3
  commandComplete: 0x43, // C
  copyInResponse: 0x47, // G
  copyOutResponse: 0x48, // H
  copyBothResponse: 0x57, // W
  dataRow: 0x44, // D
  emptyQueryResponse: 0x49, // I
  errorResponse: 0x45, // E
  noData: 0x6e, // n
  noticeResponse: 0x4e, // N
  notificationResponse: 0x41, // A
  parameterDescription: 0x74, // t
  parameterStatus: 0x53, // S
  parseComplete: 0x31, // 1
  portalSuspended: 0x73, // s
  readyForQuery: 0x5a, // Z
  rowDescription: 0x54, // T
  negotiateProtocolVersion: 0x76, // v
} as const;

/** Request codes carried in untyped startup-phase packets. */
export const StartupCode = {
  protocol3: 196608,
  cancel: 80877102,
  ssl: 80877103,
  gssenc: 80877104,
} as const;

export const AuthCode = {
  ok: 0,
  kerberosV5: 2,
  cleartext: 3,
  md5: 5,
  gss: 7,
  gssContinue: 8,
  sspi: 9,
  sasl: 10,
  saslContinue: 11,
  saslFinal: 12,
} as const;

export type TransactionStatus = 'I' | 'T' | 'E';

// ---------- decoding ----------

/** Turns text bytes into a string (UTF-8 unless the client encoding says otherwise). */
export type TextDecoding = (buf: Buffer, start: number, end: number) => string;
export const utf8: TextDecoding = (buf, start, end) => buf.toString('utf8', start, end);

function cstring(buf: Buffer, offset: number, decode: TextDecoding = utf8): [string, number] {
  const end = buf.indexOf(0, offset);
  if (end < 0)
    throw new PgError(SqlState.protocolViolation, 'invalid string in message', { severity: 'FATAL' });
  return [decode(buf, offset, end), end + 1];
}

export type StartupPacket =
  | { kind: 'startup'; params: Map<string, string> }
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: number };

/** Decodes an untyped startup-phase packet (header included). */
export function decodeStartup(packet: Buffer): StartupPacket {
  const code = packet.readInt32BE(4);
  switch (code) {
    case StartupCode.ssl:
      return { kind: 'ssl' };
    case StartupCode.gssenc:
      return { kind: 'gssenc' };
    case StartupCode.cancel:
      if (packet.length !== 16) break;
      return { kind: 'cancel', processId: packet.readInt32BE(8), secretKey: packet.readInt32BE(12) };
    case StartupCode.protocol3: {
      const params = new Map<string, string>();
      let offset = 8;
      while (offset < packet.length && packet[offset] !== 0) {
        const [key, next] = cstring(packet, offset);
        const [value, after] = cstring(packet, next);
        params.set(key, value);
        offset = after;
      }
      if (offset !== packet.length - 1) break;
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
  return cstring(message, 5, decode)[0];
}

/** Statement name and SQL text of a Parse message. */
export function decodeParse(message: Buffer, decode = utf8): { name: string; sql: string } {
  const [name, next] = cstring(message, 5);
  const [sql] = cstring(message, next, decode);
  return { name, sql };
}

/** Portal and statement names of a Bind message. */
export function decodeBind(message: Buffer): { portal: string; statement: string } {
  const [portal, next] = cstring(message, 5);
  const [statement] = cstring(message, next);
  return { portal, statement };
}

/**
 * Bind's parameter values as text: text-format values as sent, binary ones as \\x hex (as bytea shows
 * them). Bind was already checked by the upstream-bound framing; a short message yields what it holds.
 */
export function decodeBindParameters(message: Buffer): Array<string | null> {
  let [, at] = cstring(message, 5);
  [, at] = cstring(message, at);
  const formatCount = message.readInt16BE(at);
  const formats: number[] = [];
  at += 2;
  for (let i = 0; i < formatCount; i++, at += 2) formats.push(message.readInt16BE(at));
  const count = message.readInt16BE(at);
  at += 2;
  const values: Array<string | null> = [];
  for (let i = 0; i < count && at + 4 <= message.length; i++) {
    const len = message.readInt32BE(at);
    at += 4;
    if (len < 0) {
      values.push(null);
      continue;
    }
    const binary = (formatCount === 1 ? formats[0] : formats[i]) === 1;
    values.push(
      binary ? '\\x' + message.toString('hex', at, at + len) : message.toString('utf8', at, at + len),
    );
    at += len;
  }
  return values;
}

/** Close: 'S' (statement) or 'P' (portal), and the name. */
export function decodeClose(message: Buffer): { kind: 'S' | 'P'; name: string } {
  return { kind: message[5] === 0x53 ? 'S' : 'P', name: cstring(message, 6)[0] };
}

/** The portal an Execute runs. */
export function decodeExecutePortal(message: Buffer): string {
  return cstring(message, 5)[0];
}

/** Name and value of a ParameterStatus message. */
export function decodeParameterStatus(message: Buffer): { name: string; value: string } {
  const [name, next] = cstring(message, 5);
  return { name, value: cstring(message, next)[0] };
}

/** The command tag of a CommandComplete message ("SELECT 3", "INSERT 0 1", "CREATE TABLE"). */
export function decodeCommandTag(message: Buffer): string {
  return cstring(message, 5)[0];
}

/** SASLInitialResponse: mechanism and the client-first-message. */
export function decodeSaslInitial(message: Buffer): { mechanism: string; data: Buffer } {
  const [mechanism, next] = cstring(message, 5);
  if (next + 4 > message.length)
    throw new PgError(SqlState.protocolViolation, 'malformed SASLInitialResponse');
  const len = message.readInt32BE(next);
  const start = next + 4;
  if (len < 0 || start + len !== message.length) {
    throw new PgError(SqlState.protocolViolation, 'malformed SASLInitialResponse', { severity: 'FATAL' });
  }
  return { mechanism, data: message.subarray(start, start + len) };
}

export interface ErrorFields {
  [code: string]: string;
}

/** Fields of an ErrorResponse or NoticeResponse, keyed by their one-letter codes (S, C, M, D, H, …). */
export function decodeErrorFields(message: Buffer): ErrorFields {
  const fields: ErrorFields = {};
  let offset = 5;
  while (offset < message.length && message[offset] !== 0) {
    const code = String.fromCharCode(message[offset]);
    const [value, next] = cstring(message, offset + 1);
    fields[code] = value;
    offset = next;
  }
  return fields;
}

// ---------- encoding (backend messages the proxy originates) ----------

function typed(code: number, build: (w: Writer) => void): Buffer {
  const w = new Writer();
  build(w);
  return w.flush(code);
}

/**
 * A StartupMessage with exactly these parameters, in order. (pg-protocol's serializer appends
 * client_encoding=UTF8 after the caller's, overriding what the client asked for.)
 */
export function startupMessage(params: Map<string, string>): Buffer {
  const w = new Writer();
  w.addInt32(StartupCode.protocol3);
  for (const [k, v] of params) w.addCString(k).addCString(v);
  w.addCString('');
  const body = w.flush();
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([len, body]);
}

export function authentication(code: number, data?: Buffer): Buffer {
  return typed(Msg.authentication, (w) => {
    w.addInt32(code);
    if (data) w.add(data);
  });
}

export function authenticationSasl(mechanisms: string[]): Buffer {
  return typed(Msg.authentication, (w) => {
    w.addInt32(AuthCode.sasl);
    for (const m of mechanisms) w.addCString(m);
    w.addCString('');
  });
}

export function parameterStatus(name: string, value: string): Buffer {
  return typed(Msg.parameterStatus, (w) => w.addCString(name).addCString(value));
}

export function backendKeyData(processId: number, secretKey: number): Buffer {
  return typed(Msg.backendKeyData, (w) => w.addInt32(processId).addInt32(secretKey));
}

export function readyForQuery(status: TransactionStatus): Buffer {
  return typed(Msg.readyForQuery, (w) => w.add(Buffer.from(status, 'latin1')));
}

function fieldsMessage(code: number, fields: Array<[string, string | undefined]>): Buffer {
  return typed(code, (w) => {
    for (const [k, v] of fields) if (v !== undefined) w.addString(k).addCString(v);
    w.addCString('');
  });
}

/** An ErrorResponse (or, with notice=true, a NoticeResponse) built from a PgError. */
export function errorResponse(err: PgError, notice = false): Buffer {
  return fieldsMessage(notice ? Msg.noticeResponse : Msg.errorResponse, [
    ['S', err.severity],
    ['V', err.severity],
    ['C', err.code],
    ['M', err.message],
    ['D', err.options.detail],
    ['H', err.options.hint],
  ]);
}

/** Whether an ErrorResponse ends the session (severity FATAL or PANIC). */
export function isFatal(message: Buffer): boolean {
  const severity = decodeErrorFields(message).S;
  return severity === 'FATAL' || severity === 'PANIC';
}

export function decodeReadyForQuery(message: Buffer): TransactionStatus {
  return String.fromCharCode(message[5]) as TransactionStatus;
}
