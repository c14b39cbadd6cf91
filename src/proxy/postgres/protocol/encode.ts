import { Writer } from 'pg-protocol/dist/buffer-writer';
import type { PgError } from './errors';
import type { ErrorFields } from './decode';
import { AuthCode, Msg, StartupCode, type TransactionStatus } from './messages';

function typed(code: number, build: (w: Writer) => void): Buffer {
  const w = new Writer();
  build(w);
  return w.flush(code);
}

/** An untyped startup-phase packet: its length, then the body. */
function untyped(build: (w: Writer) => void): Buffer {
  const w = new Writer();
  build(w);
  const body = w.flush();
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([len, body]);
}

// ---------- frontend messages (the proxy as a client of the upstream) ----------

/**
 * A StartupMessage with exactly these parameters, in order. (pg-protocol's serializer appends
 * client_encoding=UTF8 after the caller's, overriding what the client asked for.)
 */
export function startupMessage(params: Map<string, string>): Buffer {
  return untyped((w) => {
    w.addInt32(StartupCode.protocol3);
    for (const [k, v] of params) w.addCString(k).addCString(v);
    w.addCString('');
  });
}

export function sslRequest(): Buffer {
  return untyped((w) => w.addInt32(StartupCode.ssl));
}

export function cancelRequest(processId: number, secretKey: number): Buffer {
  return untyped((w) => w.addInt32(StartupCode.cancel).addInt32(processId).addInt32(secretKey));
}

export function passwordMessage(password: string): Buffer {
  return typed(Msg.password, (w) => w.addCString(password));
}

export function saslInitialResponse(mechanism: string, data: string): Buffer {
  return typed(Msg.password, (w) => {
    const bytes = Buffer.from(data, 'utf8');
    w.addCString(mechanism).addInt32(bytes.length).add(bytes);
  });
}

export function saslResponse(data: string): Buffer {
  return typed(Msg.password, (w) => w.addString(data));
}

export function query(sql: string): Buffer {
  return typed(Msg.query, (w) => w.addCString(sql));
}

/** A Parse without parameter types (the server infers them). */
export function parse(name: string, sql: string): Buffer {
  return typed(Msg.parse, (w) => w.addCString(name).addCString(sql).addInt16(0));
}

export function describePortal(name: string): Buffer {
  return typed(Msg.describe, (w) => w.addString('P').addCString(name));
}

// ---------- backend messages (the proxy as the client's server) ----------

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

export function commandComplete(tag: string): Buffer {
  return typed(Msg.commandComplete, (w) => w.addCString(tag));
}

export function copyData(payload: Buffer): Buffer {
  return typed(Msg.copyData, (w) => w.add(payload));
}

export function notificationResponse(processId: number, channel: string, payload: string): Buffer {
  return typed(Msg.notificationResponse, (w) =>
    w.addInt32(processId).addCString(channel).addCString(payload),
  );
}

/**
 * A DataRow with the fields of `message` (a DataRow), some replaced: `undefined` keeps the field's bytes,
 * null writes NULL, a buffer writes its bytes.
 */
export function rewriteDataRow(message: Buffer, replacements: Array<Buffer | null | undefined>): Buffer {
  const w = new Writer(message.length + 64);
  const count = message.readInt16BE(5);
  w.addInt16(count);
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const len = message.readInt32BE(offset);
    const start = offset + 4;
    offset = start + Math.max(len, 0);
    const replacement = replacements[i];
    if (replacement === undefined) {
      w.addInt32(len);
      if (len > 0) w.add(message.subarray(start, offset));
    } else if (replacement === null) {
      w.addInt32(-1);
    } else {
      w.addInt32(replacement.length);
      w.add(replacement);
    }
  }
  return w.flush(Msg.dataRow);
}

/** An ErrorResponse or NoticeResponse (`type`) with these fields, in their order. */
export function errorFieldsMessage(type: number, fields: ErrorFields): Buffer {
  return typed(type, (w) => {
    for (const [code, value] of Object.entries(fields)) w.addString(code).addCString(value);
    w.addCString('');
  });
}

/** An ErrorResponse (or, with notice=true, a NoticeResponse) built from a PgError. */
export function errorResponse(err: PgError, notice = false): Buffer {
  const fields: ErrorFields = { S: err.severity, V: err.severity, C: err.code, M: err.message };
  if (err.options.detail !== undefined) fields.D = err.options.detail;
  if (err.options.hint !== undefined) fields.H = err.options.hint;
  return errorFieldsMessage(notice ? Msg.noticeResponse : Msg.errorResponse, fields);
}
