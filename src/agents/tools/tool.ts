import type { AgentBackend } from '../backend';
import type { ToolOutput } from '../format';

/** A JSON Schema for a tool's input (an object with named properties). */
export interface ToolInputSchema {
  type: 'object';
  properties: Record<string, Record<string, unknown>>;
  required?: string[];
  additionalProperties: false;
}

/**
 * One agent tool, defined once and served by two adapters: `airlock mcp` (MCP tools) and the VS Code
 * extension (language-model tools; package.json's `languageModelTools` is generated from it). The input
 * schema is what clients are told and what input is validated against (ajv) before `run`.
 */
export interface AgentTool<Input = Record<string, unknown>> {
  /** snake_case; MCP clients show it under the server's name, VS Code as `airlock_<name>`. */
  name: string;
  title: string;
  /** Written for a model: what the tool does, what comes back, and how denials read. */
  description: string;
  inputSchema: ToolInputSchema;
  /** The tool only reads (MCP annotation; also: no confirmation needed in VS Code). */
  readOnly: boolean;
  /** A line for the person watching: what is about to run (VS Code's invocation message). */
  describeCall(input: Input): string;
  /** `agent`: the caller as application_name (`mcp:client/1.0`, `copilot:tool#id`). */
  run(input: Input, backend: AgentBackend, agent: string, signal?: AbortSignal): Promise<ToolOutput>;
}

/** The connection a tool call names, or the only one there is. */
export async function pickConnection(backend: AgentBackend, named: string | undefined): Promise<string> {
  if (named) return named;
  const all = await backend.connections();
  if (all.length === 1) return all[0].name;
  throw new ToolInputError(
    all.length === 0
      ? 'Airlock has no connections configured'
      : `name a connection: ${all.map((c) => c.name).join(', ')}`,
  );
}

/** A tool call that cannot run as given: reported to the model as an error result. */
export class ToolInputError extends Error {
  override name = 'ToolInputError';
}

/** The `connection` property every database tool takes. */
export const connectionProperty = {
  type: 'string',
  description:
    'The Airlock connection to use (from list_connections). May be omitted when there is only one.',
  minLength: 1,
};

/** The `sql` property. */
export const sqlProperty = {
  type: 'string',
  description:
    'The SQL text (PostgreSQL). Several statements separated by semicolons are decided as one request.',
  minLength: 1,
};
