/**
 * Attribution: a tool's connection to Airlock's listener carries the agent in `application_name`, which
 * the proxy takes as the actor's agent (gate decisions, review requests, recordings). The name is only
 * a claim; what verifies the adapter is the channel secret its sessions authenticate with (see
 * core/identity/actor.ts and backend.ts's localBackend). PostgreSQL keeps
 * at most 63 bytes of printable ASCII of it, so the name is cut and cleaned the same way here: what
 * Airlock records is what the server shows in pg_stat_activity.
 */
const MAX_BYTES = 63;

export function applicationName(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_BYTES);
}

/** `mcp:<client name>/<client version>`, from the MCP initialize handshake. */
export function mcpAgentName(client: { name?: string; version?: string } | undefined): string {
  const name = client?.name?.trim() || 'unknown-client';
  const version = client?.version?.trim();
  return applicationName(`mcp:${name}${version ? `/${version}` : ''}`);
}

/** `copilot:<tool name>#<invocation id>` for a VS Code language-model tool call. */
export function lmToolAgentName(toolName: string, invocationId?: string): string {
  return applicationName(`copilot:${toolName}${invocationId ? `#${invocationId}` : ''}`);
}
