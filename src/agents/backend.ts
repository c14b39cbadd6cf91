import { agentEndpoint, type LocalEndpoint } from '../proxy/listeners';
import type { AgentChannel } from '../core/identity/actor';
import type { MaskStyleName } from '../core/policy/document';

/**
 * What the agent tools (LM tools in VS Code, `airlock mcp`) need from a running Airlock. A tool never
 * reaches an upstream itself: it connects to Airlock's own local listener (`endpoint`), so the gate,
 * masking and recording apply to it exactly as to psql; `explain` and `maskedColumns` only describe
 * the policy in force, they run nothing.
 */
export interface AgentBackend {
  /** The configured connections, listening or not. */
  connections(): Promise<ConnectionSummary[]>;
  /** The local listener of a connection (started if needed), with the secret of this backend's channel. */
  endpoint(connection: string): Promise<LocalEndpoint>;
  /** The policy's decision on `sql` for `agent` on this backend's channel, without executing it. */
  explain(connection: string, sql: string, agent: string): Promise<PolicyExplanation>;
  /** The columns the policy masks on a connection (as far as its catalog is known). */
  maskedColumns(connection: string): Promise<MaskingSummary>;
}

export interface ConnectionSummary {
  name: string;
  kind: 'postgres';
  /** The database clients of the listener reach (known once it listens). */
  database?: string;
  listening: boolean;
}

export interface PolicyExplanation {
  /** The decision for the statement: policy rules and masking lineage together, as the gate takes it. */
  effect: 'allow' | 'deny' | 'review';
  /** What Airlock sees in the statement and which rule decides it, for a person or a model. */
  text: string;
  /**
   * `EXPLAIN <statement>` when the policy would allow it outright, so the plan may be fetched (through
   * the proxy, where the gate decides it again); absent otherwise.
   */
  planStatement?: string;
}

export interface MaskedColumn {
  /** `schema.table` */
  relation: string;
  column: string;
  mask: MaskStyleName;
}

export interface MaskingSummary {
  columns: MaskedColumn[];
  /** Other text values are scanned by content detectors (card numbers, e-mails, …) and masked. */
  contentDetectors: boolean;
}

/**
 * What a running Airlock offers: its listeners and the policy services. The VS Code extension and
 * `airlock proxy` implement it around their own engine; `localBackend` turns it into an AgentBackend
 * and the control channel serves it to `airlock mcp` processes.
 */
export interface AirlockServices {
  /** Names of the configured connections (default: the listening ones). */
  connections?(): string[] | Promise<string[]>;
  /** The listeners up now (with the agent adapters' secrets: these services are in-process only). */
  endpoints(): LocalEndpoint[] | Promise<LocalEndpoint[]>;
  /** Starts a configured connection's listener (when listeners start on demand). */
  connect?(connection: string): Promise<unknown>;
  /** `agent` null: the person at the keyboard asks (the extension's Explain Statement). */
  explain(
    connection: string,
    sql: string,
    agent: AgentClaim | null,
  ): PolicyExplanation | Promise<PolicyExplanation>;
  maskedColumns(connection: string): MaskingSummary | Promise<MaskingSummary>;
}

/** An agent as an adapter names it, and the channel it speaks on. */
export interface AgentClaim {
  name: string;
  channel: AgentChannel;
}

/**
 * An AgentBackend in the same process as the proxy (the extension's LM tools, the embedded `airlock
 * mcp`, the control channel serving `airlock mcp` processes), for one agent channel: its sessions
 * connect with that channel's secret, so the proxy knows the channel from the handshake.
 */
export function localBackend(services: AirlockServices, channel: AgentChannel): AgentBackend {
  const names = async () => {
    const listening = (await services.endpoints()).map((e) => e.name);
    const configured = services.connections ? await services.connections() : [];
    return [...new Set([...configured, ...listening])];
  };
  const find = async (name: string) => {
    const e = (await services.endpoints()).find((x) => x.name === name);
    return e && agentEndpoint(e, channel);
  };
  const known = async (name: string) => {
    const all = await names();
    if (!all.includes(name))
      throw new UnknownConnectionError(
        `no connection named "${name}"; the connections are: ${all.join(', ') || '(none)'}`,
      );
  };
  return {
    async connections() {
      const endpoints = await services.endpoints();
      return (await names()).map((name) => {
        const e = endpoints.find((x) => x.name === name);
        return { name, kind: 'postgres', database: e?.database, listening: !!e };
      });
    },
    async endpoint(name) {
      const up = await find(name);
      if (up) return up;
      await known(name);
      if (!services.connect) throw new Error(`connection "${name}" is not listening`);
      await services.connect(name);
      const started = await find(name);
      if (!started) throw new Error(`connection "${name}" did not start`);
      return started;
    },
    async explain(connection, sql, agent) {
      await known(connection);
      return services.explain(connection, sql, { name: agent, channel });
    },
    async maskedColumns(connection) {
      await known(connection);
      return services.maskedColumns(connection);
    },
  };
}

/** A tool named a connection the configuration does not have (the model can pick another). */
export class UnknownConnectionError extends Error {
  override name = 'UnknownConnectionError';
}
