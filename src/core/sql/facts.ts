import type { FunctionClass } from './function-catalog';

/**
 * What a statement does, by effect (not by keyword): `COPY t TO STDOUT` is a read, `EXPLAIN ANALYZE
 * DELETE` a write, `SELECT … FOR UPDATE` a write (it locks rows), `PREPARE p AS DELETE` a write.
 */
export const STATEMENT_KINDS = [
  'read',
  'write',
  'ddl',
  'dcl',
  'transaction',
  'session',
  'utility',
  'unknown',
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

/** Properties that policies and the gate care about beyond kind. */
export type StatementFlag =
  /** EXPLAIN ANALYZE: the inner statement really runs. */
  | 'explain-analyze'
  /** SELECT … INTO / CREATE TABLE AS: a read that creates a table. */
  | 'creates-table'
  /** SELECT … FOR UPDATE/SHARE. */
  | 'row-lock'
  /** A data-modifying statement inside WITH. */
  | 'writable-cte'
  /** COPY to/from a server file or program. */
  | 'server-file'
  | 'server-program'
  /** START TRANSACTION/SET TRANSACTION … READ WRITE, or any change of read-only not provably to on. */
  | 'read-write-transaction'
  /** SET/RESET ROLE, SESSION AUTHORIZATION, session_replication_role, search_path; set_config on them. */
  | 'security-setting'
  /** DO blocks and CALL: code the analysis cannot see into. */
  | 'opaque-code'
  /** EXECUTE of an SQL-level prepared statement: decided by what was prepared. */
  | 'executes-prepared'
  /** PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED. */
  | 'two-phase'
  /**
   * A change of a setting that decides how the server lexes SQL (standard_conforming_strings,
   * client_encoding, backslash_quote) to a value Airlock's parser does not lex with. Never a policy
   * matter: the gate denies it under any policy.
   */
  | 'lexical-setting';

export interface RelationAccess {
  schema?: string;
  name: string;
  access: 'read' | 'write';
}

export interface FunctionUse {
  schema?: string;
  name: string;
  classification: FunctionClass;
}

/**
 * How a statement uses a column's values — what the masking lineage decides on:
 * `output` a plain select-list column (its origin reaches the wire, where it is masked); `expression`
 * computed from (function, operator, cast, aggregate, whole row, set operation, subquery value);
 * `predicate` filtered, joined, grouped or ordered on; `write` written to a table or returned by a
 * write; `copy` copied out by COPY.
 */
export type ColumnUsage = 'output' | 'expression' | 'predicate' | 'write' | 'copy';

export interface ColumnUse {
  /** The relation the column belongs to, when the query makes it unambiguous. */
  relation?: string;
  /** The relations it may belong to (`*`: any the statement reads). */
  relations: string[];
  /** Column name, or `*` for every column (including whole-row references). */
  column: string;
  usage: ColumnUsage;
}

/**
 * `x.name` with x a FROM item, or `(value).name`: a column or field — or, in PostgreSQL's attribute
 * notation, the function `name(x)`. Which one only the database's catalog can tell (catalog.ts).
 */
export interface AttributeUse {
  name: string;
  /** Set when x is a FROM item: a call reads its whole row (a table's may have a column `name`). */
  row?: { relations: string[]; table: boolean; usage: ColumnUsage };
}

export interface StatementFacts {
  /** The statement's own text within the string the client sent. */
  text: string;
  /** The SQL command, e.g. SELECT, INSERT, COPY, EXPLAIN, SET. */
  command: string;
  kind: StatementKind;
  flags: StatementFlag[];
  relations: RelationAccess[];
  functions: FunctionUse[];
  columns: ColumnUse[];
  /** Names that may be function calls on what precedes them (resolved by catalog.ts). */
  attributes?: AttributeUse[];
  /** Types cast to by an unqualified name: a user type's cast runs user code (resolved by catalog.ts). */
  castTypes?: string[];
  /** Operators used without a schema (`=`, `||`, `===`): built-in unless the database defines its own. */
  operators: string[];
  /** Names: the setting a SET changes, the prepared statement PREPARE/EXECUTE names, the COPY target. */
  details: {
    setting?: string;
    prepared?: string;
    copy?: {
      direction: 'to' | 'from';
      target: 'stdin' | 'stdout' | 'file' | 'program';
      /** The options as written (lower-cased names; a bare option is `true`; null: a list or `*`). */
      options: Array<{ name: string; value: string | null }>;
    };
    explainAnalyze?: boolean;
    /** The table an INSERT/UPDATE/MERGE writes and the columns it sets (`*`: all of them). */
    writes?: { relation: string; columns: string[] };
    /** UPDATE or DELETE without WHERE, or TRUNCATE: every row of the written table. */
    everyRow?: true;
    /** The settings behind a `lexical-setting` flag. */
    lexical?: string[];
  };
  /** Why the analysis cannot vouch for this statement (non-empty → the gate denies). */
  problems: string[];
}

export type SqlAnalysis =
  /** numbersMatter: a numeric constant decided the facts, so only the exact text may share them. */
  | { ok: true; statements: StatementFacts[]; numbersMatter: boolean }
  | { ok: false; error: string; position?: number };

export function qualifiedName(r: { schema?: string; name: string }): string {
  return r.schema ? `${r.schema}.${r.name}` : r.name;
}
