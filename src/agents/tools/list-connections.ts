import type { AgentTool } from './tool';

export const listConnections: AgentTool<Record<string, never>> = {
  name: 'list_connections',
  title: 'List Airlock connections',
  description:
    'List the PostgreSQL databases you can reach through Airlock. Airlock is an enforcement proxy: every ' +
    'statement you send with its tools is decided by the policy in force (some are denied, some wait for a ' +
    'person to approve them), columns with personal data come back masked, and everything is recorded. ' +
    'Use the connection names with describe_schema, run_query and explain_query.',
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  readOnly: true,
  describeCall: () => 'Listing Airlock connections',
  async run(_input, backend) {
    const all = await backend.connections();
    if (all.length === 0) return { text: 'Airlock has no connections configured.' };
    const lines = all.map(
      (c) =>
        `- ${c.name} (${c.kind}${c.database ? `, database ${c.database}` : ''}${c.listening ? '' : ', not started yet: it starts on first use'})`,
    );
    return { text: `Connections through Airlock:\n${lines.join('\n')}` };
  },
};
