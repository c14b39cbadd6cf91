import * as vscode from 'vscode';
import { printable } from '../core/text/printable';
import { humanAttribution } from '../core/identity/actor';
import type { AirlockController } from './airlock-controller';

/** Identity, live connections and pending approvals; a click goes where attention is needed. */
export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'airlock.status',
    vscode.StatusBarAlignment.Left,
    50,
  );
  private readonly subscription: vscode.Disposable;

  constructor(private readonly airlock: AirlockController) {
    this.item.name = 'Airlock';
    this.subscription = airlock.onDidChange(() => this.update());
    this.update();
    this.item.show();
  }

  private update(): void {
    const pending = this.airlock.approvals.pending().length;
    const connections = this.airlock.endpoints();
    const live = this.airlock.sessionCount();
    const who = printable(this.airlock.identity.user);
    if (pending > 0) {
      this.item.text = `$(shield) Airlock: ${pending} waiting for approval`;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
      this.item.command = 'airlock.showPendingApprovals';
    } else {
      this.item.text =
        connections.length === 0
          ? '$(shield) Airlock'
          : `$(shield) Airlock: ${connections.map((c) => c.name).join(', ')} · ${live} live`;
      this.item.backgroundColor = undefined;
      this.item.command = connections.length === 0 ? 'airlock.connect' : 'airlock.showSessions';
    }
    this.item.tooltip = new vscode.MarkdownString(
      [
        `**Airlock** — acting for **${who}** (${humanAttribution(this.airlock.identity)})`,
        connections.length
          ? connections.map((c) => `- ${c.name}: ${c.host}:${c.port}`).join('\n')
          : 'Not connected. Click to connect.',
        `${live} client session(s) live, ${pending} statement(s) waiting for approval`,
      ].join('\n\n'),
    );
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
