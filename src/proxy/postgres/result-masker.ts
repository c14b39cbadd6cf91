import { maskValue, maskFragment } from '../../core/masking/masks';
import type { ResultMasking } from '../../core/masking/result-masking';
import type { MaskStyleName } from '../../core/policy/document';
import { PgError, SqlState } from './protocol/errors';
import {
  DataRowCursor,
  copyDataPayload,
  decodeErrorFields,
  decodeNotification,
  decodeParameterStatus,
  decodeRowDescription,
  isBinaryCopy,
} from './protocol/decode';
import {
  copyData,
  errorFieldsMessage,
  errorResponse,
  notificationResponse,
  parameterStatus,
  rewriteDataRow,
} from './protocol/encode';
import { Msg } from './protocol/messages';
import { mapCopyFields } from './copy-text';
import type { InFlightRequest } from './in-flight-queue';

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
  private readonly cursor = new DataRowCursor();

  constructor(private readonly masking: () => ResultMasking | null) {}

  /** Whether results are masked at all (the session then describes every portal it executes). */
  get active(): boolean {
    return this.masking() !== null;
  }

  /**
   * A Describe went upstream in `request`. Before every Execute the proxy sends a Describe of the portal
   * of its own (`injected`): its answer, swallowed here, says exactly which columns (and formats) the rows
   * that follow carry. Describes an error made the server skip are never answered: they go with the request.
   */
  describeSent(request: InFlightRequest, injected: boolean): void {
    (request.describes ??= []).push(injected);
  }

  /** Returns the message to forward: the same buffer, a rewritten one, or null to withhold it. */
  backend(request: InFlightRequest, type: number, message: Buffer): Buffer | null {
    if (type === Msg.readyForQuery) return message;
    if (type === Msg.rowDescription || type === Msg.noData) {
      const describes = request.describes;
      const answersDescribe = describes !== null && request.describesAnswered < describes.length;
      const injected = answersDescribe && describes[request.describesAnswered++];
      // A client's own Describe (of a statement, before Bind) does not say what the rows will carry.
      if (answersDescribe && !injected) return message;
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
        this.copyBinary = isBinaryCopy(message);
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
    const fields: Field[] = decodeRowDescription(message).map((f) => ({
      name: f.name,
      style: m.index.styleForField(f.tableOid, f.attnum),
      binary: f.format === 1,
      textual: TEXTUAL_TYPES.has(f.typeOid),
      textless: TEXTLESS_BINARY_TYPES.has(f.typeOid),
    }));
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
    const row = this.cursor.reset(message);
    let parts: Array<Buffer | null | undefined> | null = null;
    while (row.next()) {
      if (row.length < 0) continue;
      const field = this.fields[row.index];
      if (field?.binary && !field.textual) continue; // numbers, times, …: no text to mask (see describe)
      const text = row.text() as string;
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
      parts ??= new Array<Buffer | null | undefined>(row.count);
      parts[row.index] = masked === null ? null : Buffer.from(masked, 'utf8');
    }
    return parts ? rewriteDataRow(message, parts) : message;
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
    const text = copyDataPayload(message).toString('utf8');
    const masked = mapCopyFields(text, (v) => (scanner.mightContain(v) ? scanner.scan(v).text : v));
    return masked === text ? message : copyData(Buffer.from(masked, 'utf8'));
  }

  /**
   * A setting the server reports (GUC_REPORT) echoes what was set: set_config('application_name', body)
   * would carry a ticket's text. Every reported value but those the server formats itself, and clients
   * parse to decode data, goes through the detectors.
   */
  private parameterStatus(message: Buffer, m: ResultMasking): Buffer {
    if (!m.scanner) return message;
    const { name, value } = decodeParameterStatus(message);
    if (SERVER_FORMATTED_SETTINGS.has(name.toLowerCase())) return message;
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
    return changed ? errorFieldsMessage(type, fields) : message;
  }

  private notification(message: Buffer, m: ResultMasking): Buffer {
    if (!m.scanner) return message;
    const { processId, channel, payload } = decodeNotification(message);
    const scanned = m.scanner.scan(payload).text;
    return scanned === payload ? message : notificationResponse(processId, channel, scanned);
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
