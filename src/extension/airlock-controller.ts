import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { loadConfig, type AirlockConfig } from '../config/config';
import { ApprovalQueue } from '../core/approvals/queue';
import type { Logger } from '../core/log';
import type { Recorder } from '../core/recording/recorder';
import { startDemoDatabase, type DemoDatabase } from '../demo/demo-database';
import {
  openRecorder,
  policyGateFor,
  startProxy,
  type LocalEndpoint,
  type RunningProxy,
} from '../proxy/airlock-proxy';
import type { PolicyGate } from '../core/gate/gate';
import { maskIndexFor } from '../core/masking/mask-index';
import { gateServices } from '../agents/gate-services';
import type { PolicySource } from '../core/policy/source';

/** Where the configuration came from: a file, or the embedded demo. */
export type ConfigOrigin = { kind: 'file'; file: string } | { kind: 'demo' };

const DEMO_PASSWORD_ENV = 'AIRLOCK_DEMO_UPSTREAM_PASSWORD';

/**
 * The engine inside the extension host: the configuration, the policy gate, the recorder and one proxy
 * per connected connection, sharing one approval queue (the panel's). Everything the UI shows is read
 * from here; `onDidChange` fires when connections, sessions or pending approvals change.
 */
export class AirlockController implements vscode.Disposable {
  readonly approvals: ApprovalQueue;
  readonly identity = { user: os.userInfo().username, groups: [] as string[] };
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  private config: AirlockConfig | null = null;
  private origin: ConfigOrigin | null = null;
  private engine: { gate: PolicyGate; source: PolicySource; recorder?: Recorder } | null = null;
  private readonly proxies = new Map<string, RunningProxy>();
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
      return fallback;
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

  private async loadedEngine(config: AirlockConfig) {
    if (this.engine) return this.engine;
    const { gate, source } = await policyGateFor(config, this.log, this.approvals);
    const recorder = config.recordings ? openRecorder(config.recordings, config, this.log) : undefined;
    this.engine = { gate, source, recorder };
    return this.engine;
  }

  /** Starts the local listener of a connection (all of them when `name` is omitted). */
  async connect(name?: string): Promise<LocalEndpoint[]> {
    const config = await this.loadedConfig();
    const wanted = config.connections.filter((c) => name === undefined || c.name === name);
    if (wanted.length === 0) throw new Error(`no connection named "${name}" in the configuration`);
    const engine = await this.loadedEngine(config);
    for (const c of wanted) {
      if (this.proxies.has(c.name)) continue;
      const proxy = await startProxy({ ...config, connections: [c] }, this.log, {
        gate: engine.gate,
        identity: this.identity,
        recorder: engine.recorder,
      });
      this.proxies.set(c.name, proxy);
      this.log.info(`[${c.name}] connected: ${proxy.endpoints[0].host}:${proxy.endpoints[0].port}`);
    }
    this.changed.fire();
    return this.endpoints();
  }

  async disconnect(name?: string): Promise<void> {
    for (const [n, proxy] of [...this.proxies]) {
      if (name !== undefined && n !== name) continue;
      this.proxies.delete(n);
      await proxy.close();
      this.log.info(`[${n}] disconnected`);
    }
    this.changed.fire();
  }

  endpoints(): LocalEndpoint[] {
    return [...this.proxies.values()].flatMap((p) => p.endpoints);
  }

  sessionCount(): number {
    return [...this.proxies.values()].reduce((n, p) => n + p.sessionCount(), 0);
  }

  /** Whether the policy in force masks a column (for the approval panel's facts). */
  isMasked(connection: string, relations: string[], column: string, statementRelations: string[]): boolean {
    const state = this.engine?.source.state();
    if (!this.engine || !state?.ok || !state.active.policy.masking) return false;
    const catalog = this.proxies.get(connection)?.connectionServices(connection)?.catalog;
    return maskIndexFor(state.active.policy.masking, catalog).isMasked(relations, column, statementRelations);
  }

  /** The gate (loading the configuration and engine if needed): the agent tools' policy services use it. */
  async gate(): Promise<PolicyGate> {
    return (await this.loadedEngine(await this.loadedConfig())).gate;
  }

  /** Explain and masked columns: the gate's own pipeline on the connection's catalog. */
  async policyServices() {
    const gate = await this.gate();
    return gateServices(
      gate,
      () => this.identity,
      (name) => this.proxies.get(name)?.connectionServices(name),
    );
  }

  /** The policy in force, for Open Policy. */
  async policy() {
    const config = await this.loadedConfig();
    const engine = await this.loadedEngine(config);
    return { state: engine.source.state(), spec: config.policy };
  }

  /** Forgets the loaded configuration and engine (after airlock.yaml changed); reconnects what was connected. */
  async reload(): Promise<void> {
    const connected = [...this.proxies.keys()];
    await this.disconnect();
    this.engine?.source.close();
    this.engine?.recorder?.close();
    this.engine = null;
    this.config = null;
    this.origin = null;
    for (const name of connected) await this.connect(name);
  }

  async dispose(): Promise<void> {
    clearInterval(this.poll);
    await this.disconnect();
    this.engine?.source.close();
    this.engine?.recorder?.close();
    await this.demo?.stop();
    this.changed.dispose();
  }
}
