import { Writer } from 'pg-protocol/dist/buffer-writer';
import { maskValue, maskFragment } from '../../core/masking/masks';
import type { ResultMasking } from '../../core/masking/result-masking';
import type { MaskStyleName } from '../../core/policy/document';
import { PgError, SqlState } from './protocol/errors';
import { Msg, decodeErrorFields, errorResponse, parameterStatus } from './protocol/messages';
import { mapCopyFields } from './copy-text';

/** Types whose binary wire format is their text (so a binary value can be masked as text). */
const TEXTUAL_TYPES = new Set([25, 1043, 1042, 19, 18, 114, 142, 705]);
/**
 * Types whose binary format holds no text at all (numbers, booleans, times, UUIDs, OIDs). Any other
 * binary value — arrays, jsonb, records, user types — may embed text the detectors cannot see.
 */
const TEXTLESS_BINARY_TYPES = new Set([
  16, 20, 21, 23, 26, 700, 701, 1700, 1082, 1083, 1114, 1184, 1186, 1266, 2950,
]);

/**
 * Reported settings whose values the server itself formats (encodings, on/off, its version, date and
 * interval styles) and clients rely on to decode what follows: never rewritten. PG 15's other reported
 * settings — application_name, TimeZone, session_authorization, is_superuser, in_hot_standby,
 * default_transaction_read_only — and any a later server reports are scanned.
 */
const SERVER_FORMATTED_SETTINGS = new Set([
  'server_encoding',
  'client_encoding',
  'standard_conforming_strings',
  'integer_datetimes',
  'datestyle',
  'intervalstyle',
  'server_version',
]);

interface Field {
  name: string;
  style: MaskStyleName | undefined;
  binary: boolean;
  textual: boolean;
  textless: boolean;
}

/**
 * Masks what leaves the server: DataRow fields of masked columns (by the table OID and attribute number
 * RowDescription names), content findings in every text value, COPY TO STDOUT data (field by field),
 * error and notice fields, notification payloads and reported settings (ParameterStatus). One message
 * at a time: memory does not grow with the result.
 * A masked column that cannot be masked (binary format of a non-text type) fails the statement.
 */
export class ResultMasker {
  private fields: Field[] = [];
  /** The masking in force for the current result (read at its RowDescription). */
  private current: ResultMasking | null = null;
  /** The current result cannot be masked: its rows are withheld and its completion becomes this error. */
  private refusal: PgError | null = null;
  private copyBinary = false;
  /**
   * Describe messages sent upstream and not yet answered, in order, with the query cycle that answers
   * them. Before every Execute the proxy sends a Describe of the portal of its own (`injected`): its
   * answer, swallowed here, says exactly which columns (and formats) the rows that follow carry.
   */
  private describes: Array<{ injected: boolean; cycle: number }> = [];
  private cyclesSent = 0;
  private cyclesDone = 0;

  constructor(private readonly masking: () => ResultMasking | null) {}

  /** Whether results are masked at all (the session then describes every portal it executes). */
  get active(): boolean {
    return this.masking() !== null;
  }

  describeSent(injected: boolean): void {
    this.describes.push({ injected, cycle: this.cyclesSent + 1 });
  }

  /** The client sent Query, Sync or FunctionCall: a ReadyForQuery will answer it. */
  cycleSent(): void {
    this.cyclesSent++;
  }

  /** Returns the message to forward: the same buffer, a rewritten one, or null to withhold it. */
  backend(type: number, message: Buffer): Buffer | null {
    if (type === Msg.readyForQuery) {
      // Describes an error made the server skip are never answered.
      this.cyclesDone++;
      if (this.describes.length) this.describes = this.describes.filter((d) => d.cycle > this.cyclesDone);
      return message;
    }
    if (type === Msg.rowDescription || type === Msg.noData) {
      const d = this.describes[0];
      const answersDescribe = d !== undefined && d.cycle === this.cyclesDone + 1;
      if (answersDescribe) this.describes.shift();
      // A client's own Describe (of a statement, before Bind) does not say what the rows will carry.
      if (answersDescribe && !d.injected) return message;
      this.current = this.masking();
      if (this.current && type === Msg.rowDescription) this.describe(message, this.current);
      else this.fields = [];
      return answersDescribe ? null : message;
    }
    const m = type === Msg.dataRow || type === Msg.copyData ? this.current : this.masking();
    if (!m) return message;
    switch (type) {
      case Msg.dataRow:
        return this.refusal ? null : this.dataRow(message, m);
      case Msg.commandComplete:
      case Msg.portalSuspended:
        if (this.refusal) {
          const err = this.refusal;
          this.refusal = null;
          return errorResponse(err);
        }
        return message;
      case Msg.copyOutResponse:
        this.copyBinary = message[5] === 1;
        this.current = m;
        return message;
      case Msg.copyData:
        return this.copyData(message, m);
      case Msg.errorResponse:
        // An error ends the result; a notice (RAISE NOTICE in a function the rows call) does not.
        this.refusal = null;
        return this.errorFields(type, message, m);
      case Msg.noticeResponse:
        return this.errorFields(type, message, m);
      case Msg.notificationResponse:
        return this.notification(message, m);
      case Msg.parameterStatus:
        return this.parameterStatus(message, m);
      default:
        return message;
    }
  }

  private describe(message: Buffer, m: ResultMasking): void {
    const count = message.readInt16BE(5);
    const fields: Field[] = [];
    let offset = 7;
    for (let i = 0; i < count; i++) {
      const end = message.indexOf(0, offset);
      const name = message.toString('utf8', offset, end);
      offset = end + 1;
      const tableOid = message.readUInt32BE(offset);
      const attnum = message.readInt16BE(offset + 4);
      const typeOid = message.readUInt32BE(offset + 6);
      const format = message.readInt16BE(offset + 16);
      offset += 18;
      fields.push({
        name,
        style: m.index.styleForField(tableOid, attnum),
        binary: format === 1,
        textual: TEXTUAL_TYPES.has(typeOid),
        textless: TEXTLESS_BINARY_TYPES.has(typeOid),
      });
    }
    this.fields = fields;
    const unmaskable = fields.find(
      (f) => f.binary && !f.textual && (f.style !== undefined || (m.scanner !== null && !f.textless)),
    );
    this.refusal = unmaskable
      ? new PgError(
          SqlState.featureNotSupported,
          `airlock: column "${unmaskable.name}" cannot be masked in binary format`,
          {
            hint: 'Request the result in text format (the default for psql and most drivers).',
          },
        )
      : null;
  }

  private dataRow(message: Buffer, m: ResultMasking): Buffer {
    const count = message.readInt16BE(5);
    let offset = 7;
    let parts: Array<Buffer | null | undefined> | null = null;
    for (let i = 0; i < count; i++) {
      const len = message.readInt32BE(offset);
      const start = offset + 4;
      offset = start + Math.max(len, 0);
      if (len < 0) continue;
      const field = this.fields[i];
      if (field?.binary && !field.textual) continue; // numbers, times, …: no text to mask (see describe)
      const text = message.toString('utf8', start, offset);
      let masked: string | null = text;
      if (field?.style) {
        masked = maskValue(
          text,
          field.style,
          field.style === 'partial' ? columnKind(text) : 'column',
          m.hashKey,
        );
      } else if (m.scanner?.mightContain(text)) masked = m.scanner.scan(text).text;
      if (masked === text) continue;
      parts ??= new Array<Buffer | null | undefined>(count);
      parts[i] = masked === null ? null : Buffer.from(masked, 'utf8');
    }
    return parts ? rebuildDataRow(message, count, parts) : message;
  }

  private copyData(message: Buffer, m: ResultMasking): Buffer {
    if (!m.scanner) return message;
    if (this.copyBinary) {
      throw new PgError(
        SqlState.featureNotSupported,
        'airlock: binary COPY cannot be scanned for sensitive content',
        {
          hint: 'Use COPY … TO STDOUT in text or CSV format.',
        },
      );
    }
    // Only the text format reaches here under a scanning policy (the gate refuses other COPY options).
    const scanner = m.scanner;
    const text = message.toString('utf8', 5);
    const masked = mapCopyFields(text, (v) => (scanner.mightContain(v) ? scanner.scan(v).text : v));
    return masked === text ? message : new Writer().add(Buffer.from(masked, 'utf8')).flush(Msg.copyData);
  }

  /**
   * A setting the server reports (GUC_REPORT) echoes what was set: set_config('application_name', body)
   * would carry a ticket's text. Every reported value but those the server formats itself, and clients
   * parse to decode data, goes through the detectors.
   */
  private parameterStatus(message: Buffer, m: ResultMasking): Buffer {
    if (!m.scanner) return message;
    const nameEnd = message.indexOf(0, 5);
    const name = message.toString('utf8', 5, nameEnd);
    if (SERVER_FORMATTED_SETTINGS.has(name.toLowerCase())) return message;
    const value = message.toString('utf8', nameEnd + 1, message.length - 1);
    if (!m.scanner.mightContain(value)) return message;
    const scanned = m.scanner.scan(value).text;
    return scanned === value ? message : parameterStatus(name, scanned);
  }

  private errorFields(type: number, message: Buffer, m: ResultMasking): Buffer {
    const fields = decodeErrorFields(message);
    let changed = false;
    for (const code of ['M', 'D', 'H', 'W', 'q']) {
      const value = fields[code];
      if (value === undefined) continue;
      const masked = maskMessageText(value, m);
      if (masked !== value) {
        fields[code] = masked;
        changed = true;
      }
    }
    if (!changed) return message;
    const w = new Writer();
    for (const [code, value] of Object.entries(fields)) w.addString(code).addCString(value);
    w.addCString('');
    return w.flush(type);
  }

  private notification(message: Buffer, m: ResultMasking): Buffer {
    if (!m.scanner) return message;
    const pid = message.readInt32BE(5);
    const channelEnd = message.indexOf(0, 9);
    const channel = message.toString('utf8', 9, channelEnd);
    const payload = message.toString('utf8', channelEnd + 1, message.length - 1);
    const scanned = m.scanner.scan(payload).text;
    if (scanned === payload) return message;
    return new Writer().addInt32(pid).addCString(channel).addCString(scanned).flush(Msg.notificationResponse);
  }
}

/**
 * Error texts quote values: "Key (email)=(ada@example.com) already exists", "Failing row contains (…)".
 * A quoted value of a masked column, and any failing row where masked columns exist, are redacted; the
 * rest goes through the content detectors.
 */
function maskMessageText(text: string, m: ResultMasking): string {
  let out = text.replace(/Key \(([^)]*)\)=\((.*)\)/gs, (all, cols: string, value: string) =>
    cols.split(',').some((c) => m.index.maskedNames.has(c.trim().replace(/^"|"$/g, '')))
      ? `Key (${cols})=(${maskFragment(value, 'redact', 'column', m.hashKey)})`
      : all,
  );
  if (m.index.maskedNames.size > 0) {
    out = out.replace(/Failing row contains \(.*\)/gs, 'Failing row contains ([REDACTED by Airlock])');
  }
  return m.scanner && m.scanner.mightContain(out) ? m.scanner.scan(out).text : out;
}

/** What a masked column's value looks like, so that `partial` keeps the right part (an e-mail's domain, a card's last 4). */
function columnKind(value: string): string {
  if (/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) return 'email';
  if (/^\d[\d -]{11,22}\d$/.test(value)) return 'card';
  return 'column';
}

function rebuildDataRow(message: Buffer, count: number, parts: Array<Buffer | null | undefined>): Buffer {
  const w = new Writer(message.length + 64);
  w.addInt16(count);
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const len = message.readInt32BE(offset);
    const start = offset + 4;
    offset = start + Math.max(len, 0);
    const replacement = parts[i];
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
