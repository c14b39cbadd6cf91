import assert from 'node:assert/strict';
import type net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import {
  assertAirlockDenial,
  directPg,
  directPsqlEnv,
  dropDatabase,
  proxiedPsqlEnv,
  psql,
  repoRoot,
} from '../helpers/policy-fixtures';
import {
  RAW_TYPES,
  collectSecrets,
  errorText,
  findLeaks,
  loadDemoDatabase,
  type Secrets,
} from '../helpers/masking-fixtures';

/**
 * Every message to the client is masked, in every format (issue 11 §5), under
 * examples/policies/pii-masking.yaml on the demo shop: reported settings (ParameterStatus), notices in
 * the middle of a result that cannot be masked, COPY data and its options, statistics and plans. Each
 * case runs through node-postgres (simple and extended protocol; every byte the client socket received
 * is searched, not only what the driver surfaces) and psql, and no sensitive value may appear in
 * anything the client got. The database is the same afterwards.
 */
const DB = 'masking_outputs';
const POLICY = path.join(repoRoot, 'examples/policies/pii-masking.yaml');
// Fake data, assembled at run time (no literal for secret scanners to flag).
const CARD = ['4111', '1111', '1111', '1111'].join(' ');
const AWS_KEY = 'AKIA' + 'IOSFODNN7EXAMPLE';

type Client = 'simple' | 'extended' | 'binary' | 'psql';
type Expect = 'denied' | 'no-leak' | 'refused-binary';

interface Case {
  name: string;
  sql: string;
  expect: Expect;
  clients?: Client[];
}

const ALL: Client[] = ['simple', 'extended', 'psql'];

const CASES: Record<string, Case[]> = {
  'reported settings (ParameterStatus)': [
    {
      name: "set_config('application_name', body): the reported value is scanned like a row",
      sql: "select set_config('application_name', body, false) from support_tickets where body like 'Card on file%'",
      expect: 'no-leak',
    },
    {
      name: "set_config('application_name', body) of an AWS key ticket",
      sql: "select set_config('application_name', body, false) from support_tickets where body like 'Key%'",
      expect: 'no-leak',
    },
    {
      name: "set_config('TimeZone', '<card>5'): a POSIX zone with a card as its name",
      sql: "select set_config('TimeZone', '<' || substr(body, 15, 19) || '>5', false) from support_tickets where body like 'Card on file%'",
      expect: 'no-leak',
    },
    {
      name: "set_config('application_name', full_name): a masked column as the argument is denied (lineage)",
      sql: "select set_config('application_name', full_name, false) from customers where id = 1",
      expect: 'denied',
    },
    {
      name: "set_config('application_name', (select ssn …)): through a scalar subquery",
      sql: "select set_config('application_name', (select ssn from customers where id = 1), false)",
      expect: 'denied',
    },
  ],
  'notices during a result that cannot be masked': [
    {
      name: 'a view whose rows raise notices, read in binary format: rows withheld, the result fails (0A000)',
      sql: 'select * from noisy_tickets',
      expect: 'refused-binary',
      clients: ['binary'],
    },
    {
      name: 'the same view over masked columns (array[full_name, ssn]) in binary format',
      sql: 'select * from noisy_customers',
      expect: 'refused-binary',
      clients: ['binary'],
    },
    {
      name: 'the same views in text format: notices and masked rows',
      sql: 'select t.*, c.* from noisy_tickets t join noisy_customers c using (id)',
      expect: 'no-leak',
    },
  ],
  'COPY options outside the text format the masker decodes are denied': [
    ...[
      "COPY support_tickets TO STDOUT (FORMAT csv, QUOTE '@')",
      "COPY support_tickets TO STDOUT WITH CSV QUOTE AS '@'",
      'COPY support_tickets TO STDOUT (FORMAT csv)',
      "COPY support_tickets TO STDOUT (DELIMITER '@')",
      "COPY (select body from support_tickets) TO STDOUT DELIMITER AS '.'",
      "COPY support_tickets TO STDOUT (ENCODING 'LATIN1')",
      "COPY support_tickets TO STDOUT (ENCODING 'SQL_ASCII')",
      "COPY support_tickets TO STDOUT (FORMAT csv, ESCAPE '@', FORCE_QUOTE *)",
      "\\copy support_tickets to stdout with (format csv, quote '@')",
      "\\copy support_tickets to stdout delimiter '@'",
      '\\copy support_tickets to stdout csv',
    ].map((sql): Case => ({ name: sql, sql, expect: 'denied', clients: ['psql'] })),
  ],
  'COPY in the text format: masked field by field': [
    ...[
      'COPY support_tickets TO STDOUT',
      '\\copy support_tickets to stdout',
      "COPY (select id, body from support_tickets) TO STDOUT (FORMAT text, HEADER, NULL '-')",
      "\\copy support_tickets to stdout with (encoding 'utf8')",
    ].map((sql): Case => ({ name: sql, sql, expect: 'no-leak', clients: ['psql'] })),
  ],
  'statistics and plans': [
    {
      name: 'pg_stats of customers',
      sql: "select most_common_vals, histogram_bounds from pg_stats where tablename = 'customers'",
      expect: 'denied',
    },
    {
      name: 'pg_statistic of customers',
      sql: "select stavalues1, stavalues2 from pg_statistic where starelid = 'customers'::regclass",
      expect: 'denied',
    },
    {
      name: 'pg_stats_ext (multivariate MCV lists over full_name, city)',
      sql: "select most_common_vals from pg_stats_ext where tablename = 'customers'",
      expect: 'denied',
    },
    {
      name: 'pg_stats_ext_exprs (statistics of lower(email))',
      sql: "select most_common_vals, histogram_bounds from pg_stats_ext_exprs where tablename = 'customers'",
      expect: 'denied',
    },
    {
      name: 'EXPLAIN (VERBOSE) with a constant compared to a masked column',
      sql: "explain (verbose, costs off) select id from customers where full_name = 'Ken Knuth'",
      expect: 'denied',
    },
    {
      name: 'EXPLAIN (VERBOSE) of a plain read: plan text only',
      sql: 'explain (verbose, costs off) select full_name, ssn from customers where id = 1',
      expect: 'no-leak',
    },
    {
      name: 'EXPLAIN (ANALYZE, VERBOSE) of a plain read',
      sql: 'explain (analyze, verbose, costs off, timing off, summary off) select full_name, ssn from customers where id = 1',
      expect: 'no-leak',
    },
  ],
};

/** What the database holds, as one digest per table (to show nothing changed). */
const DIGEST_SQL = `select (select md5(string_agg(c::text, '|' order by id)) from customers c)
  || (select md5(string_agg(t::text, '|' order by id)) from support_tickets t)
  || (select md5(string_agg(o::text, '|' order by id)) from orders o) as digest`;

describe('masking outputs (pii-masking policy): every message to the client is masked, in every format', function () {
  this.timeout(60_000);
  let p: ProxyUnderTest;
  let direct: pg.Client;
  let secrets: Secrets;
  let digest: string;

  /** What one client received for the statement: everything it could show, as text, and how it ended. */
  async function run(c: Case, client: Client): Promise<{ text: string; outcome: string }> {
    if (client === 'psql') {
      const out = await psql(sharedCluster(), proxiedPsqlEnv(p), ['-v', 'ON_ERROR_STOP=1', '-c', c.sql]);
      const denied = /airlock: denied/.test(out.stderr);
      return {
        text: out.stdout + '\n' + out.stderr,
        outcome: out.code === 0 ? 'ok' : denied ? 'denied' : `error: ${out.stderr.split('\n')[0]}`,
      };
    }
    const pc = await p.connect({ types: RAW_TYPES });
    const received: Buffer[] = [];
    (pc as unknown as { connection: { stream: net.Socket } }).connection.stream.on('data', (b: Buffer) =>
      received.push(b),
    );
    const notices: string[] = [];
    pc.on('notice', (n) => notices.push(errorText(n)));
    pc.on('error', () => undefined);
    let outcome = 'ok';
    try {
      await pc.query({
        text: c.sql,
        queryMode: client === 'simple' ? undefined : 'extended',
        binary: client === 'binary',
      } as pg.QueryConfig);
    } catch (err) {
      const e = err as pg.DatabaseError;
      if (e.code === '42501' && /^airlock: denied/.test(e.message)) {
        assertAirlockDenial(e, `${c.sql} (${client})`);
        outcome = 'denied';
      } else if (e.code === '0A000' && /cannot be masked in binary format/.test(e.message)) {
        outcome = 'refused-binary';
      } else {
        outcome = `error ${e.code}: ${e.message}`;
      }
    } finally {
      await pc.end().catch(() => undefined);
    }
    return { text: Buffer.concat(received).toString('utf8') + '\n' + notices.join('\n'), outcome };
  }

  before(async () => {
    const cluster = sharedCluster();
    await loadDemoDatabase(cluster, DB);
    direct = await directPg(cluster, DB, { types: RAW_TYPES });
    // Tickets whose sensitive content follows a character COPY's text format escapes (\n, \t), a
    // function that raises a notice per row, views that call it, and extended statistics.
    await direct.query('insert into support_tickets (customer_id, body) values (1, $1), (2, $2)', [
      `Card on file:\n${CARD}, please refund.`,
      `Key\t${AWS_KEY} leaked in a log`,
    ]);
    await direct.query(
      `create function noisy(i int) returns int language plpgsql as $$ begin raise notice 'row %', i; return i; end $$;
       create view noisy_tickets as select id, noisy(id) as step, array[body] as bodies from support_tickets;
       create view noisy_customers as select id, noisy(id) as step, array[full_name, ssn] as names from customers;
       create statistics customers_mcv (mcv) on full_name, city from customers;
       create statistics customers_expr on (lower(email)) from customers;
       analyze customers;`,
    );
    secrets = await collectSecrets(direct);
    digest = (await direct.query<{ digest: string }>(DIGEST_SQL)).rows[0].digest;
    p = await proxyFor(cluster, { database: DB, config: { policy: POLICY, allowUnsignedPolicy: true } });
  });

  after(async () => {
    await p?.close();
    await direct?.end().catch(() => undefined);
    await dropDatabase(sharedCluster(), DB);
  });

  it('control: the new tickets, statistics and notices are there, and the leak check sees them', async () => {
    assert.ok(secrets.values.includes(CARD) && secrets.values.includes(AWS_KEY));
    const stats = await direct.query(
      `select most_common_vals::text as v from pg_stats_ext where tablename = 'customers'`,
    );
    assert.ok(findLeaks(stats.rows.map((r: { v: string }) => r.v).join('\n'), secrets).length > 0);
    const copy = await psql(sharedCluster(), directPsqlEnv(sharedCluster(), DB), [
      '-c',
      'COPY support_tickets TO STDOUT',
    ]);
    assert.ok(
      copy.stdout.includes(`\\n${CARD}`) && copy.stdout.includes(`\\t${AWS_KEY}`),
      copy.stdout.slice(-300),
    );
    const plain = await direct.query({
      text: 'select * from noisy_tickets',
      binary: true,
    } as pg.QueryConfig);
    assert.ok(findLeaks(plain.rows.map((r: { bodies: string }) => r.bodies).join('\n'), secrets).length > 0);
  });

  for (const [group, cases] of Object.entries(CASES)) {
    describe(group, () => {
      for (const c of cases) {
        it(c.name, async () => {
          const failures: string[] = [];
          for (const client of c.clients ?? ALL) {
            const { text, outcome } = await run(c, client);
            const want = c.expect === 'no-leak' ? 'ok' : c.expect;
            if (outcome !== want) failures.push(`${client}: expected ${want}, got ${outcome}`);
            const leaks = findLeaks(text, secrets);
            if (leaks.length)
              failures.push(
                `${client}: ${leaks.length} values reached the client, e.g. ${leaks.slice(0, 3).join(' | ')}`,
              );
          }
          assert.deepEqual(failures, [], c.sql);
        });
      }
    });
  }

  it('a COPY option the masker does not decode is denied by the masking rule, saying which and what to use', async () => {
    const out = await psql(sharedCluster(), proxiedPsqlEnv(p), [
      '-c',
      "COPY support_tickets TO STDOUT WITH CSV QUOTE AS '@'",
    ]);
    assert.notEqual(out.code, 0);
    assert.equal(out.stdout, '');
    assert.match(out.stderr, /ERROR: {2}airlock: denied: csv COPY cannot be masked/);
    assert.match(out.stderr, /Rule: masking/);
    assert.match(out.stderr, /HINT: {2}Use COPY … TO STDOUT without options \(the default text format/);
  });

  it('COPY in the text format returns every row, its content masked and the rest as direct', async () => {
    const directCopy = await psql(sharedCluster(), directPsqlEnv(sharedCluster(), DB), [
      '-c',
      'COPY support_tickets TO STDOUT',
    ]);
    const proxied = await psql(sharedCluster(), proxiedPsqlEnv(p), ['-c', 'COPY support_tickets TO STDOUT']);
    const want = directCopy.stdout.split('\n');
    const got = proxied.stdout.split('\n');
    assert.equal(got.length, want.length);
    for (const [i, line] of got.entries())
      assert.equal(line.split('\t').length, want[i].split('\t').length, line);
    assert.ok(
      got.some((l) => l.includes('Card on file:\\n[REDACTED:card], please refund.')),
      proxied.stdout.slice(-400),
    );
    assert.ok(
      got.some((l) => l.includes('Key\\t[REDACTED:aws-key] leaked in a log')),
      proxied.stdout.slice(-400),
    );
  });

  // Mocha runs a suite's own tests before its nested suites: this one is nested last.
  describe('afterwards', () => {
    it('the database is unchanged', async () => {
      assert.equal((await direct.query<{ digest: string }>(DIGEST_SQL)).rows[0].digest, digest);
    });
  });
});
