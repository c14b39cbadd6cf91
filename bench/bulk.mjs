// Bulk streaming: COPY a ~520 MB table to psql directly and through Airlock, alternating, and measure MB/s
// and the proxy's peak RSS (it must stream with backpressure, not buffer the result).
// Usage: node bench/bulk.mjs [--rounds 2] [--rows 1000000] [--method copy|select]
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import {
  airlockConfigFor,
  checkInterrupted,
  directTarget,
  ensureBuilt,
  fmt,
  times,
  libpqEnv,
  median,
  note,
  noteLoad,
  parseOptions,
  printTable,
  procStats,
  psql,
  ratio,
  runMain,
  saveResult,
  scoped,
  startAirlock,
  startPgCluster,
  track,
} from './lib.mjs';

export const bulkDefaults = { rounds: 2, rows: 1_000_000, method: 'copy' };

// 16 × md5 = 512 characters of text per row; with the id, tab and newline ≈ 520 bytes of output per row.
const ROW_SQL = 'SELECT g AS id, repeat(md5(g::text), 16) AS payload FROM generate_series(1, $ROWS) g';

/**
 * A table rather than generate_series at read time: a function scan of ~520 MB spills to a temp file on
 * every read, which would add server-side disk I/O to what should measure the wire path.
 */
async function createTable(target, rows) {
  note(`creating bulk table (${rows} rows)…`);
  await psql(target, `CREATE UNLOGGED TABLE bulk AS ${ROW_SQL.replace('$ROWS', String(rows))}`);
  await psql(target, 'VACUUM ANALYZE bulk');
  return Number(await psql(target, "SELECT pg_table_size('bulk')"));
}

/**
 * `copy`: COPY … TO STDOUT, one CopyData message per row, streamed by psql.
 * `select`: a plain SELECT, DataRow messages; psql buffers the whole result in memory before printing.
 */
const psqlArgs = (method) =>
  method === 'copy'
    ? ['-X', '-c', 'COPY bulk TO STDOUT']
    : ['-X', '-At', '-c', 'SELECT id, payload FROM bulk'];

/** One full read; counts psql's output bytes (same for every target, and a correctness check). */
function stream(target, method) {
  checkInterrupted();
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = track(
      spawn('psql', ['-v', 'ON_ERROR_STOP=1', ...psqlArgs(method)], {
        env: libpqEnv(target),
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk) => (bytes += chunk.length));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`psql via ${target.name} exited ${code}: ${stderr.trim()}`));
      else resolve({ bytes, seconds, mbPerSecond: bytes / 1e6 / seconds });
    });
  });
}

async function runRounds(targets, options, proxyPid) {
  const runs = new Map(targets.map((t) => [t.name, []]));
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of targets) {
      const r = await stream(target, options.method);
      runs.get(target.name).push(r);
      const rss = target.pid ? `, proxy RSS now ${fmt(procStats(proxyPid).rssMB, 0)} MB` : '';
      console.log(
        `round ${round}  ${target.name.padEnd(7)}  ${fmt(r.bytes / 1e6, 1)} MB in ${fmt(r.seconds, 2)} s = ${fmt(r.mbPerSecond, 1)} MB/s${rss}`,
      );
    }
  }
  return runs;
}

function summarise(runs, options, rss) {
  const summary = {};
  const rows = [];
  for (const [name, list] of runs) {
    const mbps = median(list.map((r) => r.mbPerSecond));
    summary[name] = {
      mbPerSecondMedian: mbps,
      mbPerSecond: list.map((r) => Number(r.mbPerSecond.toFixed(1))),
      bytes: list[0].bytes,
    };
    rows.push([
      name,
      list.map((r) => fmt(r.mbPerSecond, 1)).join(' / '),
      fmt(mbps, 1),
      String(list[0].bytes),
    ]);
  }
  const bytes = new Set([...runs.values()].flat().map((r) => r.bytes));
  console.log(`\nbulk ${options.method}, ${options.rounds} round(s):\n`);
  printTable(['target', 'MB/s per run', 'median', 'bytes'], rows);
  const throughputRatio = ratio(summary.airlock.mbPerSecondMedian, summary.direct.mbPerSecondMedian);
  console.log('');
  console.log(
    `raw bytes per read  = ${[...bytes].join(', ')}${bytes.size > 1 ? '  (MISMATCH between runs!)' : ''}`,
  );
  console.log(`Airlock / direct    = ${times(throughputRatio)}   (target ≥ 0.5×)`);
  console.log(
    `proxy peak RSS      = ${fmt(rss.peakRssMB, 1)} MB (VmHWM; ${fmt(rss.idleRssMB, 1)} MB before streaming)   (target < 150 MB)`,
  );
  return { targets: summary, bytesMatch: bytes.size === 1, throughputRatio, ...rss };
}

export async function bulkBenchmark(options, { airlockConfig = airlockConfigFor } = {}) {
  if (!['copy', 'select'].includes(options.method)) throw new Error('--method must be copy or select');
  await ensureBuilt();
  return scoped(() => measure(options, airlockConfig));
}

async function measure(options, airlockConfig) {
  const cluster = await startPgCluster();
  const direct = directTarget(cluster);
  const tableBytes = await createTable(direct, options.rows);
  // A fresh proxy process, so VmHWM is the peak of this benchmark alone.
  const airlock = await startAirlock(airlockConfig(cluster), { upstreamPassword: cluster.password });
  const idleRssMB = procStats(airlock.pid).rssMB;
  note(`table is ${fmt(tableBytes / 1e6, 0)} MB on disk; proxy RSS at start ${fmt(idleRssMB, 1)} MB`);
  const loadBefore = noteLoad('before the rounds');
  const runs = await runRounds([direct, airlock], options, airlock.pid);
  const loadAfter = noteLoad('after the rounds');
  const peakRssMB = procStats(airlock.pid).peakRssMB;
  const result = {
    benchmark: 'bulk',
    method: options.method,
    rows: options.rows,
    loadAverage: [loadBefore, loadAfter],
    ...summarise(runs, options, { peakRssMB, idleRssMB }),
  };
  result.savedTo = await saveResult(`bulk-${options.method}`, result);
  console.log(
    `\nJSON ${JSON.stringify({
      benchmark: 'bulk',
      method: options.method,
      bytes: result.targets.direct.bytes,
      mbPerSecond: {
        direct: round1(result.targets.direct.mbPerSecondMedian),
        airlock: round1(result.targets.airlock.mbPerSecondMedian),
      },
      ratio: Number(result.throughputRatio.toFixed(3)),
      proxyPeakRssMB: round1(peakRssMB),
    })}`,
  );
  return result;
}

const round1 = (x) => Number(x.toFixed(1));

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runMain(() => bulkBenchmark(parseOptions(process.argv.slice(2), bulkDefaults)));
}
