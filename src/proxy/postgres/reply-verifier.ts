import type { FactsSummary } from '../../core/gate/decision';
import { Msg, decodeCommandTag } from './protocol/messages';

/**
 * Defence in depth against parser differentials nobody has found yet: the server's replies must agree
 * with what the analysis decided. Every allowed Query is expected to complete exactly its analysed
 * statements, in order, each with a command tag its command can produce; every Execute one statement.
 * A reply that does not fit (one CommandComplete too many, a DELETE tag for a SELECT) means the server
 * ran something Airlock did not decide: the caller ends the session and records an alarm.
 */

/**
 * The tags each command can produce, by the statement's command as the analysis names it; `same`: the
 * tag is the command itself (BEGIN, DO, VACUUM, …).
 */
const TAGS: Array<[RegExp, RegExp | 'same']> = [
  [/^(SELECT|VALUES|TABLE)\b/, /^SELECT \d+$/],
  [/^(CREATE TABLE AS|CREATE MATERIALIZED VIEW)$/, /^(SELECT \d+|CREATE TABLE AS|CREATE MATERIALIZED VIEW)$/],
  [/^INSERT$/, /^INSERT 0 \d+$/],
  [/^UPDATE$/, /^UPDATE \d+$/],
  [/^DELETE$/, /^DELETE \d+$/],
  [/^MERGE$/, /^MERGE \d+$/],
  [/^COPY\b/, /^COPY \d+$/],
  // A cursor portal run by Execute reports the tag of its query.
  [/^FETCH$/, /^(FETCH|SELECT) \d+$/],
  [/^MOVE$/, /^MOVE \d+$/],
  [/^EXPLAIN\b/, /^EXPLAIN$/],
  [/^(SET|RESET)$/, /^(SET|RESET)$/],
  // COMMIT of a failed transaction block reports ROLLBACK, as does PREPARE TRANSACTION of one.
  [/^COMMIT$/, /^(COMMIT|ROLLBACK)$/],
  [/^PREPARE TRANSACTION$/, /^(PREPARE TRANSACTION|ROLLBACK)$/],
  [/^(ROLLBACK|ROLLBACK TO SAVEPOINT)$/, /^ROLLBACK$/],
  [/^PREPARE\b/, /^PREPARE$/],
  [/^DEALLOCATE$/, /^DEALLOCATE( ALL)?$/],
  [/^DECLARE CURSOR\b/, /^DECLARE CURSOR$/],
  [/^CLOSE$/, /^CLOSE CURSOR( ALL)?$/],
  [/^DISCARD$/, /^DISCARD (ALL|PLANS|SEQUENCES|TEMP)$/],
  [/^TRUNCATE$/, /^TRUNCATE TABLE$/],
  [/^LOCK$/, /^LOCK TABLE$/],
  [
    /^(SHOW|SET CONSTRAINTS|BEGIN|START TRANSACTION|SAVEPOINT|RELEASE|COMMIT PREPARED|ROLLBACK PREPARED|LISTEN|UNLISTEN|NOTIFY|DO|CALL|VACUUM|ANALYZE|CLUSTER|REINDEX|CHECKPOINT|LOAD)$/,
    'same',
  ],
];

/** What DDL and DCL report: their verb and object, never a row count. */
const DEFINITION_TAG =
  /^(CREATE|ALTER|DROP|GRANT|REVOKE|COMMENT|SECURITY LABEL|IMPORT FOREIGN SCHEMA|REFRESH MATERIALIZED VIEW|REASSIGN OWNED|DROP OWNED)\b[A-Z ]*$/;

/** Whether a command tag is one the statement's command can produce. */
export function tagFits(statement: FactsSummary, tag: string): boolean {
  // EXECUTE runs what was prepared: the analysis names it "EXECUTE <command>".
  const command = statement.command.replace(/^EXECUTE /, '');
  for (const [commands, tags] of TAGS) {
    if (commands.test(command)) return tags === 'same' ? tag === command : tags.test(tag);
  }
  return (statement.kind === 'ddl' || statement.kind === 'dcl') && DEFINITION_TAG.test(tag);
}

interface Expected {
  /** The query cycle (Query, Sync, FunctionCall) whose ReadyForQuery ends it. */
  cycle: number;
  /** null: the gate did not say what it decided (a gate without analysis): nothing to check. */
  statements: FactsSummary[] | null;
  completed: number;
  /** An Execute completes one statement (or suspends); a Query all of its own. */
  execute: boolean;
}

export class ReplyVerifier {
  private expected: Expected[] = [];
  private cyclesSent = 0;
  /** Cycles whose ReadyForQuery has passed. */
  cyclesDone = 0;
  /** An error ended the current cycle's work: what it did not complete was skipped, not differed. */
  private failedCycle = 0;

  /** An allowed Query (all its statements) or Execute (the one it runs) went upstream. */
  sent(statements: FactsSummary[] | null, execute: boolean): void {
    this.expected.push({ cycle: this.cyclesSent + 1, statements, completed: 0, execute });
  }

  /** The cycle that the next message sent upstream belongs to. */
  get nextCycle(): number {
    return this.cyclesSent + 1;
  }

  /** The client sent Query, Sync or FunctionCall: a ReadyForQuery will answer it. */
  cycleSent(): void {
    this.cyclesSent++;
  }

  /** Checks one backend message; returns why it contradicts the decisions, or null. */
  backend(type: number, message: Buffer): string | null {
    switch (type) {
      case Msg.commandComplete:
        return this.completed(decodeCommandTag(message));
      case Msg.rowDescription:
      case Msg.dataRow:
      case Msg.copyInResponse:
      case Msg.copyOutResponse:
      case Msg.copyBothResponse: {
        // Caught before any row of a statement nobody decided reaches the client.
        const e = this.current();
        return e?.statements && !e.execute && e.completed >= e.statements.length
          ? `the server returned results beyond the ${e.statements.length} statement(s) decided`
          : null;
      }
      case Msg.emptyQueryResponse: {
        const e = this.current();
        if (e?.execute) this.expected.shift();
        return null;
      }
      case Msg.portalSuspended: {
        if (this.current()?.execute) this.expected.shift();
        return null;
      }
      case Msg.errorResponse: {
        this.failedCycle = this.cyclesDone + 1;
        if (this.current()?.execute) this.expected.shift();
        return null;
      }
      case Msg.readyForQuery:
        return this.cycleDone();
      default:
        return null;
    }
  }

  private current(): Expected | undefined {
    const e = this.expected[0];
    return e && e.cycle === this.cyclesDone + 1 ? e : undefined;
  }

  private completed(tag: string): string | null {
    const e = this.current();
    if (!e) return `the server completed "${tag}", which Airlock did not decide`;
    if (e.execute) this.expected.shift();
    if (!e.statements) return null;
    const statement = e.statements[e.completed];
    if (!statement)
      return `the server completed "${tag}" beyond the ${e.statements.length} statement(s) decided`;
    e.completed++;
    return tagFits(statement, tag)
      ? null
      : `the server completed "${tag}" where Airlock decided ${statement.command} (${statement.kind})`;
  }

  private cycleDone(): string | null {
    this.cyclesDone++;
    let problem: string | null = null;
    while (this.expected.length && this.expected[0].cycle <= this.cyclesDone) {
      const e = this.expected.shift() as Expected;
      // A Query whose statements did not all complete, without an error, was split differently.
      const decided = e.statements?.length ?? 0;
      if (!e.execute && e.completed < decided && this.failedCycle !== this.cyclesDone) {
        problem ??= `the server completed ${e.completed} of the ${decided} statement(s) decided`;
      }
    }
    return problem;
  }
}
