import assert from 'node:assert/strict';
import { analyzeSql } from '../../src/core/sql/analyze';
import { AnalysisCache, analysisCacheKey } from '../../src/core/sql/analysis-cache';
import type { SqlAnalysis } from '../../src/core/sql/facts';
import { loadSqlParser } from '../../src/core/sql/parser';
import { prng } from '../helpers/wire';

/** mulberry32: a small seeded PRNG, so the property test is the same run every time. */

/** The analysis as a comparison sees it: statement texts come from the first string seen for a key. */
function comparable(a: SqlAnalysis): unknown {
  if (!a.ok) return a;
  return { ...a, statements: a.statements.map((s) => ({ ...s, text: '' })) };
}

interface Gen {
  /** A number: zero, small, at the int4 and int2 edges, longer than int4, or random digits. */
  n(): string;
  /** A string literal body. */
  s(): string;
  /** An identifier, plain or quoted. */
  id(): string;
}

/** Statements where numbers, literals or identifiers may decide what the statement is or does. */
const TEMPLATES: Array<(g: Gen) => string> = [
  (g) => `ALTER INDEX ${g.id()} ALTER COLUMN ${g.n()} SET STATISTICS ${g.n()}`,
  (g) => `SELECT a, b, c FROM ${g.id()} ORDER BY ${g.n()}`,
  (g) => `SELECT * FROM (SELECT email, id FROM customers) s ORDER BY ${g.n()}, ${g.n()} DESC`,
  (g) => `SELECT email, count(*) FROM customers GROUP BY ${g.n()}`,
  (g) => `SELECT DISTINCT ON (${g.n()}) email, ssn FROM customers`,
  (g) => `EXPLAIN (ANALYZE ${g.n()}) DELETE FROM ${g.id()} WHERE id = ${g.n()}`,
  (g) => `EXPLAIN (ANALYZE ${g.n()}, COSTS ${g.n()}) SELECT ${g.n()}`,
  (g) => `SELECT * FROM ${g.id()} LIMIT ${g.n()} OFFSET ${g.n()}`,
  (g) => `SET work_mem = ${g.n()}`,
  (g) => `SET default_transaction_read_only = ${g.n()}`,
  (g) => `SET LOCAL transaction_read_only = ${g.n()}`,
  (g) => `SET standard_conforming_strings = ${g.n()}`,
  (g) => `SET statement_timeout = ${g.n()}; SELECT ${g.n()}`,
  (g) => `FETCH ${g.n()} FROM c`,
  (g) => `FETCH FORWARD ${g.n()} FROM ${g.id()}`,
  (g) => `MOVE ${g.n()} IN c`,
  (g) => `SELECT ${g.n()}::float(${g.n()})`,
  (g) => `CREATE TABLE ${g.id()} (a numeric(${g.n()}, ${g.n()}), b varchar(${g.n()}))`,
  (g) => `SELECT ${g.n()}.${g.n()}, .${g.n()}, ${g.n()}e${g.n()}, ${g.n()}abc`,
  (g) => `SELECT set_config('${g.s()}', '${g.s()}', false)`,
  (g) => `SELECT a FROM ${g.id()} WHERE id = ${g.n()} AND name = '${g.s()}'`,
  (g) => `SELECT * FROM t WHERE id IN (${g.n()}, ${g.n()}, $${g.n()})`,
  (g) => `INSERT INTO ${g.id()} VALUES (${g.n()}, '${g.s()}')`,
  (g) => `DECLARE c CURSOR FOR SELECT ${g.n()}, email FROM customers ORDER BY ${g.n()}`,
  (g) => `VALUES (${g.n()}, ${g.n()}) ORDER BY ${g.n()}`,
  (g) => `COPY (SELECT ${g.n()} FROM ${g.id()} ORDER BY ${g.n()}) TO STDOUT`,
  (g) => `SELECT pg_sleep(${g.n()}) FROM t${g.n()}`,
  (g) => `LOCK TABLE ${g.id()} IN ACCESS SHARE MODE; SELECT ${g.n()}`,
];

const NUMBERS = ['0', '1', '2', '00', '53', '54', '32767', '32768', '2147483647', '2147483648'];
const STRINGS = ['x', 'role', 'work_mem', 'default_transaction_read_only', 'off', 'on', "it''s", ''];
const IDENTS = ['t', 'u', 'customers', 'c', '"T"', '"select"', 't1', 'x0'];

/**
 * Families of statements that differ only in their numbers (so they share cache keys, and whichever
 * arrives first fills the entry), over many identifiers and literals. Numbers are mostly short, so
 * digit counts coincide; some are all zeros (the key's own text), some past int4.
 */
function mutations(seed: number, families: number, perFamily: number): string[] {
  const r = prng(seed).next;
  const pick = <T>(rand: () => number, xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const digits = (n: number) =>
    r() < 0.25 ? '0'.repeat(n) : Array.from({ length: n }, () => String(Math.floor(r() * 10))).join('');
  const out = new Set<string>();
  for (const t of TEMPLATES) {
    for (let f = 0; f < families; f++) {
      const familySeed = Math.floor(r() * 2 ** 32);
      for (let i = 0; i < perFamily; i++) {
        const names = prng(familySeed).next; // the same identifiers and literals in every member
        out.add(
          t({
            n: () => (r() < 0.15 ? pick(r, NUMBERS) : digits(pick(r, [1, 1, 1, 1, 2, 2, 3, 5, 9, 10, 11]))),
            s: () => pick(names, STRINGS),
            id: () => pick(names, IDENTS),
          }),
        );
      }
    }
  }
  return [...out];
}

function shuffled<T>(xs: T[], seed: number): T[] {
  const r = prng(seed).next;
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe('analysis cache', () => {
  before(() => loadSqlParser());

  it('normalises standalone numbers of up to 9 digits only, keeping length', () => {
    assert.equal(
      analysisCacheKey('SELECT abalance FROM t WHERE aid = 83734;'),
      'SELECT abalance FROM t WHERE aid = 00000;',
    );
    assert.equal(
      analysisCacheKey('select t1.c2 from t1 where x = $1 limit 10'),
      'select t1.c2 from t1 where x = $1 limit 00',
    );
    assert.equal(analysisCacheKey('select 1e5, 0x1f'), 'select 1e5, 0x1f');
    // Past int4 the grammar reads a float constant: FETCH 99999999999 is a syntax error, FETCH 5 is not.
    assert.equal(analysisCacheKey('fetch 123456789 from c'), 'fetch 000000000 from c');
    assert.equal(analysisCacheKey('fetch 1234567890 from c'), 'fetch 1234567890 from c');
  });

  it('keeps the exact text as key for anything a simple scan could misread', () => {
    for (const sql of [
      "select 1 where a = 'x'",
      'select "1"',
      'select 1 -- 2',
      'select 1 /* 2 */',
      'select $$1$$',
      "select E'\\'1'",
      'select 1 where x = ’1’',
    ]) {
      assert.equal(analysisCacheKey(sql), sql, sql);
    }
  });

  it('shares facts between statements that differ in numbers, never where a number decides', () => {
    const cache = new AnalysisCache(100);
    cache.analyze('select * from t where id = 1');
    cache.analyze('select * from t where id = 2');
    assert.equal(cache.hits, 1);
    // A number in an ordinary SET decides nothing; in SET transaction_read_only it does.
    cache.analyze('set statement_timeout = 5000');
    cache.analyze('set statement_timeout = 6000');
    assert.equal(cache.hits, 2);
    const on = cache.analyze('set transaction_read_only = 1');
    const off = cache.analyze('set transaction_read_only = 0');
    assert.ok(on.ok && off.ok);
    assert.deepEqual([on.statements[0].flags, off.statements[0].flags], [[], ['read-write-transaction']]);
    const a = cache.analyze('explain (analyze 0) delete from t');
    const b = cache.analyze('explain (analyze 1) delete from t');
    assert.ok(a.ok && b.ok);
    assert.equal(a.statements[0].kind, 'read');
    assert.equal(b.statements[0].kind, 'write');
  });

  it('never lets a parse failure stand for a statement that parses (ALTER COLUMN 0 / 2)', () => {
    const cache = new AnalysisCache(100);
    const bad = cache.analyze('ALTER INDEX i ALTER COLUMN 0 SET STATISTICS 100');
    assert.equal(bad.ok, false);
    const good = cache.analyze('ALTER INDEX i ALTER COLUMN 2 SET STATISTICS 100');
    assert.ok(good.ok, 'ALTER COLUMN 2 was answered with the error of ALTER COLUMN 0');
    assert.equal(good.statements[0].kind, 'ddl');
    // And the other way round: a success whose numbers decide parsing is not shared.
    const other = new AnalysisCache(100);
    assert.ok(other.analyze('ALTER INDEX i ALTER COLUMN 2 SET STATISTICS 100').ok);
    assert.equal(other.analyze('ALTER INDEX i ALTER COLUMN 0 SET STATISTICS 100').ok, false);
  });

  it('never shares the analysis of an all-zeros text whose zeros decide (EXPLAIN (ANALYZE 0))', () => {
    const cache = new AnalysisCache(100);
    const zero = cache.analyze('EXPLAIN (ANALYZE 0) DELETE FROM t');
    const one = cache.analyze('EXPLAIN (ANALYZE 1) DELETE FROM t');
    assert.ok(zero.ok && one.ok);
    assert.deepEqual([zero.statements[0].kind, one.statements[0].kind], ['read', 'write']);
  });

  it('property: a cached analysis equals a fresh one for every mutation, in any order of arrival', function () {
    this.timeout(60_000);
    const texts = mutations(0x5eed, 3, 8);
    assert.ok(texts.length > 400, `only ${texts.length} distinct statements`);
    const fresh = new Map(texts.map((t) => [t, comparable(analyzeSql(t))]));
    // Both outcomes occur, or the property would prove little.
    assert.ok(texts.some((t) => !analyzeSql(t).ok) && texts.some((t) => analyzeSql(t).ok));
    for (let order = 0; order < 6; order++) {
      // A small cache too, so entries are evicted and analysed again in between.
      const cache = new AnalysisCache(order % 2 ? 40 : 5000);
      for (const pass of [1, 2]) {
        for (const t of shuffled(texts, order * 7919 + pass)) {
          assert.deepEqual(comparable(cache.analyze(t)), fresh.get(t), `order ${order}, pass ${pass}: ${t}`);
        }
      }
      assert.ok(cache.hits > 0, 'the cache never hit: the property was not exercised');
    }
  });

  it('evicts the least recently used entry (an old entry that is hit moves to the young end)', () => {
    const cache = new AnalysisCache(4);
    for (const t of ['a', 'b', 'c', 'd']) cache.analyze(`select ${t}`);
    cache.analyze('select a'); // hit: old enough to be moved to the young end
    cache.analyze('select e'); // evicts b, now the least recently used
    cache.analyze('select a');
    assert.equal(cache.hits, 2);
    cache.analyze('select b');
    assert.equal(cache.misses, 6);
  });
});
