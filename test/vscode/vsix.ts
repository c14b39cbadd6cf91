import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './code-server';

const vsce = path.join(repoRoot, 'node_modules/@vscode/vsce/vsce');

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((f) => newestMtime(path.join(p, f))));
}

/**
 * `<name>-<version>.vsix` of the extension in `dir` (what `npm run package` makes), packaged again only
 * when package.json, .vscodeignore, README, dist/ or media/ changed since. Expects dist/ to be built.
 */
export async function packageVsix(dir: string = repoRoot): Promise<string> {
  const { name, version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  const vsix = path.join(dir, `${name}-${version}.vsix`);
  const inputs = ['package.json', '.vscodeignore', 'README.md', 'LICENSE', 'dist', 'media'];
  if (newestMtime(vsix) > Math.max(...inputs.map((f) => newestMtime(path.join(dir, f))))) return vsix;
  // stdin closed: a vsce question ("continue? [y/N]") fails the run instead of hanging it.
  await promisify(execFile)(
    process.execPath,
    [vsce, 'package', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', vsix],
    { cwd: dir, maxBuffer: 16 << 20 },
  );
  return vsix;
}
