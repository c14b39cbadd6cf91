// Statement classification throughput: the parse + analysis that decides every statement, uncached and
// through the analysis cache, and whole gate decisions (analysis + policy) as the proxy makes them.
// Single-threaded, in this process; prints statements per second.
import { createRequire } from 'node:module';
import { ensureBuilt, note } from './lib.mjs';

const require = createRequire(import.meta.url);

const STATEMENTS = {
  'pgbench -S': (i) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${1 + (i % 1_000_000)};`,
  'join + aggregate (230 chars)': (i) =>
    `SELECT c.city, count(*) AS orders, sum(o.quantity * p.price) AS revenue FROM customers c JOIN orders o ON o.customer_id = c.id JOIN products p ON p.id = o.product_id WHERE o.ordered_at > now() - interval '${1 + (i % 90)} days' GROUP BY c.city ORDER BY revenue DESC LIMIT 10`,
  'psql \\dt': () =>
    "SELECT n.nspname as \"Schema\", c.relname as \"Name\", CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' END as \"Type\", pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\" FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema' AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2;",
};

function rate(fn, seconds = 1.5) {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let n = 0;
  const start = process.hrtime.bigint();
  while (process.hrtime.bigint() < deadline) {
    for (let k = 0; k < 200; k++) fn(n++);
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

await ensureBuilt();
const { loadSqlParser } = require('../out/src/core/sql/parser.js');
const { analyzeSql } = require('../out/src/core/sql/analyze.js');
const { AnalysisCache } = require('../out/src/core/sql/analysis-cache.js');
const { PolicyGate } = require('../out/src/core/gate/gate.js');
const { PolicySource } = require('../out/src/core/policy/source.js');
const { silentLogger } = require('../out/src/core/log.js');
await loadSqlParser();
const source = await PolicySource.open({ kind: 'preset', name: 'read-only' }, silentLogger);
const context = { connection: 'bench', sessionId: 'bench', actor: { user: 'bench', groups: [] } };

note('statements per second, single core (1.5 s each)');
const rows = [];
for (const [name, make] of Object.entries(STATEMENTS)) {
  const cache = new AnalysisCache();
  const gate = new PolicyGate(source, null, silentLogger);
  rows.push({
    statement: name,
    uncached: rate((i) => analyzeSql(make(i))),
    cached: rate((i) => cache.analyze(make(i))),
    gate: rate((i) => gate.decide(context, { kind: 'sql', text: make(i) })),
  });
}
const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(12);
console.log(
  `\n${'statement'.padEnd(30)} ${'uncached/s'.padStart(12)} ${'cached/s'.padStart(12)} ${'gate/s'.padStart(12)}`,
);
for (const r of rows)
  console.log(`${r.statement.padEnd(30)} ${fmt(r.uncached)} ${fmt(r.cached)} ${fmt(r.gate)}`);
console.log(
  `\nJSON ${JSON.stringify({ benchmark: 'classify', rows: rows.map((r) => ({ ...r, uncached: Math.round(r.uncached), cached: Math.round(r.cached), gate: Math.round(r.gate) })) })}`,
);
source.close();
