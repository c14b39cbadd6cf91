import assert from 'node:assert/strict';
import { PolicyGate } from '../../src/core/gate/gate';
import type { DecisionContext } from '../../src/core/gate/operation';
import { silentLogger } from '../../src/core/log';
import { parsePolicy, type PolicyDocument } from '../../src/core/policy/document';
import { PRESETS } from '../../src/core/policy/presets';
import { catalogFromRows, type CatalogFacts } from '../../src/core/sql/catalog';
import { loadSqlParser } from '../../src/core/sql/parser';
import { PreparedStatements } from '../../src/core/sql/prepared-statements';

/**
 * One decision path: explain is the decide pipeline with a trace, so for the same policy, actor,
 * catalog and prepared statements it gives the effect and rule that decide gives — over a corpus of
 * statements and catalogs, including a user function that shadows a built-in and masked columns used
 * in GROUP BY.
 */
const MASKING = parsePolicy(
  `version: 1
name: shop
rules:
  - { name: reads, effect: allow, when: { kinds: [read, session, transaction] } }
  - { name: writes, effect: review, review: { approvers: [self] }, when: { kinds: [write] } }
masking:
  columns:
    - { columns: [public.customers.email], mask: partial }
`,
  'shop.yaml',
);

const TABLES: string[][] = [
  ['c', '100', '1', 'public', 'customers', 'id', 'r'],
  ['c', '100', '2', 'public', 'customers', 'email', 'r'],
  ['c', '100', '3', 'public', 'customers', 'city', 'r'],
  ['c', '200', '1', 'public', 't', 'name', 'r'],
];

const CATALOGS: Array<[string, CatalogFacts | undefined]> = [
  ['no catalog (offline)', undefined],
  ['tables only', catalogFromRows(TABLES)],
  ['a user function lower() and operator', catalogFromRows([...TABLES, ['f', 'lower'], ['o', '===']])],
];

const STATEMENTS = [
  'select lower(name) from t',
  'select upper(name) from t',
  'select c.city, count(*) from customers c group by c.email',
  'select c.city, count(*) from customers c group by c.city',
  'select email from customers',
  'select upper(email) from customers',
  "select id from customers where email like 'a%'",
  'select * from customers',
  'copy customers to stdout',
  'copy (select city from customers) to stdout with (format csv)',
  'delete from customers where id = 1',
  "insert into t values ('x')",
  'drop table t',
  'select 1; drop table t',
  'begin; select 1; commit',
  'set search_path = public',
  'set standard_conforming_strings = off',
  'do $$ begin perform 1; end $$',
  'call p()',
  "select set_config('search_path', 'public', false)",
  'prepare q as delete from t',
  'execute q',
  'prepare r as select 1; execute r',
  'select * from pg_stats',
  "select name === 'x' from t",
  'selec 1',
  '',
];

describe('one decision path: explain answers what the gate decides', () => {
  before(loadSqlParser);

  const policies: Array<[string, PolicyDocument]> = [
    ['read-only', PRESETS['read-only']],
    ['allow-all', PRESETS['allow-all']],
    ['masking + review', MASKING],
  ];
  for (const [policyName, policy] of policies) {
    for (const [catalogName, catalog] of CATALOGS) {
      it(`${policyName}, ${catalogName}: same effect and rule for every statement of the corpus`, async () => {
        const gate = new PolicyGate(
          { state: () => ({ ok: true, active: { policy, id: policyName } }) },
          null,
          silentLogger,
        );
        for (const agent of [undefined, 'mcp:x/1']) {
          // A session of its own per statement: what one statement prepares must not decide the next.
          for (const text of STATEMENTS) {
            const context = (): DecisionContext => ({
              connection: 'shop',
              sessionId: `s-${text}`,
              actor: { user: 'alice', groups: [], agent, ...(agent && { channel: 'mcp' as const }) },
              sql: { catalog, prepared: new PreparedStatements() },
            });
            const explained = gate.explain(context(), { kind: 'sql', text });
            // Decided twice: the second comes from the decision cache, and must agree too.
            for (let i = 0; i < 2; i++) {
              const decided = await gate.decide(context(), { kind: 'sql', text });
              const effect = decided.review ? 'review' : decided.effect;
              assert.equal(explained.effect, effect, `${text}: explain ${explained.effect}, gate ${effect}`);
              assert.equal(explained.rule, decided.rule, text);
            }
          }
        }
      });
    }
  }

  it('a user function named lower: denied under read-only by both once the catalog names it', async () => {
    const gate = new PolicyGate(
      { state: () => ({ ok: true, active: { policy: PRESETS['read-only'], id: 'read-only' } }) },
      null,
      silentLogger,
    );
    const ctx = (catalog: CatalogFacts | undefined): DecisionContext => ({
      connection: 'shop',
      sessionId: 's',
      actor: { user: 'alice', groups: [] },
      sql: { catalog },
    });
    const op = { kind: 'sql', text: 'select lower(name) from t' } as const;
    const [, plain] = CATALOGS[1];
    const [, shadowed] = CATALOGS[2];
    assert.equal((await gate.decide(ctx(plain), op)).effect, 'allow');
    assert.equal(gate.explain(ctx(plain), op).effect, 'allow');
    assert.equal((await gate.decide(ctx(shadowed), op)).effect, 'deny');
    const explained = gate.explain(ctx(shadowed), op);
    assert.equal(explained.effect, 'deny');
    assert.match(explained.text, /functions {2}lower .*\[unknown\]/);
  });

  it('the masking verdict is part of the explanation: masked outputs and lineage denials', () => {
    const gate = new PolicyGate(
      { state: () => ({ ok: true, active: { policy: MASKING, id: 'shop' } }) },
      null,
      silentLogger,
    );
    const ctx: DecisionContext = { connection: 'shop', sessionId: 's', actor: { user: 'alice', groups: [] } };
    const plain = gate.explain(ctx, { kind: 'sql', text: 'select email, city from customers' });
    assert.equal(plain.effect, 'allow');
    assert.match(plain.text, /masked {5}customers\.email \(arrive masked\)/);
    const grouped = gate.explain(ctx, {
      kind: 'sql',
      text: 'select c.city, count(*) from customers c group by c.email',
    });
    assert.equal(grouped.effect, 'deny');
    assert.equal(grouped.rule, 'masking');
    assert.match(grouped.text, /masking {4}DENY: the statement filters, joins, groups or orders on it/);
    assert.match(grouped.text, /request with masking: DENY/);
  });

  it('no policy in force: both deny, and explain says why', async () => {
    const gate = new PolicyGate(
      { state: () => ({ ok: false, reason: 'the bundle expired' }) },
      null,
      silentLogger,
    );
    const ctx: DecisionContext = { connection: 'shop', sessionId: 's', actor: { user: 'alice', groups: [] } };
    const decided = await gate.decide(ctx, { kind: 'sql', text: 'select 1' });
    const explained = gate.explain(ctx, { kind: 'sql', text: 'select 1' });
    assert.equal(decided.effect, 'deny');
    assert.equal(explained.effect, 'deny');
    assert.equal(explained.rule, decided.rule);
    assert.match(explained.text, /the bundle expired/);
  });
});
