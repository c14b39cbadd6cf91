// Content masking throughput: ContentScanner over ~50 MB of realistic text values (names, cities, statuses
// and free text with order numbers, dates and amounts; 5% of the free texts carry a card, e-mail, phone,
// IBAN, SSN, IP address, JWT or key), single core, in this process. Measures (a) scan() on every value with
// all built-in detectors, and (b) mightContain() first and scan() only where it says so, as the proxy does;
// and for scale (0) a bare charCodeAt loop over the same values. Prints MB/s (UTF-8 bytes of the values)
// and the findings, then one JSON line.
//
//   node bench/masking.mjs [--mb 50] [--rounds 3]
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { ROOT, note, parseOptions } from './lib.mjs';

const require = createRequire(import.meta.url);
// Options only when run directly; `bench/run.mjs` imports this module with its own arguments.
const defaults = { mb: 50, rounds: 3 };
const main = import.meta.url === pathToFileURL(process.argv[1] ?? '').href;
const options = main ? parseOptions(process.argv.slice(2), defaults) : defaults;

// Only out/ (tsc) is needed; compile when the masking modules are missing or older than their sources.
const MODULES = ['detectors', 'masks', 'content-scanner'];
const stale = MODULES.some((m) => {
  const out = path.join(ROOT, 'out', 'src', 'core', 'masking', `${m}.js`);
  const src = path.join(ROOT, 'src', 'core', 'masking', `${m}.ts`);
  return !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs;
});
if (stale) {
  note('compiling out/ (tsc -p .)…');
  try {
    execFileSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    // The tree may be mid-edit elsewhere: tsc still emits; go on if the modules are there.
    if (!existsSync(path.join(ROOT, 'out', 'src', 'core', 'masking', 'content-scanner.js'))) throw err;
    note(
      `tsc reported errors (continuing with the emitted out/):\n${String(err.stdout).split('\n').slice(0, 6).join('\n')}`,
    );
  }
}
const { BUILTIN_DETECTORS, builtinDetector } = require('../out/src/core/masking/detectors.js');
const { ContentScanner } = require('../out/src/core/masking/content-scanner.js');

// ---------- data ----------

// A small deterministic PRNG (mulberry32), so every run measures the same data.
let seed = 0x5eed;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (a) => a[Math.floor(rand() * a.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Linus',
  'Margaret',
  'Ken',
  'Barbara',
  'Dennis',
  'Frances',
  'Edsger',
  'Zoë',
  'José',
  'Søren',
  'Małgorzata',
  'Hiroshi',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Torvalds',
  'Hamilton',
  'Thompson',
  'Liskov',
  'Ritchie',
  'Allen',
  'Dijkstra',
  'Müller',
  'García',
  'Kowalski',
  'Tanaka',
];
const CITIES = [
  'London',
  'Berlin',
  'Paris',
  'New York',
  'San Francisco',
  'Zürich',
  'São Paulo',
  'Kraków',
  'Tokyo',
  'Amsterdam',
  'Lyon',
  'Austin',
];
const WORDS =
  'the customer reported that the order arrived late and the package was damaged please refund shipping cost agent escalated ticket to billing team follow up next week about delivery window and invoice address change requested by phone'.split(
    ' ',
  );
// Fake values; tokens are assembled here so that no literal in this file looks like a secret to scanners.
const SECRETS = [
  () => `card ${pick(['4111 1111 1111 1111', '4111-1111-1111-1111', '5555555555554444', '378282246310005'])}`,
  () => `email ${pick(FIRST).toLowerCase()}.${pick(LAST).toLowerCase()}@example.com`,
  () =>
    `phone ${pick(['+1 (555) 123-4567', '555-123-4567', '+44 20 7946 0958', '030 1234567', '01 23 45 67 89'])}`,
  () =>
    `key ${pick(['AKIAIOSFODNN7EXAMPLE', 'ghp_' + 'x1Y2z3'.repeat(6), 'xox' + 'b-123456789012-1234567890123-AbCdEfGhIjKlMnOp'])}`,
  () =>
    pick([
      'iban DE89 3704 0044 0532 0130 00',
      'ssn 123-45-6789',
      'from 10.20.30.40',
      'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln',
    ]),
];

function freeText() {
  const n = int(8, 40);
  const w = [];
  for (let i = 0; i < n; i++) w.push(pick(WORDS));
  if (rand() < 0.3) w.push(`order ${int(100000, 9999999)}`);
  if (rand() < 0.2) w.push(`on 2024-0${int(1, 9)}-1${int(0, 9)} 1${int(0, 9)}:${int(10, 59)}`);
  if (rand() < 0.2) w.push(`total ${int(1, 999)}.${int(10, 99)} EUR`);
  return w.join(' ');
}

/** One row: the text values the proxy would scan (name, e-mail-free status, city, note). */
function row() {
  const note = freeText();
  return [
    `${pick(FIRST)} ${pick(LAST)}`,
    pick(CITIES),
    pick(['active', 'pending', 'closed', 'on hold']),
    rand() < 0.05 ? `${note} ${pick(SECRETS)()} thanks` : note,
  ];
}

const values = [];
let bytes = 0;
const target = options.mb * 1024 * 1024;
while (bytes < target) {
  for (const v of row()) {
    values.push(v);
    bytes += Buffer.byteLength(v);
  }
}
// As the proxy sees them: decoded from the wire (flat strings, one-byte or two-byte).
for (let i = 0; i < values.length; i++) values[i] = Buffer.from(values[i], 'utf8').toString('utf8');
const mb = bytes / (1024 * 1024);
note(
  `${values.length.toLocaleString('en-US')} text values, ${mb.toFixed(1)} MB (UTF-8), ${options.rounds} rounds each`,
);

// ---------- measurement ----------

const scanner = new ContentScanner(BUILTIN_DETECTORS.map(builtinDetector), () => 'redact', Buffer.alloc(0));

function measure(label, fn) {
  fn(values.slice(0, 20000)); // warm-up
  const rates = [];
  let findings = 0;
  let scanned = 0;
  for (let r = 0; r < options.rounds; r++) {
    const t0 = process.hrtime.bigint();
    const res = fn(values);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(mb / s);
    findings = res.findings;
    scanned = res.scanned;
  }
  rates.sort((a, b) => a - b);
  const best = rates[rates.length - 1];
  const median = rates[Math.floor(rates.length / 2)];
  const what =
    scanned === null
      ? ''
      : `, ${findings.toLocaleString('en-US')} findings, scan() on ${scanned.toLocaleString('en-US')} values`;
  console.log(
    `${label.padEnd(34)} ${median.toFixed(0).padStart(6)} MB/s median (best ${best.toFixed(0)})${what}`,
  );
  return { mbPerSecond: Math.round(median), bestMbPerSecond: Math.round(best), findings, scanned };
}

// For scale: the cheapest possible pass over the same values (one charCodeAt loop, no masking).
const floor = measure('(0) baseline: one char loop', (vs) => {
  let digits = 0;
  for (const v of vs) {
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c >= 48 && c <= 57) digits++;
    }
  }
  return { findings: digits, scanned: null };
});
const all = measure('(a) scan() every value', (vs) => {
  let findings = 0;
  for (const v of vs) findings += scanner.scan(v).findings;
  return { findings, scanned: vs.length };
});
const prefiltered = measure('(b) mightContain() then scan()', (vs) => {
  let findings = 0;
  let scanned = 0;
  for (const v of vs) {
    if (!scanner.mightContain(v)) continue;
    scanned++;
    findings += scanner.scan(v).findings;
  }
  return { findings, scanned };
});
if (all.findings !== prefiltered.findings) {
  console.error(`MISMATCH: mightContain() hid findings (${all.findings} vs ${prefiltered.findings})`);
  process.exitCode = 1;
}
console.log(
  `\nJSON ${JSON.stringify({
    benchmark: 'masking',
    mb: Number(mb.toFixed(1)),
    values: values.length,
    detectors: BUILTIN_DETECTORS.length,
    baselineCharLoop: floor.mbPerSecond,
    scanAll: all,
    prefiltered,
  })}`,
);
