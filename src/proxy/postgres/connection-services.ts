import { randomBytes } from 'node:crypto';
import type { SqlEnvironment } from '../../core/gate/operation';
import { maskIndexFor } from '../../core/masking/mask-index';
import { buildResultMasking, type ResultMasking } from '../../core/masking/result-masking';
import type { MaskingPolicy } from '../../core/policy/document';
import { allowsWrites } from '../../core/policy/presets';
import type { PolicyState } from '../../core/policy/source';
import { CATALOG_QUERY, catalogFromRows, type CatalogFacts } from '../../core/sql/catalog';
import { PreparedStatements } from '../../core/sql/prepared-statements';
import { connectUpstream, queryUpstream, type UpstreamSession, type UpstreamTarget } from './upstream';

/**
 * What the Postgres adapter keeps per connection beside the gate's decisions: the database's catalog
 * (read by each new session), the result masking the policy asks for, whether the upstream session is
 * opened read-only, and what recordings cite. The gate decides operations; this follows the policy in
 * force for everything that is not a decision.
 */
export class PostgresConnectionServices {
  private catalogFacts: CatalogFacts | undefined;
  private masking: {
    policy: MaskingPolicy;
    catalog: CatalogFacts | undefined;
    masking: ResultMasking;
  } | null = null;

  constructor(
    readonly connection: string,
    private readonly upstream: UpstreamTarget,
    /** The policy in force; null when decisions come from a gate without one (tests' fault injection). */
    private readonly policy: (() => PolicyState) | null,
    /** Hash masks' key when the policy names none: the installation's (hash-key.ts), else this process's. */
    private readonly hashKey: Buffer = randomBytes(32),
  ) {}

  /**
   * Whether sessions read the catalog before relaying. Every new session reads it afresh (one small
   * query): a function created a moment ago by someone else must not pass for a built-in.
   */
  get catalogNeeded(): boolean {
    return this.policy !== null;
  }

  get catalog(): CatalogFacts | undefined {
    return this.catalogFacts;
  }

  /** Reads the catalog on a session's upstream connection, before it relays anything. */
  async loadCatalog(up: UpstreamSession): Promise<CatalogFacts> {
    const catalog = catalogFromRows(await queryUpstream(up, CATALOG_QUERY, this.upstream));
    this.catalogFacts = catalog;
    return catalog;
  }

  /** Reads the catalog now, on a connection of its own (for explain, which has no session). */
  async readCatalog(): Promise<CatalogFacts> {
    const up = await connectUpstream(this.upstream, new Map([['application_name', 'airlock catalog']]));
    try {
      return await this.loadCatalog(up);
    } finally {
      up.socket.destroy();
    }
  }

  /** What the SQL analysis of one session needs: the connection's catalog, the session's prepared statements. */
  sqlEnvironment(estimateRows?: (sql: string) => Promise<number | null>): SqlEnvironment {
    const current = () => this.catalogFacts;
    return {
      get catalog() {
        return current();
      },
      prepared: new PreparedStatements(),
      ...(estimateRows && { estimateRows }),
    };
  }

  /** Whether the upstream session itself should be read-only (defence in depth); so while no policy is in force. */
  readOnlyUpstream(): boolean {
    if (!this.policy) return false;
    const state = this.policy();
    return !state.ok || !allowsWrites(state.active.policy, this.connection);
  }

  /**
   * How results are masked, or null when the policy masks nothing. While no policy is in force, the last
   * one's masking stays (every new statement is denied anyway).
   */
  resultMasking(): ResultMasking | null {
    const state = this.policy?.();
    const policy = state?.ok ? state.active.policy.masking : this.masking?.policy;
    if (!policy) return null;
    const catalog = this.catalogFacts;
    if (this.masking?.policy === policy && this.masking.catalog === catalog) return this.masking.masking;
    const masking = buildResultMasking(policy, maskIndexFor(policy, catalog), this.connection, this.hashKey);
    this.masking = { policy, catalog, masking };
    return masking;
  }

  /** What recordings cite as the policy in force, and whether they may keep bind parameter values. */
  recordingPolicy(): { policy?: string; parameters: 'none' | 'all' } {
    const state = this.policy?.();
    if (!state?.ok) return { parameters: 'none' };
    return { policy: state.active.id, parameters: state.active.policy.recording?.parameters ?? 'none' };
  }
}
