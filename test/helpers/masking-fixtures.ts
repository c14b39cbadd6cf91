import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { PostgresCluster } from '../../src/demo/postgres-cluster';
import { sampleDataSql } from '../../src/demo/sample-data';
import { directPg } from './policy-fixtures';

/**
 * Helpers for the masking tests: the demo shop loaded into a database of its own, every sensitive value
 * it holds (read directly from the database), and a leak detector that looks for those values in
 * anything a client received — also upper/lower-cased, reversed, base64- or hex-encoded, and (for card
 * numbers) as bare digits.
 */

/** Creates `name` afresh (owned by the cluster superuser) and loads the demo data with psql -f. */
export async function loadDemoDatabase(cluster: PostgresCluster, name: string): Promise<void> {
  const admin = await directPg(cluster, 'postgres');
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.query(`create database "${name}" owner "${cluster.user}"`);
  } finally {
    await admin.end();
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-masking-'));
  try {
    const file = path.join(dir, 'sample-data.sql');
    await writeFile(file, sampleDataSql());
    await cluster.client('psql', ['-X', '-d', name, '-v', 'ON_ERROR_STOP=1', '-q', '-f', file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Patterns of the sensitive content inside support ticket bodies (what the content detectors must catch). */
export const TICKET_PATTERNS = {
  card: /\b\d{4}(?: \d{4}){3}\b/g,
  iban: /\bDE\d{20}\b/g,
  email: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g,
  'aws-key': /\bAKIA[0-9A-Z]{16}\b/g,
} as const;

/** A ticket body as the policy's content masking (redact) should return it. */
export function redactTicketText(text: string): string {
  let out = text;
  for (const [kind, re] of Object.entries(TICKET_PATTERNS)) out = out.replace(re, `[REDACTED:${kind}]`);
  return out;
}

export interface Secrets {
  /** Every original value of a masked column, e-mail local parts, and every sensitive fragment of ticket text. */
  values: string[];
  /** Card numbers (columns and tickets) as bare digits. */
  cardDigits: string[];
  /** How many of each were found (a control: the collection itself must have found them). */
  counts: Record<string, number>;
}

/** Collects every sensitive value directly from the database (no proxy). */
export async function collectSecrets(direct: pg.Client): Promise<Secrets> {
  const values = new Set<string>();
  const cardDigits = new Set<string>();
  const counts: Record<string, number> = {};
  const add = (kind: string, v: string | null) => {
    if (!v) return;
    values.add(v);
    counts[kind] = (counts[kind] ?? 0) + 1;
  };
  const { rows } = await direct.query<Record<string, string | null>>(
    'select full_name, email, phone, ssn, card_number, iban from customers',
  );
  for (const r of rows) {
    for (const [k, v] of Object.entries(r)) add(k, v);
    if (r.email) add('email local part', r.email.slice(0, r.email.lastIndexOf('@') + 1));
    if (r.card_number) cardDigits.add(r.card_number.replace(/\D/g, ''));
  }
  const tickets = await direct.query<{ body: string }>('select body from support_tickets');
  for (const { body } of tickets.rows) {
    for (const [kind, re] of Object.entries(TICKET_PATTERNS)) {
      for (const m of body.match(re) ?? []) {
        add(`ticket ${kind}`, m);
        if (kind === 'card') {
          cardDigits.add(m.replace(/\D/g, ''));
          add('ticket card (no spaces)', m.replace(/\D/g, ''));
        }
        if (kind === 'email') add('ticket email local part', m.slice(0, m.lastIndexOf('@') + 1));
      }
    }
  }
  return { values: [...values], cardDigits: [...cardDigits], counts };
}

/** Decodings of the base64 and hex runs in a text (what encode(…, 'base64'/'hex') would hide a value in). */
function decodedRuns(text: string): string {
  const out: string[] = [];
  for (const m of text.match(/[A-Za-z0-9+/]{12,}={0,2}/g) ?? []) {
    out.push(Buffer.from(m, 'base64').toString('latin1'));
  }
  for (const m of text.match(/(?:[0-9a-fA-F]{2}){6,}/g) ?? [])
    out.push(Buffer.from(m, 'hex').toString('latin1'));
  return out.join('\n');
}

/**
 * The sensitive values found in `text` (empty: nothing leaked). Looks case-insensitively in the text, in
 * it reversed, in its base64/hex runs decoded, and for card digits in each line with everything but the
 * digits removed.
 */
export function findLeaks(text: string, secrets: Secrets): string[] {
  const lower = text.toLowerCase();
  const hays = [lower, [...lower].reverse().join(''), decodedRuns(text).toLowerCase()];
  const leaks = new Set<string>();
  for (const v of secrets.values) {
    const needle = v.toLowerCase();
    if (hays.some((h) => h.includes(needle))) leaks.add(v);
  }
  for (const line of text.split('\n')) {
    const digits = line.replace(/\D/g, '');
    if (digits.length < 12) continue;
    for (const d of secrets.cardDigits) if (digits.includes(d)) leaks.add(`${d} (card digits)`);
  }
  return [...leaks];
}

/** Everything a node-postgres error carries that a user would see, as text. */
export function errorText(err: unknown): string {
  if (!err || typeof err !== 'object') return String(err);
  const parts: string[] = [String((err as Error).message)];
  for (const [k, v] of Object.entries(err)) if (typeof v === 'string') parts.push(`${k}=${v}`);
  return parts.join('\n');
}

/** node-postgres rows as text, one row per line (Buffers decoded as UTF-8). */
export function rowsText(rows: unknown[]): string {
  return rows
    .map((r) =>
      JSON.stringify(r, (_k, v: unknown) => (isBufferJson(v) ? Buffer.from(v.data).toString('utf8') : v)),
    )
    .join('\n');
}

function isBufferJson(v: unknown): v is { type: 'Buffer'; data: number[] } {
  return (
    !!v &&
    typeof v === 'object' &&
    (v as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((v as { data?: unknown }).data)
  );
}

/**
 * Type parsers for node-postgres that return every value as the text the server sent (binary values as
 * UTF-8), so masked values are compared exactly and never turned into NaN or dates.
 */
export const RAW_TYPES = {
  getTypeParser: () => (value: string | Buffer) => (Buffer.isBuffer(value) ? value.toString('utf8') : value),
} as unknown as pg.CustomTypesConfig;
