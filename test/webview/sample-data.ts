/**
 * Sample messages for the webviews, shaped like what Airlock really produces: the statements, rules,
 * masked values and errors of an agent working against a production database.
 */
import type { StatementRecord } from '../../src/core/recording/events';
import type { PendingApproval } from '../../src/shared/webviews/approval-protocol';
import type { ReplayEvent, ReplaySession } from '../../src/shared/webviews/replay-protocol';

export const SESSION_ID = '3f2c9a1e-7b4d-4c1a-9e2f-5d8b6a0c1e77';

/** Three waiting statements; deadlines are relative to `now`. */
export function sampleRequests(now = Date.now()): PendingApproval[] {
  return [
    {
      id: 'apr-7f3a91',
      nonce: 'n-5c1d9e0b7a4f42e8',
      connection: 'prod',
      sessionId: SESSION_ID,
      actor: { user: 'alice', agent: 'mcp:claude-code/1.0', channel: 'mcp' },
      sql: "UPDATE customers SET tier = 'gold' WHERE id = 42",
      rule: 'review-writes',
      ruleDescription: 'Writes to production tables need a person’s review.',
      statements: [
        {
          command: 'UPDATE',
          kind: 'write',
          relations: ['public.customers'],
          functions: [],
          maskedColumns: [],
        },
      ],
      estimatedRows: 1,
      requestedAt: now - 18_000,
      deadline: now + 222_000,
    },
    {
      id: 'apr-2b8e44',
      nonce: 'n-9a0f3c6d1e2b4a77',
      connection: 'prod',
      sessionId: SESSION_ID,
      actor: { user: 'alice', agent: 'claude-code' },
      sql: "DELETE FROM sessions WHERE last_seen < now() - interval '30 days'",
      rule: 'review-bulk-writes',
      ruleDescription: 'Deletes without a key lookup need a review: they may touch many rows.',
      statements: [
        {
          command: 'DELETE',
          kind: 'write',
          relations: ['public.sessions'],
          functions: ['pg_catalog.now'],
          maskedColumns: [],
        },
      ],
      estimatedRows: 18234,
      requestedAt: now - 6_000,
      deadline: now + 95_000,
    },
    {
      id: 'apr-c41d07',
      nonce: 'n-3e7b2a9c0d5f4e11',
      connection: 'analytics',
      sessionId: '8d1e0c55-2a7f-4b9e-a3c4-6f0e9b1d2c38',
      actor: { user: 'bob', agent: 'cursor' },
      sql: "SELECT c.email, c.phone, o.total FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.created_at > '2025-01-01' ORDER BY o.total DESC LIMIT 100",
      rule: 'review-pii-reads',
      ruleDescription: 'Reading personal data in bulk needs a review (values stay masked).',
      statements: [
        {
          command: 'SELECT',
          kind: 'read',
          relations: ['public.customers', 'public.orders'],
          functions: [],
          maskedColumns: ['customers.email', 'customers.phone'],
        },
      ],
      requestedAt: now - 2_000,
      deadline: now + 298_000,
    },
  ];
}

const T0 = Date.parse('2025-05-14T09:31:02.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();

function statement(seq: number, ms: number, data: StatementRecord): ReplayEvent {
  return { seq, time: at(ms), type: 'statement', data };
}

/** A finished session of an agent: reads with masked results, an approved write, denials, an error. */
export function sampleSession(): { session: ReplaySession; events: ReplayEvent[] } {
  const events: ReplayEvent[] = [
    {
      seq: 1,
      time: at(0),
      type: 'session-start',
      data: {
        connection: 'prod',
        actor: { user: 'alice', groups: ['engineering'], agent: 'claude-code' },
        client: '127.0.0.1:53422',
        policy: 'production',
      },
    },
    statement(2, 1_240, {
      protocol: 'simple',
      sql: 'SELECT id, name, email, tier FROM customers ORDER BY id LIMIT 5',
      decision: 'allow',
      rule: 'read-with-masking',
      durationMs: 4.2,
      tags: ['SELECT 5'],
      sample: {
        columns: ['id', 'name', 'email', 'tier'],
        rows: [
          ['38', 'J*** D**', 'j***@example.com', 'silver'],
          ['39', 'M*** K****', 'm***@example.org', null],
          ['40', 'P***** N*****', 'p***@example.net', 'bronze'],
          ['41', 'A** S****', 'a***@example.com', 'silver'],
          ['42', 'R*** O******', 'r***@example.com', 'silver'],
        ],
        truncated: false,
      },
    }),
    statement(3, 6_910, {
      protocol: 'extended',
      sql: "SELECT count(*) FROM orders WHERE status = 'pending'",
      decision: 'allow',
      rule: 'read-with-masking',
      durationMs: 11.8,
      tags: ['SELECT 1'],
      sample: { columns: ['count'], rows: [['17']], truncated: false },
    }),
    statement(4, 14_300, {
      protocol: 'simple',
      sql: "UPDATE customers SET tier = 'gold' WHERE id = 42",
      decision: 'allow',
      rule: 'review-writes',
      durationMs: 8_412,
      tags: ['UPDATE 1'],
      review: { approver: 'alice', outcome: 'approved', waitMs: 8_400 },
    }),
    statement(5, 31_050, {
      protocol: 'simple',
      sql: 'DROP TABLE audit_log',
      decision: 'deny',
      rule: 'no-ddl',
      reason: 'Schema changes are not allowed on production; use a migration.',
      durationMs: 0.3,
    }),
    statement(6, 40_770, {
      protocol: 'extended',
      sql: "SELECT email, phone FROM customers WHERE email LIKE '%@example.com'",
      decision: 'allow',
      rule: 'read-with-masking',
      durationMs: 23.5,
      tags: ['SELECT 20'],
      sample: {
        columns: ['email', 'phone'],
        rows: [
          ['j***@example.com', '+1 ***-***-0142'],
          ['a***@example.com', null],
          ['r***@example.com', '+44 **** ***871'],
        ],
        truncated: true,
      },
    }),
    statement(7, 52_480, {
      protocol: 'simple',
      sql: "DELETE FROM sessions WHERE last_seen < now() - interval '30 days'",
      decision: 'deny',
      rule: 'review-bulk-writes',
      reason: 'Denied by alice: too many rows — run it in the maintenance window.',
      durationMs: 15_310,
      review: {
        approver: 'alice',
        outcome: 'denied',
        waitMs: 15_300,
        reason: 'too many rows — run it in the maintenance window.',
      },
    }),
    {
      seq: 8,
      time: at(60_000),
      type: 'checkpoint',
      data: { events: 7, hash: 'sha256:4b7e0d1f9c2a6e83b5d0f1a27c9e4b6d8a3f5c1e7b9d2f4a6c8e0b1d3f5a7c9e' },
    },
    statement(9, 63_120, {
      protocol: 'extended',
      sql: "INSERT INTO notes (customer_id, body) VALUES (4242, 'Upgraded to gold tier')",
      decision: 'allow',
      rule: 'allow-notes',
      durationMs: 2.9,
      error: {
        code: '23503',
        message: 'insert or update on table "notes" violates foreign key constraint "notes_customer_id_fkey"',
      },
    }),
    statement(10, 70_400, {
      protocol: 'simple',
      sql: 'SELECT id, name, email, tier FROM customers WHERE id = 42',
      decision: 'allow',
      rule: 'read-with-masking',
      durationMs: 1.7,
      tags: ['SELECT 1'],
      sample: {
        columns: ['id', 'name', 'email', 'tier'],
        rows: [['42', 'R*** O******', 'r***@example.com', 'gold']],
        truncated: false,
      },
    }),
    { seq: 11, time: at(75_900), type: 'session-end', data: { reason: 'client disconnected' } },
  ];
  return {
    session: {
      id: SESSION_ID,
      connection: 'prod',
      actor: { user: 'alice', agent: 'mcp:claude-code/1.0', channel: 'mcp' },
      client: '127.0.0.1:53422',
      started: at(0),
      ended: at(75_900),
      live: false,
      statements: 8,
      denials: 2,
      integrity: 'verified' as const,
    },
    events,
  };
}

/** The same session still running (no end event yet). */
export function liveSession(): { session: ReplaySession; events: ReplayEvent[] } {
  const { session, events } = sampleSession();
  const live: ReplaySession = { ...session, live: true };
  delete live.ended;
  return { session: live, events: events.filter((e) => e.type !== 'session-end') };
}

export function laterEvents(): ReplayEvent[] {
  return [
    statement(12, 80_000, {
      protocol: 'simple',
      sql: 'SELECT now()',
      decision: 'allow',
      rule: 'read-with-masking',
      durationMs: 0.8,
      tags: ['SELECT 1'],
      sample: { columns: ['now'], rows: [['2025-05-14 09:32:22.000+00']], truncated: false },
    }),
    statement(13, 81_500, {
      protocol: 'simple',
      sql: 'TRUNCATE orders',
      decision: 'deny',
      rule: 'no-truncate',
      reason: 'TRUNCATE is never allowed through Airlock.',
    }),
  ];
}
