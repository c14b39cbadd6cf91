import { randomBytes } from 'node:crypto';
import { AGENT_CHANNELS, type AgentChannel } from '../../../core/identity/actor';

/**
 * The secrets one listener accepts: the ordinary client's (psql, terminals, any program: the agent
 * name such a client gives is a claim) and one per agent adapter, held only by that adapter (in the
 * process, or over the authenticated control channel), so a connection that proves it holds one comes
 * from that adapter: its channel is verified. None is ever put in a URL, a log, a recording or a
 * process argument.
 */
export type ListenerSecret = 'client' | AgentChannel;
export type ListenerSecrets = Record<ListenerSecret, string>;

export function newListenerSecrets(): ListenerSecrets {
  const secret = () => randomBytes(24).toString('base64url');
  const secrets = { client: secret() } as ListenerSecrets;
  for (const c of AGENT_CHANNELS) secrets[c] = secret();
  return secrets;
}

/** The agent channel a connection authenticated on (none for the ordinary client's secret). */
export const agentChannelOf = (secret: ListenerSecret | undefined): AgentChannel | undefined =>
  secret === 'client' ? undefined : secret;
