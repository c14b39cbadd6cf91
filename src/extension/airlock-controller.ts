import path from 'node:path';
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { loadConfig, type AirlockConfig } from '../config/config';
import { ApprovalQueue } from '../core/approvals/queue';
import type { Human } from '../core/identity/actor';
import { localIdentity } from '../core/identity/identity-source';
import type { Logger } from '../core/log';
import { startDemoDatabase, type DemoDatabase } from '../demo/demo-database';
import { Airlock } from '../engine/airlock';
import type { LocalEndpoint } from '../proxy/listeners';

/** Where the configuration came from: a file, or the embedded demo. */
export type ConfigOrigin = { kind: 'file'; file: string } | { kind: 'demo' };

const DEMO_PASSWORD_ENV = 'AIRLOCK_DEMO_UPSTREAM_PASSWORD';

/**
 * The extension's shell over the engine (engine/airlock.ts): it finds the configuration (the setting, the
 * workspace's airlock.yaml, or the demo database it starts), builds the engine on first use with the
 * panel's approval queue, publishes the control channel, rebuilds it when the configuration changes, and
 * turns the engine's state into VS Code events: `onDidChange` fires when connections, sessions or pending
 * approvals change.
 */
export class AirlockController implements vscode.Disposable {
  readonly approvals: ApprovalQueue;
  private readonly identitySource = localIdentity();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  private config: AirlockConfig | null = null;
  /** The recordings folder of the last configuration that loaded. */
  private lastRecordings: string | undefined;
  private origin: ConfigOrigin | null = null;
  private engine: Promise<Airlock> | null = null;
  /** The engine once built: what the UI reads without starting anything. */
  private running: Airlock | null = null;
  private demo: DemoDatabase | null = null;
  private readonly poll: NodeJS.Timeout;
  private lastSessionCount = 0;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: Logger,
  ) {
    this.approvals = new ApprovalQueue(() => this.identity.user);
    this.approvals.onChange(() => this.changed.fire());
    // Live connection counts have no event of their own: a cheap poll keeps the status bar true.
    this.poll = setInterval(() => {
      const n = this.sessionCount();
      if (n !== this.lastSessionCount) {
        this.lastSessionCount = n;
        this.changed.fire();
      }
    }, 1000);
  }

  /** The human clients act for. */
  get identity(): Human {
    return this.identitySource.current();
  }

  /** The workspace's airlock.yaml, or the file the `airlock.configFile` setting names. */
  configFile(): string | undefined {
    const setting = vscode.workspace.getConfiguration('airlock').get<string>('configFile')?.trim();
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (setting) return path.isAbsolute(setting) || !folder ? setting : path.join(folder, setting);
    for (const name of ['airlock.yaml', 'airlock.yml', 'airlock.json']) {
      const file = folder ? path.join(folder, name) : undefined;
      if (file && existsSync(file)) return file;
    }
    return undefined;
  }

  get configOrigin(): ConfigOrigin | null {
    return this.origin;
  }

  /** Where sessions are recorded: the configuration's folder, else the extension's storage. */
  recordingsFolder(): string {
    const fallback = path.join(this.context.globalStorageUri.fsPath, 'recordings');
    if (this.config) return this.config.recordings ?? fallback;
    const file = this.configFile();
    try {
      return (file && loadConfig(file).recordings) || fallback;
    } catch {
      // A configuration with a mistake keeps showing the recordings of the last one that loaded.
      return this.lastRecordings ?? fallback;
    }
  }

  /** The configured connections (loading the configuration if needed). */
  async connectionNames(): Promise<string[]> {
    return (await this.loadedConfig()).connections.map((c) => c.name);
  }

  private async loadedConfig(): Promise<AirlockConfig> {
    if (this.config) return this.config;
    const file = this.configFile();
    let config: AirlockConfig;
    if (file) {
      config = loadConfig(file);
      this.origin = { kind: 'file', file };
    } else {
      config = await this.demoConfig();
      this.origin = { kind: 'demo' };
    }
    // The sidebar replays what is recorded: the extension always records.
    config.recordings ??= path.join(this.context.globalStorageUri.fsPath, 'recordings');
    this.config = config;
    this.lastRecordings = config.recordings;
    return config;
  }

  /** No configuration in the workspace: the demo database (sample data) behind the demo policy. */
  private async demoConfig(): Promise<AirlockConfig> {
    this.log.info('no airlock.yaml in the workspace: starting the demo database');
    this.demo = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Airlock: starting the demo database…' },
      () => startDemoDatabase(this.log),
    );
    if (this.demo.password) process.env[DEMO_PASSWORD_ENV] = this.demo.password;
    return {
      connections: [
        {
          name: 'demo',
          kind: 'postgres',
          upstream: this.demo.upstream,
          passwordEnv: DEMO_PASSWORD_ENV,
          listen: '127.0.0.1:0',
        },
      ],
      policy: this.context.asAbsolutePath(path.join('examples', 'policies', 'demo.yaml')),
      allowUnsignedPolicy: true,
    };
  }

  /**
   * The engine of the loaded configuration, built on first use. Its control channel is published when the
   * configuration is a file (the demo has none for `airlock mcp` to name); reviews are decided only in the
   * panel, so the channel may watch them but not decide.
   */
  airlock(): Promise<Airlock> {
    if (this.engine) return this.engine;
    const starting = (async () => {
      const config = await this.loadedConfig();
      const engine = await Airlock.start(config, {
        log: this.log,
        identity: this.identitySource,
        approvals: this.approvals,
      });
      if (this.origin?.kind === 'file')
        await engine.publishControlChannel(this.origin.file, { decisions: false });
      this.running = engine;
      return engine;
    })();
    this.engine = starting;
    // A failed start (a bad policy file) is retried on next use, not remembered.
    starting.catch(() => {
      if (this.engine === starting) this.engine = null;
    });
    return starting;
  }

  /** Starts the local listener of a connection (all of them when `name` is omitted). */
  async connect(name?: string): Promise<LocalEndpoint[]> {
    const engine = await this.airlock();
    const before = new Set(engine.endpoints.map((e) => e.name));
    const endpoints = await engine.connect(name);
    for (const e of endpoints)
      if (!before.has(e.name)) this.log.info(`[${e.name}] connected: ${e.host}:${e.port}`);
    this.changed.fire();
    return endpoints;
  }

  async disconnect(name?: string): Promise<void> {
    await this.running?.disconnect(name);
    this.changed.fire();
  }

  endpoints(): LocalEndpoint[] {
    return this.running?.endpoints ?? [];
  }

  sessionCount(): number {
    return this.running?.sessionCount() ?? 0;
  }

  /** Whether the policy in force masks a column (for the approval panel's facts). */
  isMasked(connection: string, relations: string[], column: string, statementRelations: string[]): boolean {
    return this.running?.isMasked(connection, relations, column, statementRelations) ?? false;
  }

  /** Explain and masked columns: the engine's policy services (the gate's own pipeline). */
  async policyServices() {
    return (await this.airlock()).services;
  }

  /** The policy in force, for Open Policy. */
  async policy() {
    const engine = await this.airlock();
    const state = engine.policyState();
    if (!state) throw new Error('this Airlock runs a gate without a policy');
    return { state, spec: engine.config.policy };
  }

  /** Forgets the loaded configuration and engine (after airlock.yaml changed); reconnects what was connected. */
  async reload(): Promise<void> {
    const connected = this.endpoints().map((e) => e.name);
    const had = this.engine !== null;
    await this.stopEngine();
    this.config = null;
    this.origin = null;
    // Agents' MCP servers find the control channel again (they reconnect to it) and the listeners.
    if (had && this.configFile()) await this.airlock();
    for (const name of connected) await this.connect(name);
    this.changed.fire();
  }

  private async stopEngine(): Promise<void> {
    const engine = await this.engine?.catch(() => null);
    this.engine = null;
    this.running = null;
    await engine?.close();
  }

  async dispose(): Promise<void> {
    clearInterval(this.poll);
    await this.stopEngine();
    await this.demo?.stop();
    this.changed.dispose();
  }
}
