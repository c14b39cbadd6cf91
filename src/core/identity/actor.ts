import { printable } from '../text/printable';

/**
 * Who is asking. The human is the identity Airlock runs as. The agent is a name the client gives
 * (application_name): anyone can give any name, so it is only a claim — unless the connection
 * authenticated with the secret of one of Airlock's own agent adapters, which the listener holds one
 * of per channel (see proxy/postgres/auth/scram.ts). Then the channel is verified: `lm-tool` names are
 * made by Airlock's code in the extension host, so the whole name is Airlock's; an `mcp` name carries
 * the MCP client's self-reported name, which stays a claim within the verified channel.
 */
export type AgentChannel = 'mcp' | 'lm-tool';
export const AGENT_CHANNELS: readonly AgentChannel[] = ['mcp', 'lm-tool'];

/**
 * How Airlock knows who the human is: `local` — the OS account Airlock runs as, which nobody vouched
 * for (any process of that account can claim it); `verified` — an identity provider's signed token
 * (sign-in, next). Absent on records written before it existed, which were all local.
 */
export type IdentityAssurance = 'local' | 'verified';

/** The person on whose behalf a client acts, as an identity source establishes it. */
export interface Human {
  user: string;
  groups: string[];
  /** Absent: `local`, so a record that lacks it never reads as verified. */
  established?: IdentityAssurance;
}

export interface Actor extends Human {
  /** The agent's name as the client gave it: a claim unless `channel` vouches for it. */
  agent?: string;
  /** The agent adapter whose secret authenticated the connection; absent: an ordinary client. */
  channel?: AgentChannel;
}

/** The part of the agent's name Airlock vouches for; undefined when all of it is claimed. */
export function verifiedAgentName(actor: Pick<Actor, 'agent' | 'channel'>): string | undefined {
  if (actor.channel === 'lm-tool') return actor.agent ?? 'copilot:';
  // The MCP adapter names its agents `mcp:<client>/<version>`; only the prefix is Airlock's.
  if (actor.channel === 'mcp') return 'mcp:';
  return undefined;
}

/**
 * The name a policy rule's `agents:` globs are matched against. A deny rule matches the name as
 * claimed (claiming a name can only get a client denied); an allow or review rule matches only what is
 * verified, so no client can claim its way into a rule written for an agent adapter: `mcp:*` matches
 * every connection of the MCP channel, `copilot:*` every LM tool's, and a claimed name matches neither.
 */
export function agentNameForRule(
  actor: Pick<Actor, 'agent' | 'channel'>,
  covering: boolean,
): string | undefined {
  return covering ? verifiedAgentName(actor) : actor.agent;
}

/** How far a person may trust the agent's name, in words. */
export function attribution(actor: Pick<Actor, 'channel'>): string {
  switch (actor.channel) {
    case 'lm-tool':
      return 'verified: VS Code language-model tool';
    case 'mcp':
      return 'verified: MCP channel; client name claimed';
    default:
      return 'claimed';
  }
}

/** How far a person may trust the human's name, in words. */
export function humanAttribution(human: Pick<Human, 'established'>): string {
  return human.established === 'verified' ? 'verified: signed in' : 'unverified: local OS user';
}

/** "mcp:evil (claimed)": the agent for a person, neutralised, with its attribution. */
export function agentLabel(actor: Pick<Actor, 'agent' | 'channel'>): string | undefined {
  if (actor.agent === undefined && actor.channel === undefined) return undefined;
  return `${printable(actor.agent ?? '(no name)')} (${attribution(actor)})`;
}

/** "alice via mcp:evil (claimed)" / "alice". */
export function actorLabel(actor: Pick<Actor, 'user' | 'agent' | 'channel'>): string {
  const agent = agentLabel(actor);
  return agent ? `${printable(actor.user)} via ${agent}` : printable(actor.user);
}
