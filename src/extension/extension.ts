import * as vscode from 'vscode';
import type { Logger } from '../core/log';
import { outputLog } from './output-log';
import { AirlockController } from './airlock-controller';
import { ApprovalPanel } from './approval-panel';
import { registerCommands } from './commands';
import { ReplayPanels } from './replay-panel';
import { SessionsView } from './sessions-view';
import { StatusBar } from './status-bar';
import { TerminalEnvironment } from './terminals';
import { localBackend, type AirlockServices } from '../agents/backend';
import { startControlChannel, type ControlChannel } from '../proxy/control-channel';
import { registerLanguageModelTools, registerMcpServerProvider } from './lm-tools';

let controller: AirlockController | undefined;

/**
 * Composition: the engine (proxy, gate, recorder) runs in the extension host; the UI reads it. Activated
 * lazily — by Airlock's commands and views, or a workspace airlock.yaml — and connects on demand.
 */
export function activate(context: vscode.ExtensionContext): void {
  const channel = vscode.window.createOutputChannel('Airlock', { log: true });
  const log = outputLog(channel);
  const airlock = new AirlockController(context, log);
  controller = airlock;
  const approvals = new ApprovalPanel(context.extensionUri, airlock, log);
  const sessions = new SessionsView(airlock, log);
  const sessionsTree = vscode.window.createTreeView('airlock.sessions', {
    treeDataProvider: sessions,
    showCollapseAll: true,
  });
  const replays = new ReplayPanels(context.extensionUri, () => sessions.recordings(), log);
  const terminals = new TerminalEnvironment(context.environmentVariableCollection);
  context.subscriptions.push(
    channel,
    approvals,
    sessions,
    sessionsTree,
    replays,
    new StatusBar(airlock),
    airlock.onDidChange(() => {
      sessions.refreshSoon();
      // Connect, disconnect and a reload after the configuration changed all move the listener.
      terminals.apply(airlock.endpoints()[0]);
    }),
    ...registerCommands({ airlock, approvals, sessions, sessionsTree, replays, terminals, log }),
  );
  registerAgents(context, airlock, log);
  // A changed configuration is applied on request: reconnecting drops the clients' sessions.
  const configWatcher = vscode.workspace.createFileSystemWatcher('**/airlock.{yaml,yml,json}');
  const configChanged = () => {
    if (airlock.endpoints().length === 0) return void airlock.reload();
    void vscode.window
      .showInformationMessage('Airlock: the configuration changed. Reconnect to apply it?', 'Reconnect')
      .then((choice) => (choice === 'Reconnect' ? airlock.reload() : undefined))
      .then(undefined, (err: Error) => log.error(`reconnect: ${err.message}`));
  };
  context.subscriptions.push(
    configWatcher,
    configWatcher.onDidChange(configChanged),
    configWatcher.onDidCreate(configChanged),
    configWatcher.onDidDelete(configChanged),
  );
  log.info(`Airlock activated (acting for ${airlock.identity.user})`);
}

/**
 * Copilot's LM tools, VS Code's MCP provider, and the control channel through which an `airlock mcp`
 * started by any other agent uses this Airlock — its listeners, so its gate and this approval panel.
 * The channel may watch reviews but not decide them: in VS Code only the panel decides.
 */
function registerAgents(context: vscode.ExtensionContext, airlock: AirlockController, log: Logger): void {
  const policy = () => airlock.policyServices();
  const services: AirlockServices = {
    connections: () => airlock.connectionNames(),
    endpoints: () => airlock.endpoints(),
    connect: (name) => airlock.connect(name),
    explain: async (connection, sql, agent) => (await policy()).explain(connection, sql, agent),
    maskedColumns: async (connection) => (await policy()).maskedColumns(connection),
  };
  registerLanguageModelTools(context, localBackend(services, 'lm-tool'));
  let channel: ControlChannel | null = null;
  let starting: Promise<void> | null = null;
  const ensureChannel = () =>
    (starting ??= (async () => {
      const configFile = airlock.configFile();
      if (!configFile) return;
      try {
        channel = await startControlChannel({
          configFile,
          ...services,
          approvals: airlock.approvals,
          decisions: false,
          log,
        });
      } catch (err) {
        // E.g. an `airlock proxy` already serves this configuration: agents' MCP servers use that one.
        log.warn(`control channel not published: ${(err as Error).message}`);
      }
    })());
  void ensureChannel();
  registerMcpServerProvider(context, { configFile: () => airlock.configFile(), prepare: ensureChannel });
  context.subscriptions.push({ dispose: () => void channel?.close() });
}

export async function deactivate(): Promise<void> {
  // The proxies, the recorder (its journal synced) and the demo database stop with the extension host.
  await controller?.dispose();
  controller = undefined;
}
