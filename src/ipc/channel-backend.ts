import { ControlChannelClient, ControlChannelError } from './control-channel';
import type { AgentBackend } from '../agents/backend';

/**
 * An AgentBackend served by another Airlock process over its control channel: that Airlock's listeners
 * (so its gate, masking, recording and approval panel), its policy explanations and masked columns.
 * When the channel closes (that Airlock restarted), the next call connects again; when no Airlock
 * serves the config any more, calls fail with a message saying so.
 */
export function channelBackend(
  first: ControlChannelClient,
  reconnect: () => Promise<ControlChannelClient | null>,
): AgentBackend {
  let current: ControlChannelClient | null = first;
  let connecting: Promise<ControlChannelClient> | null = null;
  const client = async (): Promise<ControlChannelClient> => {
    if (current && !current.isClosed) return current;
    connecting ??= reconnect()
      .then((c) => {
        if (!c)
          throw new ControlChannelError(
            'closed',
            'the Airlock this server was using has stopped; start it again (VS Code or `airlock proxy`), or restart this MCP server to run Airlock embedded',
          );
        current = c;
        return c;
      })
      .finally(() => {
        connecting = null;
      });
    return connecting;
  };
  return {
    connections: async () => (await client()).connections(),
    endpoint: async (connection) => (await client()).endpoint(connection),
    explain: async (connection, sql, agent) => (await client()).explain(connection, sql, agent),
    maskedColumns: async (connection) => (await client()).maskedColumns(connection),
  };
}
