import type { AgentBackend } from './backend';
import { lmToolAgentName } from './agent-name';
import type { ToolOutput } from './format';
import { AGENT_TOOLS, callAgentTool, InvalidToolInput, type AgentTool } from './tools';

/**
 * The VS Code language-model tools adapter, without vscode: package.json's `languageModelTools` entries
 * and the invoke/prepare logic are derived from the same definitions `airlock mcp` serves, so the two
 * cannot drift (a unit test compares package.json with `languageModelToolContributions()`).
 */

/** VS Code's tool name: tool names are global there, so they carry the extension's prefix. */
export const lmToolName = (tool: AgentTool) => `airlock_${tool.name}`;

/** One `contributes.languageModelTools` entry. */
export interface LanguageModelToolContribution {
  name: string;
  displayName: string;
  toolReferenceName: string;
  canBeReferencedInPrompt: boolean;
  icon: string;
  userDescription: string;
  modelDescription: string;
  tags: string[];
  inputSchema: object;
}

/** What package.json must contribute, in order. */
export function languageModelToolContributions(): LanguageModelToolContribution[] {
  return AGENT_TOOLS.map((t) => ({
    name: lmToolName(t),
    displayName: `Airlock: ${t.title}`,
    toolReferenceName: `airlock_${t.name}`,
    canBeReferencedInPrompt: true,
    icon: '$(shield)',
    userDescription: t.title,
    modelDescription: t.description,
    tags: ['airlock', 'database', 'postgres', ...(t.readOnly ? ['read-only'] : [])],
    inputSchema: t.inputSchema,
  }));
}

/** The `contributes.mcpServerDefinitionProviders` entry. */
export const MCP_PROVIDER_ID = 'airlock.mcp';
export const mcpServerDefinitionProviderContribution = { id: MCP_PROVIDER_ID, label: 'Airlock' };

/** What the vscode side needs per tool: a message while it runs, and the call. */
export interface LanguageModelToolAdapter {
  name: string;
  tool: AgentTool;
  /**
   * The progress line (the exact SQL and the connection). No confirmation is asked: enforcement is the
   * gate's — a statement that needs review waits for the approval panel even when tools run unattended.
   */
  invocationMessage(input: unknown): string;
  /** `invocationId`: what tells this call apart in the recording (e.g. the chat's tool-invocation token). */
  invoke(input: unknown, invocationId: string | undefined, signal?: AbortSignal): Promise<ToolOutput>;
}

export function languageModelToolAdapters(backend: AgentBackend): LanguageModelToolAdapter[] {
  return AGENT_TOOLS.map((tool) => ({
    name: lmToolName(tool),
    tool,
    invocationMessage: (input) => tool.describeCall((input ?? {}) as Record<string, unknown>),
    async invoke(input, invocationId, signal) {
      try {
        return await callAgentTool(tool, input, backend, lmToolAgentName(tool.name, invocationId), signal);
      } catch (err) {
        // VS Code validated the input already; should it not match anyway, the model reads why.
        if (err instanceof InvalidToolInput) return { text: err.message, isError: true };
        throw err;
      }
    },
  }));
}
