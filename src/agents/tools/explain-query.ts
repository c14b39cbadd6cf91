import { agentSessions } from '../sessions';
import { errorText } from '../format';
import { connectionProperty, pickConnection, sqlProperty, type AgentTool } from './tool';

interface Input {
  connection?: string;
  sql: string;
}

export const explainQuery: AgentTool<Input> = {
  name: 'explain_query',
  title: 'Explain how Airlock decides SQL',
  description:
    "Explain, without running it, how Airlock's policy decides a SQL statement: what Airlock sees in it " +
    '(command, kind, tables, columns, functions), which rule decides (ALLOW, REVIEW: waits for a person, or ' +
    'DENY with the reason), whether it uses masked columns in a way that is refused, and, when the policy ' +
    "allows EXPLAIN of it, PostgreSQL's query plan. Use it before a statement you are unsure about.",
  inputSchema: {
    type: 'object',
    properties: { connection: connectionProperty, sql: sqlProperty },
    required: ['sql'],
    additionalProperties: false,
  },
  readOnly: true,
  describeCall: (input) => `Explaining on ${input.connection ?? 'the connection'}:\n${input.sql}`,
  async run(input, backend, agent, signal) {
    const connection = await pickConnection(backend, input.connection);
    const explanation = await backend.explain(connection, input.sql, agent);
    const parts = [`Airlock policy decision (nothing was run):\n${explanation.text}`];
    if (!explanation.planStatement) {
      parts.push('Query plan: not fetched (the policy does not allow EXPLAIN of this statement outright).');
    } else {
      // The plan comes through the proxy like any statement: decided, masked and recorded.
      const outcome = await agentSessions(backend).run(connection, agent, explanation.planStatement, {
        maxRows: 500,
        signal,
      });
      if (!outcome.ok) {
        parts.push(`Query plan: not available:\n${errorText(outcome.error)}`);
      } else {
        const plan = outcome.results.flatMap((r) => r.rows.map((row) => row[0] ?? ''));
        parts.push(`Query plan (EXPLAIN, through Airlock):\n${plan.join('\n')}`);
      }
    }
    return { text: parts.join('\n\n') };
  },
};
