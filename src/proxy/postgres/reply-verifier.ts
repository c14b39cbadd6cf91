import type { FactsSummary } from '../../core/gate/decision';
import { decodeCommandTag } from './protocol/decode';
import { Msg } from './protocol/messages';
import type { InFlightRequest } from './in-flight-queue';

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

/**
 * Checks one backend message against what `request` (the in-flight request it answers) decided;
 * returns why it contradicts the decisions, or null. Statements without analysis (a gate that does not
 * say what it decided) and fast-path calls are not checked.
 */
export function verifyReply(request: InFlightRequest, type: number, message: Buffer): string | null {
  switch (type) {
    case Msg.commandComplete:
      return completed(request, decodeCommandTag(message));
    case Msg.rowDescription:
    case Msg.dataRow:
    case Msg.copyInResponse:
    case Msg.copyOutResponse:
    case Msg.copyBothResponse: {
      // Caught before any row of a statement nobody decided reaches the client.
      const e = request.execution;
      const statements = e?.kind === 'query' ? e.decision.facts : undefined;
      return statements && e && e.completed >= statements.length
        ? `the server returned results beyond the ${statements.length} statement(s) decided`
        : null;
    }
    case Msg.readyForQuery:
      return requestDone(request);
    default:
      return null;
  }
}

function completed(request: InFlightRequest, tag: string): string | null {
  const e = request.execution;
  if (!e || e.kind === 'fastpath') return `the server completed "${tag}", which Airlock did not decide`;
  const statements = e.decision.facts;
  if (!statements) return null;
  // A Query completes its statements in order; an Execute its one (and then ends).
  const statement = statements[e.completed];
  if (!statement) return `the server completed "${tag}" beyond the ${statements.length} statement(s) decided`;
  e.completed++;
  return tagFits(statement, tag)
    ? null
    : `the server completed "${tag}" where Airlock decided ${statement.command} (${statement.kind})`;
}

/** A Query whose statements did not all complete, without an error, was split differently. */
function requestDone(request: InFlightRequest): string | null {
  if (request.failed) return null;
  for (let i = request.ended; i < request.executions.length; i++) {
    const e = request.executions[i];
    const decided = e.kind === 'query' ? (e.decision.facts?.length ?? 0) : 0;
    if (e.completed < decided)
      return `the server completed ${e.completed} of the ${decided} statement(s) decided`;
  }
  return null;
}
