import * as vscode from 'vscode';
import type { LocalEndpoint } from '../proxy/listeners';

/** libpq's variables and DATABASE_URL for a local Airlock listener (its per-session secret included). */
export function connectionEnv(e: LocalEndpoint): Record<string, string> {
  const url = new URL('postgresql://localhost');
  url.hostname = e.host;
  url.port = String(e.port);
  url.username = e.user;
  url.password = e.password;
  url.pathname = `/${e.database}`;
  return {
    PGHOST: e.host,
    PGPORT: String(e.port),
    PGUSER: e.user,
    PGPASSWORD: e.password,
    PGDATABASE: e.database,
    DATABASE_URL: url.toString(),
  };
}

/**
 * New integrated terminals — the person's and the agents' alike — reach the database through Airlock:
 * the environment collection points libpq and DATABASE_URL at the local listener. Not persisted: the
 * secret dies with the session.
 */
export class TerminalEnvironment implements vscode.Disposable {
  /** Terminals opened through Airlock that are still open, with the connection each was opened for. */
  private readonly opened = new Map<
    vscode.Terminal,
    { connection: string; port: number; password: string }
  >();
  private readonly closing: vscode.Disposable;
  private applied = '';

  constructor(private readonly collection: vscode.GlobalEnvironmentVariableCollection) {
    collection.persistent = false;
    this.closing = vscode.window.onDidCloseTerminal((t) => this.opened.delete(t));
  }

  /**
   * Points new terminals at the first listener (none: Airlock's variables removed); a no-op when
   * unchanged. Terminals VS Code opened with the old variables get its own "relaunch" marker; the ones
   * Airlock opened hold the old secret in their environment, so the person is offered to relaunch them.
   */
  apply(endpoints: LocalEndpoint[]): void {
    const endpoint = endpoints[0];
    const key = endpoint ? `${endpoint.name}@${endpoint.host}:${endpoint.port}#${endpoint.password}` : '';
    if (key === this.applied) return;
    this.applied = key;
    this.collection.clear();
    const stale = [...this.opened].filter(
      ([, was]) =>
        !endpoints.some(
          (e) => e.name === was.connection && e.port === was.port && e.password === was.password,
        ),
    );
    if (stale.length) void this.offerRelaunch(stale, endpoints);
    if (!endpoint) {
      this.collection.description = undefined;
      return;
    }
    for (const [k, v] of Object.entries(connectionEnv(endpoint))) this.collection.replace(k, v);
    this.collection.description = new vscode.MarkdownString(
      `Airlock sets \`PGHOST\`, \`PGPORT\`, \`PGUSER\`, \`PGPASSWORD\`, \`PGDATABASE\` and \`DATABASE_URL\` to its local listener for **${endpoint.name}** (${endpoint.host}:${endpoint.port}), so psql, ORMs and scripts go through its policy, masking and recording. The password is a per-session secret, not the database's.`,
    );
  }

  private async offerRelaunch(
    stale: Array<[vscode.Terminal, { connection: string }]>,
    endpoints: LocalEndpoint[],
  ): Promise<void> {
    const names = [...new Set(stale.map(([, was]) => was.connection))].join(', ');
    const relaunch = 'Relaunch';
    const choice = await vscode.window.showWarningMessage(
      `Airlock: ${stale.length} terminal(s) opened through Airlock for ${names} hold the previous listener's secret, so psql there is refused. Relaunch them?`,
      relaunch,
    );
    if (choice !== relaunch) return;
    for (const [terminal, was] of stale) {
      if (!this.opened.has(terminal)) continue; // closed meanwhile
      terminal.dispose();
      const now = endpoints.find((e) => e.name === was.connection);
      if (now) this.open(now);
      else
        void vscode.window.showInformationMessage(
          `Airlock: ${was.connection} is not connected; connect it to open its terminal again.`,
        );
    }
  }

  open(endpoint: LocalEndpoint): vscode.Terminal {
    const terminal = vscode.window.createTerminal({
      name: `Airlock: ${endpoint.name}`,
      env: connectionEnv(endpoint),
      iconPath: new vscode.ThemeIcon('shield'),
      message: `Connected through Airlock to "${endpoint.name}": psql, ORMs and scripts here are checked by policy, masked and recorded.`,
    });
    this.opened.set(terminal, {
      connection: endpoint.name,
      port: endpoint.port,
      password: endpoint.password,
    });
    terminal.show();
    return terminal;
  }

  dispose(): void {
    this.closing.dispose();
  }
}
