// `node bench/compare.mjs [--ref REF]`: this build against another commit's, side by side in one run.
// Builds REF (default HEAD~1; give the commit before a change to measure the change) in a temporary git
// worktree, then runs pgbench with the extended protocol (what drivers use) against direct, pgbouncer, this
// Airlock and REF's Airlock, alternating in rounds: once with the read-only policy, once with the PII-masking
// policy and recordings on. Prints Airlock / baseline per configuration. The worktree is removed at the end.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pgbenchBenchmark, pgbenchDefaults } from './pgbench.mjs';
import { ROOT, note, parseOptions, runMain, times } from './lib.mjs';

await runMain(async () => {
  const options = parseOptions(process.argv.slice(2), {
    ...pgbenchDefaults,
    mode: 'extended',
    ref: 'HEAD~1',
  });
  const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  const commit = git('rev-parse', '--short', options.ref);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-base-'));
  const tree = path.join(dir, 'tree');
  try {
    note(`building the baseline ${options.ref} (${commit}) in ${tree}`);
    git('worktree', 'add', '--detach', tree, commit);
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: tree, stdio: 'inherit' });
    const baseline = path.join(tree, 'dist', 'cli.js');
    const figures = {};
    for (const [label, extra] of [
      ['read-only', { policy: 'read-only' }],
      ['pii-masking + recordings', { policy: 'examples/policies/pii-masking.yaml', recordings: 'on' }],
    ]) {
      note(`== pgbench -M ${options.mode}, ${label}: this build vs ${commit} ==`);
      const result = await pgbenchBenchmark({ ...options, ...extra, baseline });
      figures[label] = result.ratios.airlockVsBaseline;
    }
    console.log(`\n== this build / ${commit} (TPS medians, pgbench -S -M ${options.mode}) ==`);
    for (const [label, r] of Object.entries(figures)) console.log(`${label.padEnd(26)} ${times(r)}`);
  } finally {
    git('worktree', 'remove', '--force', tree);
    rmSync(dir, { recursive: true, force: true });
  }
});
