import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type { AgentBackend } from '../agents/backend';
import { closeAgentSessions } from '../agents/sessions';
import { languageModelToolAdapters, MCP_PROVIDER_ID } from '../agents/lm-tools';

/**
 * Copilot's way in: the agent tools as VS Code language-model tools (package.json `languageModelTools`,
 * generated from the same definitions as `airlock mcp`), and Airlock's MCP server offered to VS Code's
 * MCP support. Both end in the gate: the tools connect to Airlock's own listeners.
 */

/** The same chat request's calls share one id (so one agent session); otherwise each call has its own. */
const invocationIds = new WeakMap<object, string>();
function invocationId(token: unknown): string {
  if (token && typeof token === 'object') {
    let id = invocationIds.get(token);
    if (!id) invocationIds.set(token, (id = randomUUID().slice(0, 8)));
    return id;
  }
  return randomUUID().slice(0, 8);
}

export function registerLanguageModelTools(context: vscode.ExtensionContext, backend: AgentBackend): void {
  for (const adapter of languageModelToolAdapters(backend)) {
    const tool: vscode.LanguageModelTool<Record<string, unknown>> = {
      prepareInvocation: (options) => ({ invocationMessage: adapter.invocationMessage(options.input) }),
      async invoke(options, token) {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        try {
          const out = await adapter.invoke(
            options.input,
            invocationId(options.toolInvocationToken),
            abort.signal,
          );
          // The model reads errors as text; a denial starts "airlock: denied" and says what to do.
          return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(out.text)]);
        } finally {
          sub.dispose();
        }
      },
    };
    context.subscriptions.push(vscode.lm.registerTool(adapter.name, tool));
  }
  context.subscriptions.push({ dispose: () => void closeAgentSessions(backend) });
}

/**
 * Offers `airlock mcp --config <the workspace's airlock.yaml>` to VS Code's MCP support. The definition
 * list holds no secret; `resolveMcpServerDefinition` (called when VS Code starts the server) runs
 * `prepare` — start the engine and its control channel — so the server uses this Airlock (its approval
 * panel) through the channel, whose token it reads from the private file beside the socket.
 */
export function registerMcpServerProvider(
  context: vscode.ExtensionContext,
  options: {
    configFile(): string | undefined;
    prepare?(): Promise<void>;
    onDidChange?: vscode.Event<void>;
  },
): void {
  const cli = context.asAbsolutePath('dist/cli.js');
  const version = String((context.extension.packageJSON as { version?: string }).version ?? '0.0.0');
  context.subscriptions.push(
    vscode.lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, {
      onDidChangeMcpServerDefinitions: options.onDidChange,
      provideMcpServerDefinitions() {
        const file = options.configFile();
        if (!file) return [];
        // The editor's own Node.js (Electron run as Node): no separate install needed.
        return [
          new vscode.McpStdioServerDefinition(
            'Airlock',
            process.execPath,
            [cli, 'mcp', '--config', file],
            { ELECTRON_RUN_AS_NODE: '1' },
            version,
          ),
        ];
      },
      async resolveMcpServerDefinition(server) {
        await options.prepare?.();
        return server;
      },
    }),
  );
}
