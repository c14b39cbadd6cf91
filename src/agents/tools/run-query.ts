import { agentSessions } from '../sessions';
import { outcomeText } from '../format';
import { connectionProperty, pickConnection, sqlProperty, type AgentTool } from './tool';

interface Input {
  connection?: string;
  sql: string;
  maxRows?: number;
}

const DEFAULT_ROWS = 100;

export const runQuery: AgentTool<Input> = {
  name: 'run_query',
  title: 'Run SQL through Airlock',
  description:
    'Run SQL on a PostgreSQL database through Airlock and get the result as a table (at most maxRows rows, ' +
    'default 100, with the total row count). Airlock decides every statement by its policy before it reaches ' +
    'the database. A statement the policy refuses comes back as an error starting "airlock: denied", with the ' +
    'reason and what to do instead: do not try to work around a denial (rewording it, splitting it, using ' +
    'another tool); change the request as the reason says or ask the user. Some statements (writes, for ' +
    'example) wait until a person approves them, which can take minutes. Columns with personal data come ' +
    'back masked (e.g. "***@example.com" or "[REDACTED]"): they are not the real values, so do not filter, ' +
    'join or compute on them. Your session persists between calls (SET, transactions); everything is recorded.',
  inputSchema: {
    type: 'object',
    properties: {
      connection: connectionProperty,
      sql: sqlProperty,
      maxRows: {
        type: 'integer',
        minimum: 1,
        maximum: 1000,
        description: `Most rows to return per result (default ${DEFAULT_ROWS}); the rest are counted, not shown.`,
      },
    },
    required: ['sql'],
    additionalProperties: false,
  },
  readOnly: false,
  describeCall: (input) =>
    `Running on ${input.connection ?? 'the connection'} through Airlock:\n${input.sql}`,
  async run(input, backend, agent, signal) {
    const connection = await pickConnection(backend, input.connection);
    const maxRows = input.maxRows ?? DEFAULT_ROWS;
    const outcome = await agentSessions(backend).run(connection, agent, input.sql, { maxRows, signal });
    return outcomeText(outcome, maxRows);
  },
};
