import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, Workbench } from './browser';
import type { CodeServer } from './code-server';

export interface ExtensionTestsOptions {
  /** Started with `smokeTestDriver: true`; without it VS Code ignores the payload and the run hangs. */
  server: CodeServer;
  /** Absolute folder of the extension under test (on the code-server machine). */
  extensionDevelopmentPath: string;
  /** Absolute path of the compiled test entry exporting `run()` (the standard mocha loader). */
  extensionTestsPath: string;
  /** Environment variables for the extension host. */
  extensionEnvironment?: Record<string, string>;
  /** Folder opened in the workbench. */
  folder?: string;
  timeoutMs?: number;
  /** Where to write the logs VS Code hands to codeAutomationExit (defaults to <server.dir>/automation-logs). */
  logsDir?: string;
}

/**
 * Runs extension tests inside the real extension host, like @vscode/test-electron's runTests, through the
 * smoke-test driver that VS Code's own browser integration tests use: the workbench reads the `payload`
 * query parameter (extensionDevelopmentPath, extensionTestsPath, extensionEnvironment), the host runs the
 * test entry, and the workbench calls window.codeAutomationExit(code, logs) when it finishes. These are
 * VS Code internals: code-server's version is pinned in scripts/setup-vscode.sh.
 * Resolves with the test runner's exit code (0 pass, 1 fail); the host's mocha output arrives on the
 * browser console, which is forwarded to stdout.
 */
export async function runExtensionTests(opts: ExtensionTestsOptions): Promise<number> {
  const remote = (p: string) => `vscode-remote://127.0.0.1:${opts.server.port}${p}`;
  const payload: [string, string][] = [
    ['extensionDevelopmentPath', remote(opts.extensionDevelopmentPath)],
    ['extensionTestsPath', remote(opts.extensionTestsPath)],
  ];
  if (opts.extensionEnvironment)
    payload.push(['extensionEnvironment', JSON.stringify(opts.extensionEnvironment)]);

  const browser = await launchBrowser();
  try {
    let resolveExit!: (code: number) => void;
    const exited = new Promise<number>((r) => (resolveExit = r));
    await Workbench.open(browser, opts.server.url, {
      folder: opts.folder,
      query: { payload: JSON.stringify(payload) },
      forwardConsole: true,
      beforeLoad: (page) =>
        page.exposeFunction(
          'codeAutomationExit',
          (code: number, logs?: { relativePath: string; contents: string }[]) => {
            const dir = opts.logsDir ?? path.join(opts.server.dir, 'automation-logs');
            for (const l of logs ?? []) {
              const file = path.join(dir, l.relativePath);
              mkdirSync(path.dirname(file), { recursive: true });
              writeFileSync(file, l.contents);
            }
            resolveExit(code);
          },
        ),
    });
    const timeoutMs = opts.timeoutMs ?? 180_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`extension tests did not finish within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await browser.close();
  }
}
