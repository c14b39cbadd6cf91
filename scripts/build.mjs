// Bundles the CLI and the extension host entry with esbuild; `vscode` stays external.
import { build } from 'esbuild';
import { copyFileSync, cpSync, existsSync, mkdirSync } from 'node:fs';

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning' };
const entries = [
  // PGlite loads its WASM and data files from its own package folder at run time.
  {
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    external: ['@electric-sql/pglite', '@electric-sql/pglite-socket'],
  },
  {
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode', '@electric-sql/pglite', '@electric-sql/pglite-socket'],
  },
].filter((e) => existsSync(e.entryPoints[0]));
await Promise.all(entries.map((e) => build({ ...common, ...e })));
// The webviews (approval panel, session replay): browser bundles, each with its CSS and the codicon font.
if (existsSync('webview/approval/main.ts'))
  await build({
    entryPoints: { approval: 'webview/approval/main.ts', replay: 'webview/replay/main.ts' },
    outdir: 'dist/webview',
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: true,
    loader: { '.ttf': 'file' },
    assetNames: '[name]',
    logLevel: 'warning',
  });
// JSON Schemas for editing help, generated from the same objects runtime validation uses.
await build({
  ...common,
  sourcemap: false,
  entryPoints: ['scripts/write-schemas.ts'],
  outfile: 'out/write-schemas.js',
});
await import(new URL('../out/write-schemas.js', import.meta.url).href);
// The PostgreSQL parser's WASM is loaded from beside the bundle;
mkdirSync('dist', { recursive: true });
copyFileSync('node_modules/libpg-query/wasm/libpg-query.wasm', 'dist/libpg-query.wasm');
// The control plane's store migrations are read from beside the bundle.
cpSync('src/controlplane/server/migrations', 'dist/migrations', { recursive: true });
// sql.js (the recordings index) likewise.
copyFileSync('node_modules/sql.js/dist/sql-wasm.wasm', 'dist/sql-wasm.wasm');
