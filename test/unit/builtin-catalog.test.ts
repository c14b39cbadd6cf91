import assert from 'node:assert/strict';
import { analyzeSql } from '../../src/core/sql/analyze';
import { applyCatalog, catalogFromRows, type CatalogFacts } from '../../src/core/sql/catalog';
import type { StatementFacts } from '../../src/core/sql/facts';
import { loadSqlParser } from '../../src/core/sql/parser';

/**
 * Attribute notation, field selection and casts resolved against the catalog rows the proxy reads:
 * 'b' built-ins callable with one argument (and whether on a whole row), 'f' user functions, 't' user
 * types, 'c' user tables' columns.
 */
const CATALOG = catalogFromRows([
  ['c', '100', '1', 'public', 'customers', 'id', 'r'],
  ['c', '100', '2', 'public', 'customers', 'email', 'r'],
  ['c', '200', '1', 'public', 'words', 'length', 'r'],
  ['c', '200', '2', 'public', 'words', 'record_out', 'r'],
  ['c', '300', '1', 'other', 'words', 'id', 'r'],
  ['b', 'record_out', 'true'],
  ['b', 'record_send', 'true'],
  ['b', 'to_jsonb', 'true'],
  ['b', 'length', 'false'],
  ['b', 'int4send', 'false'],
  ['b', 'pg_cancel_backend', 'false'],
  ['f', 'leak_fn'],
  ['t', 'checked_text'],
]);

/** The statement's facts resolved against CATALOG, or (null) without a catalog. */
function resolved(sql: string, catalog: CatalogFacts | null = CATALOG): StatementFacts {
  const a = applyCatalog(analyzeSql(sql), catalog ?? undefined);
  assert.ok(a.ok && a.statements.length === 1, sql);
  return a.statements[0];
}
const fns = (f: StatementFacts) => f.functions.map((x) => `${x.name}:${x.classification.class}`).sort();
const wholeRows = (f: StatementFacts) =>
  f.columns.filter((c) => c.column === '*').map((c) => `${c.relations.join('|')}:${c.usage}`);

describe('built-in catalog: attribute notation, field selection and casts', () => {
  before(() => loadSqlParser());

  it('x.f on a FROM item is f(x) when the database has a row-taking f and x has no column f', () => {
    const f = resolved('select c.record_send, c.to_jsonb from customers c');
    assert.deepEqual(fns(f), ['record_send:unknown', 'to_jsonb:safe']);
    assert.deepEqual(wholeRows(f), ['customers:expression']);
  });

  it('reaches subqueries, CTEs and clauses other than the select list', () => {
    assert.deepEqual(fns(resolved('select s.record_out from (select email from customers) s')), [
      'record_out:unknown',
    ]);
    assert.deepEqual(fns(resolved('with x as (select 1) select x.record_out from x')), [
      'record_out:unknown',
    ]);
    const where = resolved("select id from customers c where c.record_out like '%@%'");
    assert.deepEqual(wholeRows(where), ['customers:predicate']);
  });

  it('a table column of that name stays a column, in every table the unqualified name may mean', () => {
    const f = resolved('select w.length, w.record_out from public.words w');
    assert.deepEqual(fns(f), []);
    assert.deepEqual(wholeRows(f), []);
    // other.words has no column record_out: with an unqualified name PostgreSQL may mean that one.
    assert.deepEqual(fns(resolved('select w.record_out from words w')), ['record_out:unknown']);
  });

  it('a built-in that cannot take a row is no call on a row; any one-argument built-in is on a value', () => {
    assert.deepEqual(fns(resolved('select c.int4send from customers c')), []);
    // length(text) cannot take a row: s.length is the subquery's column.
    assert.deepEqual(fns(resolved('select s.length from (select length(email) from customers) s')), [
      'length:safe',
    ]);
    assert.deepEqual(fns(resolved('select (c.id).int4send, (1).pg_cancel_backend from customers c')), [
      'int4send:unknown',
      'pg_cancel_backend:dangerous',
    ]);
    assert.deepEqual(fns(resolved('select (c).email from customers c')), []);
    // A function's result in FROM may be a scalar: g.f is f(g) for any one-argument f.
    for (const sql of [
      'select g.pg_cancel_backend from generate_series(1, 2) g',
      'select generate_series.pg_cancel_backend from generate_series(1, 2)',
    ]) {
      assert.deepEqual(fns(resolved(sql)), ['generate_series:safe', 'pg_cancel_backend:dangerous'], sql);
    }
  });

  it("a user function's name is a call on the row and never safe", () => {
    assert.deepEqual(fns(resolved('select c.leak_fn from customers c')), ['leak_fn:unknown']);
  });

  it('without a catalog, the names the curated list knows are calls (the conservative fallback)', () => {
    assert.deepEqual(fns(resolved('select c.to_jsonb, c.length from customers c', null)), [
      'length:safe',
      'to_jsonb:safe',
    ]);
    assert.deepEqual(fns(resolved('select (1).pg_cancel_backend', null)), ['pg_cancel_backend:dangerous']);
  });

  it('a cast to a user type, or to any type outside pg_catalog, is an unknown function', () => {
    for (const sql of [
      "select 'x'::checked_text",
      "select cast('x' as checked_text)",
      "select checked_text 'x'",
      "select array['x']::checked_text[]",
      `select * from json_to_record('{"a": "x"}') as r(a checked_text)`,
      "select * from xmltable('/r' passing '<r/>' columns b checked_text path 'b') x",
    ]) {
      assert.ok(fns(resolved(sql)).includes('cast to checked_text:unknown'), sql);
    }
    assert.deepEqual(fns(resolved("select 'x'::app.t", null)), ['cast to app.t:unknown']);
    assert.deepEqual(fns(resolved("select 'x'::text, 1::int, 'y'::information_schema.sql_identifier")), []);
    // A table's column types are only named, not converted to.
    assert.deepEqual(fns(resolved('create table t (a checked_text, b app.t)')), []);
  });
});
