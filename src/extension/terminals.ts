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
export class TerminalEnvironment {
  constructor(private readonly collection: vscode.GlobalEnvironmentVariableCollection) {
    collection.persistent = false;
  }

  private applied = '';

  /** Points new terminals at `endpoint` (nothing: Airlock's variables removed); a no-op when unchanged. */
  apply(endpoint: LocalEndpoint | undefined): void {
    const key = endpoint ? `${endpoint.name}@${endpoint.host}:${endpoint.port}#${endpoint.password}` : '';
    if (key === this.applied) return;
    this.applied = key;
    this.collection.clear();
    if (!endpoint) {
      this.collection.description = undefined;
      return;
    }
    for (const [k, v] of Object.entries(connectionEnv(endpoint))) this.collection.replace(k, v);
    this.collection.description = new vscode.MarkdownString(
      `Airlock sets \`PGHOST\`, \`PGPORT\`, \`PGUSER\`, \`PGPASSWORD\`, \`PGDATABASE\` and \`DATABASE_URL\` to its local listener for **${endpoint.name}** (${endpoint.host}:${endpoint.port}), so psql, ORMs and scripts go through its policy, masking and recording. The password is a per-session secret, not the database's.`,
    );
  }

  open(endpoint: LocalEndpoint): vscode.Terminal {
    const terminal = vscode.window.createTerminal({
      name: `Airlock: ${endpoint.name}`,
      env: connectionEnv(endpoint),
      iconPath: new vscode.ThemeIcon('shield'),
      message: `Connected through Airlock to "${endpoint.name}": psql, ORMs and scripts here are checked by policy, masked and recorded.`,
    });
    terminal.show();
    return terminal;
  }
}
