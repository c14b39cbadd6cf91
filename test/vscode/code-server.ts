import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, stopClustersIn } from '../../src/demo/postgres-cluster';
import { realTmpDir } from '../helpers/test-run';

/** The repository root (this file runs from out/test/vscode/). */
export const repoRoot = path.resolve(__dirname, '../../..');
const tools = path.join(repoRoot, '.tools');
/** Node 24 from npm: code-server 4.139.1 refuses other majors (scripts/setup-vscode.sh installs both). */
export const node24 = path.join(tools, 'node24/node_modules/.bin/node');
const codeServerEntry = path.join(tools, 'code-server/node_modules/code-server/out/node/entry.js');

/** Throws the one actionable message when scripts/setup-vscode.sh has not been run on this machine. */
export function assertToolsInstalled(): void {
  const missing = [node24, codeServerEntry, '/usr/bin/chromium'].filter((f) => !existsSync(f));
  if (missing.length > 0)
    throw new Error(
      `VS Code test tools are missing (${missing.join(', ')}): run \`bash scripts/setup.sh\` ` +
        '(it runs scripts/setup-vscode.sh, which installs them into .tools/ and chromium from Debian)',
    );
}

export interface CodeServer {
  url: string;
  port: number;
  /** Temp root holding user data, extensions, XDG dirs, HOME and code-server's own log. */
  dir: string;
  userDataDir: string;
  extensionsDir: string;
  /** code-server's stdout+stderr. */
  serverLog: string;
  /** The remote extension host logs (`logs/<session>/exthost<N>/remoteexthost.log`): where activation errors land. */
  extensionHostLogs(): string[];
  /** The folder an installed extension was unpacked to (`<publisher>.<name>-<version>`). */
  installedExtensionPath(id: string): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** .vsix files installed before the server starts. */
  vsix?: string[];
  /** Folder opened by default (created empty in the temp dir when omitted). */
  workspace?: string;
  /** Lets a page pass a test `payload` (extensionTestsPath …); see run-extension-tests.ts. */
  smokeTestDriver?: boolean;
  /** User settings on top of the harness defaults below. */
  settings?: Record<string, unknown>;
  /** Keep the temp dir after stop and after the run (to read logs after a failure). */
  keep?: boolean;
}

/** Quiet, deterministic workbench; DOM terminal renderer so tests can read terminal text. */
const defaultSettings: Record<string, unknown> = {
  'terminal.integrated.gpuAcceleration': 'off',
  'terminal.integrated.enablePersistentSessions': false,
  // Sticky scroll lays a second xterm (the running command line) over the terminal, which would mix into
  // the text read; suggestions could take the Enter typed after a command.
  'terminal.integrated.stickyScroll.enabled': false,
  'terminal.integrated.suggest.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => path.join(dir, f));
}

export async function startCodeServer(opts: StartOptions = {}): Promise<CodeServer> {
  assertToolsInstalled();
  // A kept folder must outlive the test run's own temp folder.
  const dir = mkdtempSync(path.join(opts.keep ? realTmpDir : os.tmpdir(), 'airlock-code-server-'));
  // Traversable, so that the demo's PostgreSQL (run by the postgres OS user when we are root) lives in
  // our tmp/ below and goes with it, instead of in the system's /tmp.
  chmodSync(dir, 0o711);
  const userDataDir = path.join(dir, 'user');
  const extensionsDir = path.join(dir, 'ext');
  const workspace = opts.workspace ?? path.join(dir, 'workspace');
  const dirs = ['user/User', 'ext', 'home', 'tmp', 'xdg/config', 'xdg/data', 'xdg/cache', 'xdg/state'];
  for (const d of [...dirs.map((d) => path.join(dir, d)), workspace]) mkdirSync(d, { recursive: true });
  writeFileSync(
    path.join(userDataDir, 'User/settings.json'),
    JSON.stringify({ ...defaultSettings, ...opts.settings }, null, 2),
  );
  // Nothing may land in the real home folder: code-server keeps config, coder-logs and state under XDG dirs.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: path.join(dir, 'home'),
    TMPDIR: path.join(dir, 'tmp'), // VS Code's IPC and git sockets
    XDG_CONFIG_HOME: path.join(dir, 'xdg/config'),
    XDG_DATA_HOME: path.join(dir, 'xdg/data'),
    XDG_CACHE_HOME: path.join(dir, 'xdg/cache'),
    XDG_STATE_HOME: path.join(dir, 'xdg/state'),
  };
  // Variables of the outer mocha/npm run would leak into the extension host and its terminals.
  for (const k of Object.keys(env)) if (k.startsWith('npm_') || k === 'NODE_OPTIONS') delete env[k];
  const common = ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];

  for (const vsix of opts.vsix ?? [])
    await promisify(execFile)(node24, [codeServerEntry, ...common, '--install-extension', vsix], { env });

  const port = await freePort();
  const serverLog = path.join(dir, 'code-server.log');
  const fd = openSync(serverLog, 'a');
  const args = [
    codeServerEntry,
    ...common,
    '--config',
    path.join(dir, 'config.yaml'),
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    ...(opts.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    workspace,
  ];
  // detached = setsid: code-server forks a wrapper child, the extension host, file watcher and pty host;
  // the whole process group is killed on stop so nothing outlives the test (terminal shells have their
  // own sessions and get SIGHUP when the pty host goes).
  const child: ChildProcess = spawn(node24, args, { env, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const pgid = child.pid!;
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => ((exited = true), resolve())),
  );
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pgid, signal);
    } catch {
      /* already gone */
    }
  };
  const onProcessExit = () => killGroup('SIGKILL');
  process.once('exit', onProcessExit);

  const stop = async () => {
    process.off('exit', onProcessExit);
    killGroup('SIGTERM');
    const timer = setTimeout(() => killGroup('SIGKILL'), 5000);
    if (!exited) await exitedPromise;
    // The group's other members (extension host, shells) may outlive the leader briefly.
    await new Promise((r) => setTimeout(r, 200));
    killGroup('SIGKILL');
    clearTimeout(timer);
    // The demo's PostgreSQL, started in the extension host, leaves the process group (pg_ctl starts the
    // server in a session of its own) and outlives a killed host.
    await stopClustersIn(path.join(dir, 'tmp'));
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      const log = readFileSync(serverLog, 'utf8');
      await stop();
      throw new Error(`code-server exited during start:\n${log}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('code-server did not answer /healthz within 60 s');
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    url,
    port,
    dir,
    userDataDir,
    extensionsDir,
    serverLog,
    extensionHostLogs: () =>
      listFiles(path.join(userDataDir, 'logs')).filter((f) => /exthost\d*[/\\]remoteexthost\.log$/.test(f)),
    installedExtensionPath: (id) => {
      const found = readdirSync(extensionsDir).filter(
        (d) =>
          d.toLowerCase().startsWith(`${id.toLowerCase()}-`) &&
          statSync(path.join(extensionsDir, d)).isDirectory(),
      );
      if (found.length !== 1)
        throw new Error(`extension ${id} is not installed once in ${extensionsDir}: ${found}`);
      return path.join(extensionsDir, found[0]!);
    },
    stop,
  };
}
