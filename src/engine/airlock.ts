import type { AirlockConfig } from '../config/config';
import type { ApprovalBroker } from '../core/approvals/broker';
import { ApprovalQueue } from '../core/approvals/queue';
import { PolicyGate, type Gate } from '../core/gate/gate';
import type { Human } from '../core/identity/actor';
import { localIdentity, type IdentitySource } from '../core/identity/identity-source';
import type { Logger } from '../core/log';
import { PolicySource } from '../core/policy/source';
import { policySpec } from '../config/config';
import type { Recorder } from '../core/recording/recorder';
import type { AirlockServices } from '../agents/backend';
import { gateServices } from '../agents/gate-services';
import { ControlChannelInUseError, startControlChannel, type ControlChannel } from '../ipc/control-channel';
import { startListeners, type LocalEndpoint, type RunningProxy } from '../proxy/listeners';
import { maskingHashKey, policyGateFor } from './policy-gate';
import { maskIndexFor } from '../core/masking/mask-index';
import { openRecorder } from './recorder';
import { logPendingReviews } from './review-log';

export interface AirlockOptions {
  log: Logger;
  /** Who the human is; default: the OS user, unverified. */
  identity?: IdentitySource;
  /**
   * Where reviews go. Default: a queue of its own, whose pending reviews are logged with where to decide
   * them (a headless Airlock has no panel); null: statements that need review are denied.
   */
  approvals?: ApprovalBroker | null;
  /**
   * Replaces the decisions of the gate the config's policy makes (tests compose their own); masking and
   * the read-only upstream still follow the config's policy.
   */
  gate?: Gate;
}

/**
 * The composition root: one Airlock built from its configuration — the identity source, the policy
 * source and gate, the recorder, a listener per connection, the review broker and the local control
 * channel. `airlock proxy`, `airlock mcp` (embedded), `airlock demo` and the VS Code extension all run
 * this object; each host adds only what is its own (signals, stdio, VS Code's UI). Listeners start on
 * `connect`; the rest lives until `close`.
 */
export class Airlock {
  private readonly listeners = new Map<string, RunningProxy>();
  private channel: { configFile: string; channel: ControlChannel } | null = null;
  private readonly stopLoggingReviews: () => void;
  private readonly hashKey: Buffer | undefined;
  /** The agent tools' view of this Airlock: its listeners and the policy services. */
  readonly services: AirlockServices;

  private constructor(
    readonly config: AirlockConfig,
    readonly identity: IdentitySource,
    readonly approvals: ApprovalBroker | null,
    readonly gate: Gate,
    private readonly policySource: PolicySource | null,
    readonly recorder: Recorder | undefined,
    private readonly log: Logger,
    logReviews: boolean,
  ) {
    const policy =
      gate instanceof PolicyGate
        ? gateServices(
            gate,
            () => this.identity.current(),
            (name) => this.listeners.get(name)?.connectionServices(name),
          )
        : {
            // A composed gate has no policy to describe: say so rather than guess.
            explain: () => ({ effect: 'deny' as const, text: 'this Airlock runs a gate without a policy' }),
            maskedColumns: () => ({ columns: [], contentDetectors: false }),
          };
    this.services = {
      connections: () => config.connections.map((c) => c.name),
      endpoints: () => this.endpoints,
      connect: (name) => this.connect(name),
      ...policy,
    };
    this.hashKey = maskingHashKey(config);
    this.stopLoggingReviews =
      logReviews && approvals instanceof ApprovalQueue
        ? logPendingReviews(approvals, log, () => this.channel?.configFile ?? null)
        : () => {};
  }

  /** Builds the engine: the parser loaded, the policy source open, the recorder open (if configured). */
  static async start(config: AirlockConfig, options: AirlockOptions): Promise<Airlock> {
    const { log } = options;
    const identity = options.identity ?? localIdentity();
    const ownQueue = options.approvals === undefined;
    const approvals =
      options.approvals === undefined ? new ApprovalQueue(() => identity.current().user) : options.approvals;
    let gate = options.gate;
    let source: PolicySource | null = null;
    if (!gate) ({ gate, source } = await policyGateFor(config, log, approvals));
    // A composed gate replaces the decisions only: masking, the read-only upstream and what recordings
    // cite still follow the config's policy.
    else source = await PolicySource.open(policySpec(config), log);
    let recorder: Recorder | undefined;
    try {
      recorder = config.recordings ? openRecorder(config.recordings, config, log) : undefined;
    } catch (err) {
      source?.close();
      throw err;
    }
    return new Airlock(config, identity, approvals, gate, source, recorder, log, ownQueue);
  }

  /** The human clients act for now. */
  get human(): Human {
    return this.identity.current();
  }

  /** Starts the local listener of a connection (all of them when `name` is omitted); idempotent. */
  async connect(name?: string): Promise<LocalEndpoint[]> {
    const wanted = this.config.connections.filter((c) => name === undefined || c.name === name);
    if (wanted.length === 0) throw new Error(`no connection named "${name}" in the configuration`);
    for (const c of wanted) {
      if (this.listeners.has(c.name)) continue;
      const running = await startListeners([c], {
        gate: this.gate,
        policy: this.policySource && (() => (this.policySource as PolicySource).state()),
        hashKey: this.hashKey,
        identity: () => this.identity.current(),
        recorder: this.recorder,
        maxMessageBytes: this.config.maxMessageBytes,
        log: this.log,
      });
      this.listeners.set(c.name, running);
    }
    return this.endpoints;
  }

  /** Stops a connection's listener (all of them when `name` is omitted), closing its clients' sessions. */
  async disconnect(name?: string): Promise<void> {
    for (const [n, running] of [...this.listeners]) {
      if (name !== undefined && n !== name) continue;
      this.listeners.delete(n);
      await running.close();
      this.log.info(`[${n}] disconnected`);
    }
  }

  /** The listeners up now, in the order they started (with the agent adapters' secrets: in-process only). */
  get endpoints(): LocalEndpoint[] {
    return [...this.listeners.values()].flatMap((l) => l.endpoints);
  }

  /** Clients connected right now, over all listeners. */
  sessionCount(): number {
    return [...this.listeners.values()].reduce((n, l) => n + l.sessionCount(), 0);
  }

  /** The policy in force (what Explain and the approval panel's facts read). */
  policyState() {
    return this.policySource?.state() ?? null;
  }

  /** Whether the policy in force masks a column (for the approval panel's facts). */
  isMasked(connection: string, relations: string[], column: string, statementRelations: string[]): boolean {
    const state = this.policySource?.state();
    if (!state?.ok || !state.active.policy.masking) return false;
    const catalog = this.listeners.get(connection)?.connectionServices(connection)?.catalog;
    return maskIndexFor(state.active.policy.masking, catalog).isMasked(relations, column, statementRelations);
  }

  /**
   * Publishes the local control channel for the config file, through which `airlock mcp` uses this
   * Airlock and `airlock approvals` decides its reviews (unless `decisions` is false: then only a panel
   * of the host decides). A channel already published for the config (another Airlock serves it) or a
   * socket that cannot be made is not fatal: this Airlock runs, and its reviews can only time out.
   */
  async publishControlChannel(configFile: string, options: { decisions?: boolean } = {}): Promise<void> {
    if (this.channel) return;
    if (!(this.approvals instanceof ApprovalQueue))
      throw new Error('a control channel serves a review queue: this Airlock has none');
    try {
      const channel = await startControlChannel({
        configFile,
        ...this.services,
        approvals: this.approvals,
        decisions: options.decisions,
        log: this.log,
      });
      this.channel = { configFile, channel };
    } catch (err) {
      const message =
        err instanceof ControlChannelInUseError
          ? err.message
          : `control channel not published: ${(err as Error).message}`;
      // In a host with a panel of its own (VS Code), reviews are still decided there.
      this.log.warn(options.decisions === false ? message : `${message}; reviews here can only time out`);
    }
  }

  /** Stops everything: the channel, the listeners (their sessions end), the policy source, the recorder. */
  async close(): Promise<void> {
    this.stopLoggingReviews();
    await this.channel?.channel.close();
    this.channel = null;
    await this.disconnect();
    this.policySource?.close();
    this.recorder?.close();
  }
}
