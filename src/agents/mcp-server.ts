import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../core/log';
import { mcpAgentName } from './agent-name';
import type { AgentBackend } from './backend';
import { AGENT_TOOLS, agentTool, callAgentTool, InvalidToolInput } from './tools';

const INSTRUCTIONS =
  'Airlock is an enforcement proxy in front of PostgreSQL databases. Every statement sent with these tools ' +
  'is decided by the policy in force: denials come back as errors starting "airlock: denied" with the reason ' +
  'and what to do (never try to work around them), some statements wait for a person to approve them, ' +
  'personal data comes back masked, and everything is recorded under your client name.';

/** How often a long call (one waiting for review, a slow query) tells a client that asked for progress. */
const PROGRESS_EVERY_MS = 10_000;

/**
 * The MCP server over the agent tools. It serves the tools' JSON Schemas verbatim and validates calls
 * with the same schemas (ajv), so the one definition in src/agents/tools is the only source: no zod
 * copies (which McpServer.registerTool would need). Hence the low-level request handlers on McpServer's
 * underlying Server. Malformed arguments get JSON-RPC Invalid params naming the problem; the agent is
 * the MCP client's name and version from the initialize handshake.
 */
export function createMcpServer(backend: AgentBackend, log: Logger, version: string): McpServer {
  const mcp = new McpServer(
    { name: 'airlock', title: 'Airlock', version },
    { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS },
  );
  const server = mcp.server;
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: AGENT_TOOLS.map((t) => ({
      name: t.name,
      title: t.title,
      description: t.description,
      inputSchema: t.inputSchema,
      annotations: {
        title: t.title,
        readOnlyHint: t.readOnly,
        destructiveHint: !t.readOnly,
        idempotentHint: t.readOnly,
        openWorldHint: false,
      },
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const tool = agentTool(request.params.name);
    if (!tool) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `unknown tool "${request.params.name}"; the tools are ${AGENT_TOOLS.map((t) => t.name).join(', ')}`,
      );
    }
    const agent = mcpAgentName(server.getClientVersion());
    const token = request.params._meta?.progressToken;
    let progress = 0;
    const ticker =
      token === undefined
        ? undefined
        : setInterval(() => {
            progress++;
            void extra
              .sendNotification({
                method: 'notifications/progress',
                params: {
                  progressToken: token,
                  progress,
                  message: 'still running in Airlock (a statement may be waiting for a person to approve it)',
                },
              })
              .catch(() => undefined);
          }, PROGRESS_EVERY_MS);
    try {
      const out = await callAgentTool(tool, request.params.arguments, backend, agent, extra.signal);
      if (out.isError) log.info(`[mcp] ${tool.name} for ${agent}: ${out.text.split('\n')[0]}`);
      return { content: [{ type: 'text', text: out.text }], ...(out.isError ? { isError: true } : {}) };
    } catch (err) {
      if (err instanceof InvalidToolInput) throw new McpError(ErrorCode.InvalidParams, err.message);
      throw err;
    } finally {
      clearInterval(ticker);
    }
  });
  return mcp;
}
