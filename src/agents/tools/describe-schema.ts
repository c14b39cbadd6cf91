import { agentSessions } from '../sessions';
import { errorText } from '../format';
import { connectionProperty, pickConnection, type AgentTool } from './tool';

interface Input {
  connection?: string;
  schema?: string;
  table?: string;
}

const MAX_COLUMNS = 2000;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

export const describeSchema: AgentTool<Input> = {
  name: 'describe_schema',
  title: 'Describe database schema',
  description:
    'Describe the tables and views of a database reached through Airlock: each column with its type and ' +
    'nullability. Columns that the Airlock policy masks are marked "masked (<mask>)": their values come back ' +
    'masked (not the real data), and computing on, filtering by or sorting by them is usually denied. Narrow ' +
    'the listing with schema and table. System schemas (pg_catalog, information_schema) are left out.',
  inputSchema: {
    type: 'object',
    properties: {
      connection: connectionProperty,
      schema: { type: 'string', minLength: 1, description: 'Only this schema (e.g. "public").' },
      table: { type: 'string', minLength: 1, description: 'Only this table or view (name without schema).' },
    },
    additionalProperties: false,
  },
  readOnly: true,
  describeCall: (input) =>
    `Describing ${input.table ?? 'the schema'}${input.schema ? ` in ${input.schema}` : ''} on ${input.connection ?? 'the connection'}`,
  async run(input, backend, agent, signal) {
    const connection = await pickConnection(backend, input.connection);
    const filters = [
      "c.table_schema NOT IN ('pg_catalog', 'information_schema')",
      ...(input.schema ? [`c.table_schema = ${literal(input.schema)}`] : []),
      ...(input.table ? [`c.table_name = ${literal(input.table)}`] : []),
    ];
    // Through the proxy like any statement: the gate decides it and the recording shows it.
    const sql = `SELECT c.table_schema, c.table_name, t.table_type, c.column_name,
       CASE WHEN c.data_type IN ('USER-DEFINED', 'ARRAY') THEN c.udt_name ELSE c.data_type END, c.is_nullable
  FROM information_schema.columns c
  JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
 WHERE ${filters.join(' AND ')}
 ORDER BY c.table_schema, c.table_name, c.ordinal_position`;
    const outcome = await agentSessions(backend).run(connection, agent, sql, {
      maxRows: MAX_COLUMNS,
      signal,
    });
    if (!outcome.ok) return { text: errorText(outcome.error), isError: true };
    const result = outcome.results[0];
    if (!result || result.totalRows === 0) {
      return {
        text: `No tables or views found${input.schema ? ` in schema ${input.schema}` : ''}${input.table ? ` named ${input.table}` : ''} on ${connection}.`,
      };
    }
    const masking = await backend.maskedColumns(connection);
    const masks = new Map(masking.columns.map((m) => [`${m.relation}.${m.column}`, m.mask]));
    const lines: string[] = [];
    let current = '';
    let maskedCount = 0;
    for (const [schema, table, type, column, dataType, nullable] of result.rows) {
      const relation = `${schema}.${table}`;
      if (relation !== current) {
        current = relation;
        lines.push(
          `${lines.length ? '\n' : ''}${relation} (${type === 'VIEW' ? 'view' : type === 'BASE TABLE' ? 'table' : String(type).toLowerCase()})`,
        );
      }
      const mask = masks.get(`${relation}.${column}`);
      if (mask) maskedCount++;
      lines.push(
        `  ${column} ${dataType}${nullable === 'NO' ? ' not null' : ''}${mask ? ` — masked (${mask})` : ''}`,
      );
    }
    if (result.totalRows > result.rows.length)
      lines.push(
        `\n(${result.totalRows} columns; the first ${result.rows.length} shown: narrow with schema or table)`,
      );
    const notes: string[] = [];
    if (maskedCount)
      notes.push(
        'Masked columns come back masked by Airlock; select them plainly, never compute on, filter, join or sort by them (such statements are denied or need review).',
      );
    if (masking.contentDetectors)
      notes.push(
        'Other text values are scanned for personal data and secrets (card numbers, e-mail addresses, IBANs, keys, …) and those parts come back masked.',
      );
    return { text: [lines.join('\n'), ...notes].join('\n\n') };
  },
};
