import * as vscode from 'vscode';
import { printable } from '../core/text/printable';
import type { Logger } from '../core/log';
import { humanAttribution } from '../core/identity/actor';
import { outputLog } from './output-log';
import { AirlockController } from './airlock-controller';
import { ApprovalPanel } from './approval-panel';
import { registerCommands } from './commands';
import { ReplayPanels } from './replay-panel';
import { Recordings } from './recordings';
import { pendingReviewsBadge, SessionsView } from './sessions-view';
import { StatusBar } from './status-bar';
import { TerminalEnvironment } from './terminals';
import { ExplainView } from './explain-view';
import { localBackend, type AirlockServices } from '../agents/backend';
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
  const recordings = new Recordings(() => airlock.recordingsFolder(), log);
  const sessions = new SessionsView(recordings);
  const sessionsTree = vscode.window.createTreeView('airlock.sessions', {
    treeDataProvider: sessions,
    showCollapseAll: true,
  });
  const replays = new ReplayPanels(context.extensionUri, () => recordings.open(), log);
  const terminals = new TerminalEnvironment(context.environmentVariableCollection);
  const explanations = new ExplainView();
  context.subscriptions.push(
    channel,
    approvals,
    recordings,
    sessions,
    sessionsTree,
    replays,
    terminals,
    new StatusBar(airlock),
    airlock.onDidChange(() => {
      sessionsTree.badge = pendingReviewsBadge(airlock.approvals.pending().length);
      sessions.refreshSoon();
      // Connect, disconnect and a reload after the configuration changed all move the listener.
      terminals.apply(airlock.endpoints());
    }),
    explanations,
    ...registerCommands({
      airlock,
      approvals,
      sessions,
      recordings,
      sessionsTree,
      replays,
      terminals,
      explanations,
      log,
    }),
  );
  registerAgents(context, airlock, log);
  // A changed configuration is applied on request: reconnecting drops the clients' sessions.
  const configWatcher = vscode.workspace.createFileSystemWatcher('**/airlock.{yaml,yml,json}');
  // A configuration that cannot be used is said where the person is, with the way to the fix.
  const reload = () =>
    airlock.reload().then(undefined, async (err: Error) => {
      log.error(`reload: ${err.message}`);
      const file = airlock.configFile();
      const open = 'Open Configuration';
      const choice = await vscode.window.showErrorMessage(
        `Airlock: the configuration cannot be used: ${printable(err.message)}`,
        ...(file ? [open] : []),
        'Show Log',
      );
      if (choice === open && file) await vscode.window.showTextDocument(vscode.Uri.file(file));
      else if (choice === 'Show Log') log.show();
    });
  const configChanged = () => {
    if (airlock.endpoints().length === 0) return void reload();
    void vscode.window
      .showInformationMessage('Airlock: the configuration changed. Reconnect to apply it?', 'Reconnect')
      .then((choice) => (choice === 'Reconnect' ? reload() : undefined));
  };
  context.subscriptions.push(
    configWatcher,
    configWatcher.onDidChange(configChanged),
    configWatcher.onDidCreate(configChanged),
    configWatcher.onDidDelete(configChanged),
  );
  log.info(`Airlock activated (acting for ${airlock.identity.user}, ${humanAttribution(airlock.identity)})`);
}

/**
 * Copilot's LM tools and VS Code's MCP provider. The engine's control channel (published when the engine
 * starts, see AirlockController.airlock) lets an `airlock mcp` started by any other agent use this
 * Airlock — its listeners, so its gate and this approval panel.
 */
function registerAgents(context: vscode.ExtensionContext, airlock: AirlockController, log: Logger): void {
  // The engine starts on the tools' first use: connecting may start the demo database.
  const engine = () => airlock.airlock();
  const services: AirlockServices = {
    connections: () => airlock.connectionNames(),
    endpoints: () => airlock.endpoints(),
    connect: (name) => airlock.connect(name),
    explain: async (connection, sql, agent) => (await engine()).services.explain(connection, sql, agent),
    maskedColumns: async (connection) => (await engine()).services.maskedColumns(connection),
  };
  registerLanguageModelTools(context, localBackend(services, 'lm-tool'));
  // With an airlock.yaml, agents' MCP servers need the channel from the start: build the engine now.
  const prepare = async () => {
    if (!airlock.configFile()) return;
    await engine().then(undefined, (err: Error) => log.error(`Airlock could not start: ${err.message}`));
  };
  void prepare();
  registerMcpServerProvider(context, { configFile: () => airlock.configFile(), prepare });
}

export async function deactivate(): Promise<void> {
  // The proxies, the recorder (its journal synced) and the demo database stop with the extension host.
  await controller?.dispose();
  controller = undefined;
}
