import { readdirSync } from 'node:fs';
import path from 'node:path';
import Mocha from 'mocha';

/**
 * Test entry the extension host loads (extensionTestsPath): runs every *.test.js beside it with mocha and
 * rejects when one fails, which VS Code turns into exit code 1. Output goes to the host's console, which
 * the workbench forwards to the browser console (and run-extension-tests.ts to stdout), so no colours.
 */
export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', color: false, timeout: 60_000 });
  const files = readdirSync(__dirname).filter((f) => f.endsWith('.test.js'));
  for (const f of files.sort()) mocha.addFile(path.join(__dirname, f));
  await mocha.loadFilesAsync();
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) throw new Error(`${failures} in-host test(s) failed`);
}
