import type { PolicyGate } from '../core/gate/gate';
import type { DecisionContext } from '../core/gate/operation';
import { maskIndexFor } from '../core/masking/mask-index';
import { scansContent } from '../core/masking/result-masking';
import type { Actor } from '../core/identity/actor';
import type { CatalogFacts } from '../core/sql/catalog';
import { analyzeSql } from '../core/sql/analyze';
import type { PostgresConnectionServices } from '../proxy/postgres/connection-services';
import type { AirlockServices, MaskingSummary } from './backend';

type Identity = { user: string; groups: string[] };

/**
 * The policy services of a running Airlock (explain a statement, list masked columns): the gate's own
 * explain — the decide pipeline with a trace — on the connection's catalog as its sessions read it, so
 * an agent told "allowed" is not then denied. The SQL parser must be loaded (it is once the gate exists).
 */
export function gateServices(
  gate: PolicyGate,
  /** The human the proxy acts for (a function when it can change, e.g. after sign-in). */
  identity: Identity | (() => Identity),
  /** The Postgres adapter's services of a listening connection (its catalog); undefined: not listening. */
  connectionServices: (connection: string) => PostgresConnectionServices | undefined,
): Pick<AirlockServices, 'explain' | 'maskedColumns'> {
  const human = () => (typeof identity === 'function' ? identity() : identity);
  return {
    async explain(connection, sql, agent) {
      const services = connectionServices(connection);
      const { catalog, note } = await currentCatalog(services);
      const actor: Actor = { ...human(), ...(agent && { agent: agent.name, channel: agent.channel }) };
      const context: DecisionContext = { connection, sessionId: 'explain', actor, sql: { catalog } };
      const explained = gate.explain(context, { kind: 'sql', text: sql });
      const text = [
        explained.text,
        note,
        '(Airlock decides again when the statement is sent; this explanation runs nothing.)',
      ].join('\n');
      const plan = explained.effect === 'allow' ? planStatement(gate, context, sql) : null;
      return { effect: explained.effect, text, ...(plan ? { planStatement: plan } : {}) };
    },
    maskedColumns(connection): MaskingSummary {
      const state = gate.policyState();
      const masking = state.ok ? state.active.policy.masking : undefined;
      if (!state.ok || !masking) return { columns: [], contentDetectors: false };
      const index = maskIndexFor(masking, connectionServices(connection)?.catalog);
      return { columns: [...index.maskedColumns()], contentDetectors: scansContent(masking, connection) };
    },
  };
}

/** The catalog as a new session would read it now; the last one read when the database cannot be reached. */
async function currentCatalog(
  services: PostgresConnectionServices | undefined,
): Promise<{ catalog: CatalogFacts | undefined; note: string }> {
  if (!services) return { catalog: undefined, note: 'catalog: not read (the connection is not listening)' };
  try {
    return { catalog: await services.readCatalog(), note: "catalog: the database's, read now" };
  } catch (err) {
    const note = `catalog: could not be read (${(err as Error).message})`;
    return {
      catalog: services.catalog,
      note: services.catalog ? `${note}; the last one read is used` : note,
    };
  }
}

/**
 * `EXPLAIN <sql>` when the gate would allow it outright: only then does the explain tool fetch a plan
 * (through the proxy, where the gate decides it again). A single statement only: EXPLAIN takes one.
 */
function planStatement(gate: PolicyGate, context: DecisionContext, sql: string): string | null {
  const analysis = analyzeSql(sql);
  if (!analysis.ok || analysis.statements.length !== 1) return null;
  const text = sql.trim().replace(/;+\s*$/, '');
  if (!text) return null;
  const explain = `EXPLAIN ${text}`;
  const explained = analyzeSql(explain);
  if (!explained.ok || explained.statements.length !== 1) return null;
  return gate.explain(context, { kind: 'sql', text: explain }).effect === 'allow' ? explain : null;
}
