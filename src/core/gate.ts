/**
 * The gate: the single place every protocol adapter (Postgres wire, SSH, LM tools, MCP) hands each
 * operation to before it may reach an upstream. Analysis, policy, review and obligations hang off it.
 */

/** One operation a client asked for, as the wire adapter saw it. */
export type StatementRequest =
  | { protocol: 'simple'; sql: string }
  | { protocol: 'extended'; sql: string; statementName: string }
  | { protocol: 'fastpath'; functionOid: number };

export interface GateContext {
  connection: string;
  sessionId: string;
}

export type Decision = { effect: 'allow' } | { effect: 'deny'; rule: string; reason: string; hint: string };

export interface Gate {
  /** Synchronous where it can be (the hot path); a Promise when a decision must wait (e.g. for review). */
  decide(context: GateContext, request: StatementRequest): Decision | Promise<Decision>;
}

const ALLOW: Decision = { effect: 'allow' };

/** The `allow-all` policy: every statement passes. For development only. */
export const allowAllGate: Gate = {
  decide: () => ALLOW,
};
