import type { ErrorObject } from 'ajv';
import { validatorFor } from '../../core/validate';
import type { AgentBackend } from '../backend';
import type { ToolOutput } from '../format';
import { UnknownConnectionError } from '../backend';
import { describeSchema } from './describe-schema';
import { explainQuery } from './explain-query';
import { listConnections } from './list-connections';
import { runQuery } from './run-query';
import { ToolInputError, type AgentTool } from './tool';

export type { AgentTool, ToolInputSchema } from './tool';

/** Every agent tool, in the order clients list them. */
export const AGENT_TOOLS: readonly AgentTool[] = [
  listConnections,
  describeSchema,
  runQuery,
  explainQuery,
] as unknown as AgentTool[];

export function agentTool(name: string): AgentTool | undefined {
  return AGENT_TOOLS.find((t) => t.name === name);
}

function describeError(e: ErrorObject): string {
  const at = e.instancePath ? `"${e.instancePath.slice(1).replace(/\//g, '.')}"` : 'the arguments';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown argument "${String(p.additionalProperty)}"`;
    case 'required':
      return `missing required argument "${String(p.missingProperty)}"`;
    default:
      return `${at} ${e.message ?? 'is invalid'}`;
  }
}

/** The problems with a tool call's arguments against the tool's input schema (empty: valid). */
export function inputProblems(tool: AgentTool, input: unknown): string[] {
  const validate = validatorFor(tool.inputSchema);
  if (validate(input)) return [];
  return (validate.errors ?? []).map(describeError);
}

/** A tool call whose arguments do not match the schema: MCP answers it with Invalid params. */
export class InvalidToolInput extends Error {
  override name = 'InvalidToolInput';
  constructor(
    readonly tool: string,
    readonly problems: string[],
  ) {
    super(`invalid arguments for tool ${tool}: ${problems.join('; ')}`);
  }
}

/**
 * Validates and runs a tool call. Invalid arguments throw InvalidToolInput; anything the tool cannot do
 * (an unknown connection, the proxy unreachable) comes back as an error result the model can read.
 */
export async function callAgentTool(
  tool: AgentTool,
  input: unknown,
  backend: AgentBackend,
  agent: string,
  signal?: AbortSignal,
): Promise<ToolOutput> {
  const value = input ?? {};
  const problems = inputProblems(tool, value);
  if (problems.length) throw new InvalidToolInput(tool.name, problems);
  try {
    return await tool.run(value as Record<string, unknown>, backend, agent, signal);
  } catch (err) {
    if (err instanceof ToolInputError || err instanceof UnknownConnectionError)
      return { text: err.message, isError: true };
    return { text: `Airlock could not run ${tool.name}: ${(err as Error).message}`, isError: true };
  }
}
