// Summarises a V8 .cpuprofile (from `node --cpu-prof`) as the functions with the most self time.
// Usage: node bench/profile.mjs FILE.cpuprofile [TOP]
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * [{ fn, where, ms, pct }] by self time, highest first; samples are weighted by their time deltas. The
 * profiler samples wall time: a native call such as writeBuffer (a socket write) also collects the time
 * the thread was descheduled inside the syscall, so compare with /proc CPU time before blaming it.
 */
export function topSelfTime(file, top = 15) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  // Several nodes share one function (different call paths): sum them by function and location.
  const byFunction = new Map();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    const where = url
      ? `${url
          .replace(/^file:\/\//, '')
          .split('/')
          .slice(-2)
          .join('/')}:${lineNumber + 1}`
      : '';
    const key = `${functionName || '(anonymous)'}\t${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  // Idle time is the event loop waiting: leave it out so percentages are shares of busy time.
  for (const key of byFunction.keys()) if (key.startsWith('(idle)\t')) byFunction.delete(key);
  const total = [...byFunction.values()].reduce((a, b) => a + b, 0) || 1;
  return [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, us]) => {
      const [fn, where] = key.split('\t');
      return { fn, where, ms: us / 1000, pct: (100 * us) / total };
    });
}

/** The newest .cpuprofile in a folder. */
export function newestProfile(dir) {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  return files.length ? path.join(dir, files[files.length - 1]) : null;
}

export function printTop(file, top = 15) {
  console.log(`self time, top ${top}, % of busy (non-idle) samples (${file}):`);
  for (const { fn, where, ms, pct } of topSelfTime(file, top)) {
    console.log(`  ${pct.toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(7)} ms  ${fn}  ${where}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (!process.argv[2]) {
    console.error('usage: node bench/profile.mjs FILE.cpuprofile [TOP]');
    process.exit(2);
  }
  printTop(process.argv[2], Number(process.argv[3] ?? 15));
}
