import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PolicyGate } from '../../src/core/gate/gate';
import type { DecisionContext } from '../../src/core/gate/operation';
import { maskIndexFor } from '../../src/core/masking/mask-index';
import { type Decision } from '../../src/core/gate/decision';
import { silentLogger } from '../../src/core/log';
import { PolicySource } from '../../src/core/policy/source';
import { catalogFromRows } from '../../src/core/sql/catalog';
import { loadSqlParser } from '../../src/core/sql/parser';

const POLICY = `version: 1
name: pii
rules:
  - { name: reads, effect: allow, when: { kinds: [read] } }
  - { name: writes, effect: allow, when: { kinds: [write, ddl] } }
masking:
  hashKey: ${randomBytes(24).toString('base64')}
  tags:
    pii: [public.customers.full_name, public.customers.email]
  columns:
    - { tags: [pii], mask: partial }
    - { columns: [public.customers.ssn], mask: hash }
`;

describe('masking lineage on the parse tree', () => {
  const ctx: DecisionContext = { connection: 'c', sessionId: 's', actor: { user: 'u', groups: [] } };
  let gate: PolicyGate;
  const decide = (sql: string) => gate.decide(ctx, { kind: 'sql', text: sql }) as Decision;

  before(async () => {
    await loadSqlParser();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-mask-'));
    writeFileSync(path.join(dir, 'p.yaml'), POLICY);
    const source = await PolicySource.open({ kind: 'file', path: path.join(dir, 'p.yaml') }, silentLogger);
    gate = new PolicyGate(source, null, silentLogger);
    // The catalog as the proxy reads it: customers(id, full_name, email, ssn, city), a view over it, orders.
    ctx.sql = {
      catalog: catalogFromRows([
        ['c', '100', '1', 'public', 'customers', 'id', 'r'],
        ['c', '100', '2', 'public', 'customers', 'full_name', 'r'],
        ['c', '100', '3', 'public', 'customers', 'email', 'r'],
        ['c', '100', '4', 'public', 'customers', 'ssn', 'r'],
        ['c', '100', '5', 'public', 'customers', 'city', 'r'],
        ['c', '200', '1', 'public', 'contacts', 'id', 'v'],
        ['c', '200', '2', 'public', 'contacts', 'mail', 'v'],
        ['d', '200', '100', '1'],
        ['d', '200', '100', '3'],
        ['v', '200', ' SELECT customers.id,\n    customers.email AS mail\n   FROM customers;'],
        ['c', '300', '1', 'public', 'orders', 'customer_id', 'r'],
        ['f', 'leak_fn'],
      ]),
    };
  });

  it('allows plain reads of masked columns (the wire masks them) and anything on unmasked ones', () => {
    for (const sql of [
      'select * from customers',
      'select email, full_name from customers',
      'select c.email as e from customers c',
      'select upper(city), count(*) from customers group by city order by 1',
      'select e from (select email e from customers) s',
      'select * from contacts',
    ]) {
      assert.equal(decide(sql).effect, 'allow', sql);
    }
  });

  it('denies computing on, filtering by, or writing a masked column, and says which and why', () => {
    const cases: Array<[string, RegExp]> = [
      ['select upper(email) from customers', /computes on it.*customers\.email/],
      ["select email || '' from customers", /computes on it/],
      ['select reverse(full_name) from customers', /computes on it/],
      ['select cast(email as int) from customers', /computes on it/],
      ['select row_to_json(c) from customers c', /computes on it.*customers\.\*/],
      ['select c from customers c', /computes on it/],
      ['select to_jsonb(customers) from customers', /computes on it/],
      ["select string_agg(email, ',') from customers", /computes on it/],
      ["select email from customers union select 'x'", /computes on it/],
      ['select (select email from customers limit 1)', /computes on it/],
      ['select upper(s.e) from (select email e from customers) s', /computes on it/],
      ['with x as (select email from customers) select lower(x.email) from x', /computes on it/],
      ["select id from customers where email like 'a%'", /filters, joins, groups or orders on it/],
      ['select id from customers order by full_name', /filters, joins, groups or orders on it/],
      ['select 1 from orders o join customers c on c.email = o.customer_id::text', /filters/],
      [
        'select 1 from orders o where exists (select 1 from customers c where c.ssn = o.customer_id::text)',
        /filters/,
      ],
      ['create table t2 as select email from customers', /writes it/],
      ['insert into orders (customer_id) select length(email) from customers', /writes it|computes on it/],
      ['copy customers to stdout', /copies it out with COPY/],
      ['copy (select email from customers) to stdout', /copies it out with COPY/],
      ['select upper(mail) from contacts', /computes on it/],
    ];
    for (const [sql, reason] of cases) {
      const d = decide(sql);
      assert.equal(d.effect, 'deny', sql);
      assert.equal(d.effect === 'deny' && d.rule, 'masking', sql);
      assert.match(d.effect === 'deny' ? d.reason : '', reason, sql);
    }
  });

  it('takes x.f for a call of the user function f on the row (attribute notation), not for a column', () => {
    const d = decide('select c.leak_fn from customers c');
    assert.equal(d.effect, 'deny');
    assert.match(d.effect === 'deny' ? d.reason : '', /leak_fn/);
    assert.equal(decide('select c.city from customers c').effect, 'allow');
  });

  it('knows masked fields by table OID and attribute number, also through a view to its sources', () => {
    const state = gate.policyState();
    assert.ok(state.ok);
    assert.ok(state.active.policy.masking);
    const index = maskIndexFor(state.active.policy.masking, ctx.sql?.catalog);
    assert.equal(index.styleForField(100, 3), 'partial');
    assert.equal(index.styleForField(100, 4), 'hash');
    assert.equal(index.styleForField(100, 5), undefined);
    // The view's columns follow their sources: id stays plain, mail keeps email's mask.
    assert.equal(index.styleForField(200, 1), undefined);
    assert.equal(index.styleForField(200, 2), 'partial');
    assert.equal(index.styleForField(0, 0), undefined);
  });
});
