import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The layers, lowest first: each package lists the packages it may import. A package that is not here
 * fails the test until it is given its place. The rule the table encodes: a lower layer never imports a
 * higher one (core → nothing above it; proxy → not agents, ipc, engine, cli or extension), so a
 * package-level cycle cannot form.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  core: [],
  shared: ['core'],
  config: ['core'],
  // Sign-in at an OpenID provider: beside the proxy, never above it (it supplies the engine's human).
  identity: ['core', 'config'],
  proxy: ['core', 'config'],
  agents: ['core', 'config', 'proxy'],
  ipc: ['core', 'config', 'proxy', 'agents'],
  // The control plane's server and the workstation's client of it: policy and identity types from core.
  controlplane: ['core', 'config'],
  // The demo composes the shipped parts (its control plane is `airlock server` on the embedded store).
  demo: ['core', 'config', 'controlplane'],
  engine: ['core', 'config', 'identity', 'proxy', 'agents', 'ipc', 'controlplane'],
  cli: ['core', 'config', 'identity', 'proxy', 'agents', 'ipc', 'engine', 'demo', 'controlplane'],
  extension: [
    'core',
    'config',
    'identity',
    'proxy',
    'agents',
    'ipc',
    'engine',
    'demo',
    'shared',
    'controlplane',
  ],
  // Browser-side code of the panels: the typed protocol and pure helpers only.
  webview: ['core', 'shared'],
};

const repo = path.resolve(__dirname, '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Every module specifier the compiler finds in a file: imports, re-exports, require() and import(). */
function specifiers(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** `src/proxy/postgres/x.ts` → `proxy`; `webview/replay/main.ts` → `webview`. */
function packageOf(file: string): string | null {
  const rel = path.relative(repo, file).split(path.sep);
  if (rel[0] === 'webview') return 'webview';
  if (rel[0] === 'src' && rel.length > 2) return rel[1];
  return null;
}

interface Edge {
  from: string;
  to: string;
  file: string;
  specifier: string;
}

function edges(): { edges: Edge[]; vscodeImporters: string[]; unplaced: string[] } {
  const files = [...sources(path.join(repo, 'src')), ...sources(path.join(repo, 'webview'))];
  const found: Edge[] = [];
  const vscodeImporters: string[] = [];
  const unplaced = new Set<string>();
  for (const file of files) {
    const from = packageOf(file);
    if (!from) continue;
    if (!(from in MAY_IMPORT)) unplaced.add(from);
    for (const specifier of specifiers(file)) {
      if (specifier === 'vscode') vscodeImporters.push(path.relative(repo, file));
      if (!specifier.startsWith('.')) continue;
      const to = packageOf(path.resolve(path.dirname(file), specifier));
      if (to && to !== from) found.push({ from, to, file: path.relative(repo, file), specifier });
    }
  }
  return { edges: found, vscodeImporters, unplaced: [...unplaced] };
}

describe('layering: a lower layer never imports a higher one', () => {
  const graph = edges();

  it('every package under src/ has its place in the layers', () => {
    assert.deepEqual(graph.unplaced, [], 'add the package to MAY_IMPORT in test/unit/layering.test.ts');
  });

  it('each package imports only the packages below it', () => {
    const wrong = graph.edges
      .filter((e) => e.from in MAY_IMPORT && !MAY_IMPORT[e.from].includes(e.to))
      .map((e) => `${e.file}: ${e.from} → ${e.to} ('${e.specifier}')`);
    assert.deepEqual(wrong, []);
  });

  it('only src/extension imports vscode', () => {
    assert.deepEqual(
      graph.vscodeImporters.filter((f) => !f.startsWith(`src${path.sep}extension${path.sep}`)),
      [],
    );
  });

  it('there is no cycle between packages', () => {
    const next = new Map<string, Set<string>>();
    for (const e of graph.edges) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (p: string, trail: string[]) => {
      if (state.get(p) === 'done') return;
      if (state.get(p) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(p)), p].join(' → '));
        return;
      }
      state.set(p, 'open');
      for (const q of next.get(p) ?? []) visit(q, [...trail, p]);
      state.set(p, 'done');
    };
    for (const p of next.keys()) visit(p, []);
    assert.deepEqual(cycles, []);
  });

  it('the check sees the imports it judges (a wrong-way import would be caught)', () => {
    // Guards the test itself: if parsing found nothing, every assertion above would pass vacuously.
    assert.ok(graph.edges.some((e) => e.from === 'proxy' && e.to === 'core'));
    assert.ok(graph.edges.some((e) => e.from === 'extension' && e.to === 'engine'));
    assert.ok(graph.vscodeImporters.length > 0);
  });
});
