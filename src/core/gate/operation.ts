import type { Actor } from '../identity/actor';
import type { CatalogFacts } from '../sql/catalog';
import type { PreparedStatements } from '../sql/prepared-statements';

/**
 * What a client asked an upstream to do, as its protocol adapter understood it. Each kind has its own
 * analyzer and evaluator in the gate; shell commands and tool calls join as kinds of their own.
 */
export type Operation = SqlOperation;

export type SqlOperation =
  /** The text exactly as the server will run it (a Query, a Parse, an EXECUTE of a prepared name). */
  | { kind: 'sql'; text: string }
  /** A call of a server function by OID (PostgreSQL's fast-path interface): code with no text to read. */
  | { kind: 'sql'; functionOid: number };

/** What the SQL adapter knows of the session that the analysis depends on. */
export interface SqlEnvironment {
  /** The database's own functions, operators and columns as last read; undefined: not read (offline). */
  readonly catalog: CatalogFacts | undefined;
  /** The session's SQL-level prepared statements (none: nothing was prepared). */
  readonly prepared?: PreparedStatements;
  /** Plans a write without running it, for a reviewer: the rows it would touch. */
  estimateRows?(sql: string): Promise<number | null>;
}

/** Who asks, where, and what the adapter knows of the session. */
export interface DecisionContext {
  connection: string;
  sessionId: string;
  actor: Actor;
  /** For SQL operations; absent: decided as offline (no catalog, nothing prepared). */
  sql?: SqlEnvironment;
}
