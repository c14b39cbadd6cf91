import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MessageFramer } from '../../src/proxy/postgres/protocol/framing';

/**
 * Backend byte streams recorded once from PostgreSQL 15 (test/fixtures/backend-streams.json, hex): what
 * the server sent for each request, from the first reply to ReadyForQuery. Recorded through a raw client
 * straight to the server (no proxy), with these requests:
 * - simple-select: Query `select 'ada@example.com' as email, n, 'card 4111 1111 1111 1111' as note from generate_series(1, 3) n`
 * - simple-two-statements: Query `select 1 as a; select 'x' as b, 2 as c`
 * - simple-error: Query `select 1/0`
 * - simple-denial-marker: Query `SELECT "airlock-denied-4111111111111111"`
 * - extended-rows: Parse `select generate_series(1, 10) as n`, Bind, Describe portal, Execute, Sync
 * - extended-denial-marker: Parse/Bind/Execute `select 1 as one`, Parse/Bind/Execute `SELECT "airlock-denied-4111111111111111"`, Sync
 * - simple-insert-delete: Query `create temp table t (v text); insert into t values ($$a$$), ($$b$$); delete from t`
 */
const streams = JSON.parse(
  readFileSync(path.join(__dirname, '../../../test/fixtures/backend-streams.json'), 'utf8'),
) as Record<string, string>;

export type StreamName =
  | 'simple-select'
  | 'simple-two-statements'
  | 'simple-error'
  | 'simple-denial-marker'
  | 'extended-rows'
  | 'extended-denial-marker'
  | 'simple-insert-delete';

/** The recorded stream, framed into messages (views, as the session sees them). */
export function backendStream(name: StreamName): Buffer[] {
  const messages: Buffer[] = [];
  new MessageFramer(1 << 20).push(Buffer.from(streams[name], 'hex'), (_type, m) => messages.push(m));
  return messages;
}

/** The messages' types as letters, e.g. "TDDCZ". */
export const types = (messages: Buffer[]): string => messages.map((m) => String.fromCharCode(m[0])).join('');
