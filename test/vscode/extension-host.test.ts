import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { assertToolsInstalled, repoRoot, startCodeServer, type CodeServer } from './code-server';
import { runExtensionTests } from './run-extension-tests';
import { packageVsix } from './vsix';

// The extension under test: this repository, or another folder (the harness's own check uses a fixture).
const extensionDir = process.env.AIRLOCK_VSCODE_EXTENSION_DIR ?? repoRoot;
const extensionId = 'airlock-dev.airlock';

describe('Airlock in a real VS Code extension host (code-server)', function () {
  let server: CodeServer | undefined;

  before(async function () {
    assertToolsInstalled();
    const vsix = await packageVsix(extensionDir);
    server = await startCodeServer({
      vsix: [vsix],
      smokeTestDriver: true,
      keep: !!process.env.AIRLOCK_VSCODE_KEEP,
    });
  });

  after(async () => {
    await server?.stop();
    if (process.env.AIRLOCK_VSCODE_KEEP) console.log(`code-server dir kept: ${server?.dir}`);
  });

  it('passes the in-host tests (installed from the .vsix, activates, registers exactly its commands)', async () => {
    // The development path is the installed copy, so the host runs exactly what the .vsix holds.
    const code = await runExtensionTests({
      server: server!,
      extensionDevelopmentPath: server!.installedExtensionPath(extensionId),
      extensionTestsPath: path.join(repoRoot, 'out/test/vscode/in-host/index.js'),
      extensionEnvironment: { AIRLOCK_VSCODE_TEST: '1' },
    });
    assert.equal(code, 0, 'in-host tests failed (their mocha output is above, prefixed [browser])');
  });

  it('activated without errors in the extension host log', () => {
    const logs = server!.extensionHostLogs();
    assert.ok(logs.length > 0, `no extension host log under ${server!.userDataDir}/logs`);
    const text = logs.map((f) => readFileSync(f, 'utf8')).join('\n');
    assert.match(text, new RegExp(`ExtensionService#_doActivateExtension ${extensionId}`, 'i'));
    // Once the host is told to terminate, what other extensions log is shutdown noise (the built-in JSON
    // language server's "Channel has been closed" when the run ends right after it started, say): from
    // there on only Airlock's errors count — not a refresh of its view that the termination cancelled.
    const errors = logs.flatMap((f) => {
      const entries = readFileSync(f, 'utf8').split(/\n(?=\d{4}-\d\d-\d\d )/);
      const end = entries.findIndex((e) => /Extension host terminating/.test(e));
      return entries.filter(
        (e, i) =>
          /^\S+ \S+ \[error\]/.test(e) &&
          (end < 0 || i < end || (/airlock/i.test(e) && !/: Canceled$/.test(e.trim()))),
      );
    });
    assert.deepEqual(errors, [], 'errors in the extension host log');
  });
});
