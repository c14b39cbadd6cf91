// pgbench -S (read-only point selects) directly, through pgbouncer (transaction pooling) and through Airlock,
// alternating in rounds so that drift on the shared cores hits every target alike.
// Usage: node bench/pgbench.mjs [--seconds 10] [--rounds 3] [--mode simple|extended|prepared]
//                               [--warmup 2] [--scale 10] [--profile DIR]
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { rm } from 'node:fs/promises';
import {
  airlockConfigFor,
  defer,
  directTarget,
  ensureBuilt,
  exec,
  fmt,
  times,
  libpqEnv,
  median,
  note,
  noteLoad,
  parseOptions,
  printTable,
  ratio,
  runMain,
  runPgbench,
  saveResult,
  scoped,
  startAirlock,
  startPgbouncer,
  startPgCluster,
} from './lib.mjs';
import { newestProfile, printTop } from './profile.mjs';

/** A preset by name, or a policy file (accepted unsigned: a benchmark, not a deployment). */
function policyConfig(policy = 'allow-all') {
  return /\.(ya?ml|json)$/.test(policy)
    ? { policy: path.resolve(policy), allowUnsignedPolicy: true }
    : { policy };
}

export const pgbenchDefaults = {
  seconds: 10,
  rounds: 3,
  mode: 'simple',
  warmup: 2,
  scale: 10,
  profile: '',
  /** The policy Airlock enforces: a preset (allow-all, read-only) or a policy file. */
  policy: 'allow-all',
  /**
   * `on`: Airlock records every session (batch sync) into a temporary folder; `both`: a second Airlock
   * that records runs beside the one that does not, and the ratio between them is printed.
   */
  recordings: 'off',
  /**
   * Another build's dist/cli.js (e.g. the previous commit's, see compare.mjs): run as a further target
   * `airlock@base` with the same config, and the ratio Airlock / that build is printed.
   */
  baseline: '',
};
const MODES = ['simple', 'extended', 'prepared'];

async function initPgbench(target, scale) {
  note(`pgbench -i -s ${scale}…`);
  await exec('pgbench', ['-i', '-q', '-s', String(scale)], {
    env: libpqEnv(target),
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** Starts the targets to compare; pgbouncer is left out where it cannot run the mode correctly. */
async function startTargets(cluster, options, airlockConfig, recordingConfig, baselineConfig) {
  const targets = [directTarget(cluster)];
  if (options.mode === 'prepared') {
    // pgbouncer 1.18 in transaction mode hands a client a different server connection per transaction, so
    // named prepared statements made by Parse are missing on the next one ("prepared statement does not exist").
    note(
      'pgbouncer skipped: -M prepared is broken by pgbouncer 1.18 transaction pooling (named statements do not survive the server hop)',
    );
  } else {
    targets.push(await startPgbouncer(cluster, { poolSize: 4 }));
  }
  targets.push(
    await startAirlock(airlockConfig, {
      upstreamPassword: cluster.password,
      profileDir: options.profile || undefined,
    }),
  );
  if (recordingConfig) {
    targets.push(
      await startAirlock(recordingConfig, { upstreamPassword: cluster.password, name: 'airlock+rec' }),
    );
  }
  if (baselineConfig) {
    targets.push(
      await startAirlock(baselineConfig, {
        upstreamPassword: cluster.password,
        cli: path.resolve(options.baseline),
        name: 'airlock@base',
      }),
    );
  }
  return targets;
}

/** Runs every target once per round, in the same order each round; prints each run as it finishes. */
async function runRounds(targets, options) {
  const runs = new Map(targets.map((t) => [t.name, []]));
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of targets) {
      const r = await runPgbench(target, {
        seconds: options.seconds,
        mode: options.mode,
        watchPid: target.pid,
      });
      runs.get(target.name).push(r);
      const cpu = target.pid
        ? `, proxy CPU ${fmt(r.proxyUserUsPerTx, 1)} user + ${fmt(r.proxySysUsPerTx, 1)} sys µs/tx`
        : '';
      console.log(
        `round ${round}  ${target.name.padEnd(9)}  ${fmt(r.tps, 0).padStart(6)} TPS  failed ${r.failed}${cpu}`,
      );
      for (const e of r.errors) console.log(`    ${e}`);
    }
  }
  return runs;
}

function summarise(runs, options) {
  const summary = {};
  const rows = [];
  for (const [name, list] of runs) {
    const tps = median(list.map((r) => r.tps));
    const failed = list.reduce((a, r) => a + r.failed, 0);
    const userUs = median(list.map((r) => r.proxyUserUsPerTx));
    const sysUs = median(list.map((r) => r.proxySysUsPerTx));
    summary[name] = {
      tpsMedian: tps,
      tps: list.map((r) => Math.round(r.tps)),
      failed,
      proxyUserUsPerTx: userUs,
      proxySysUsPerTx: sysUs,
    };
    const cpu = Number.isFinite(userUs) ? `${fmt(userUs, 1)} + ${fmt(sysUs, 1)}` : '-';
    rows.push([name, list.map((r) => fmt(r.tps)).join(' / '), fmt(tps), String(failed), cpu]);
  }
  console.log(
    `\npgbench -S -c 4 -j 2 -T ${options.seconds} -M ${options.mode}, ${options.rounds} round(s), Airlock policy ${options.policy ?? 'allow-all'}:\n`,
  );
  printTable(['target', 'TPS per run', 'median', 'failed', 'proxy CPU µs/tx (user + sys)'], rows);
  const airlock = summary.airlock?.tpsMedian;
  const ratios = {
    airlockVsDirect: ratio(airlock, summary.direct?.tpsMedian),
    airlockVsPgbouncer: ratio(airlock, summary.pgbouncer?.tpsMedian),
    pgbouncerVsDirect: ratio(summary.pgbouncer?.tpsMedian, summary.direct?.tpsMedian),
  };
  console.log('');
  console.log(`Airlock / direct    = ${times(ratios.airlockVsDirect)}`);
  console.log(`Airlock / pgbouncer = ${times(ratios.airlockVsPgbouncer)}   (target ≥ 0.75×)`);
  console.log(`pgbouncer / direct  = ${times(ratios.pgbouncerVsDirect)}`);
  if (summary['airlock@base']) {
    ratios.airlockVsBaseline = ratio(airlock, summary['airlock@base'].tpsMedian);
    console.log(
      `Airlock / baseline  = ${times(ratios.airlockVsBaseline)}   (the same config on the baseline build)`,
    );
  }
  if (summary['airlock+rec']) {
    ratios.recordingOnVsOff = ratio(summary['airlock+rec'].tpsMedian, airlock);
    console.log(`recording on / off  = ${times(ratios.recordingOnVsOff)}   (target ≥ 0.9×)`);
  }
  return { targets: summary, ratios };
}

/**
 * The whole benchmark. `airlockConfig(cluster)` lets another benchmark run the same comparison with a
 * different Airlock config (a policy, recordings, …); the default is allow-all.
 */
export async function pgbenchBenchmark(
  options,
  {
    airlockConfig = (cluster) =>
      airlockConfigFor(cluster, {
        ...policyConfig(options.policy),
        ...(options.recordings === 'on' ? recordingFolder() : {}),
      }),
  } = {},
) {
  if (!MODES.includes(options.mode)) throw new Error(`--mode must be one of ${MODES.join(', ')}`);
  if (!['on', 'off', 'both'].includes(options.recordings))
    throw new Error('--recordings must be on, off or both');
  await ensureBuilt();
  return scoped(() => measure(options, airlockConfig));
}

/** A recordings folder of the run's own, removed when the benchmark ends (also on error). */
const recordingFolder = () => {
  const recordings = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-rec-'));
  defer(() => rm(recordings, { recursive: true, force: true }));
  return { recordings };
};

async function measure(options, airlockConfig) {
  const cluster = await startPgCluster();
  await initPgbench(directTarget(cluster), options.scale);
  const recordingConfig =
    options.recordings === 'both'
      ? airlockConfigFor(cluster, { ...policyConfig(options.policy), ...recordingFolder() })
      : null;
  // The baseline build gets a config of its own (its own recordings folder, if any).
  const baselineConfig = options.baseline ? airlockConfig(cluster) : null;
  const targets = await startTargets(
    cluster,
    options,
    airlockConfig(cluster),
    recordingConfig,
    baselineConfig,
  );
  if (options.warmup > 0) {
    note(`warm-up: ${options.warmup} s per target (not counted)`);
    for (const t of targets) await runPgbench(t, { seconds: options.warmup, mode: options.mode });
  }
  const loadBefore = noteLoad('before the rounds');
  const runs = await runRounds(targets, options);
  const loadAfter = noteLoad('after the rounds');
  const result = {
    benchmark: 'pgbench',
    mode: options.mode,
    seconds: options.seconds,
    rounds: options.rounds,
    loadAverage: [loadBefore, loadAfter],
    ...summarise(runs, options),
  };
  if (options.profile) {
    await targets.find((t) => t.name === 'airlock').stop(); // the profile is written on exit
    const file = newestProfile(options.profile);
    if (file) printTop(file);
  }
  result.savedTo = await saveResult(`pgbench-${options.mode}`, result);
  console.log(
    `\nJSON ${JSON.stringify({ benchmark: 'pgbench', mode: options.mode, ...medianFigures(result) })}`,
  );
  return result;
}

const medianFigures = (result) => ({
  tps: Object.fromEntries(Object.entries(result.targets).map(([k, v]) => [k, Math.round(v.tpsMedian)])),
  failed: Object.fromEntries(Object.entries(result.targets).map(([k, v]) => [k, v.failed])),
  ratios: Object.fromEntries(
    Object.entries(result.ratios).map(([k, v]) => [k, Number.isFinite(v) ? Number(v.toFixed(3)) : null]),
  ),
});

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runMain(() => pgbenchBenchmark(parseOptions(process.argv.slice(2), pgbenchDefaults)));
}
