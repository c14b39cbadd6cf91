import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import * as vscode from 'vscode';
import type { OutputLog } from './output-log';
import { actorLabel, agentLabel } from '../core/identity/actor';
import { printable } from '../core/text/printable';
import { RecordingStore, type SessionFilter, type SessionSummary } from '../core/recording/store';
import type { AirlockController } from './airlock-controller';

type Node =
  { kind: 'day'; day: string; sessions: SessionSummary[] } | { kind: 'session'; session: SessionSummary };

/**
 * The Sessions tree: recorded sessions by day (newest first), each labelled with its connection and
 * actor, live ones marked. Backed by the recordings store; refreshed when the journal changes.
 */
export class SessionsView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private store: Promise<RecordingStore> | null = null;
  private folder = '';
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  filter: SessionFilter = {};

  constructor(
    private readonly airlock: AirlockController,
    private readonly log: OutputLog,
  ) {}

  /** The store of the current recordings folder (reopened when the configuration points elsewhere). */
  async recordings(): Promise<RecordingStore> {
    const folder = this.airlock.recordingsFolder();
    if (!this.store || folder !== this.folder) {
      const previous = this.store;
      this.folder = folder;
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      this.store = RecordingStore.open(folder);
      void previous?.then((s) => s.close());
      this.watch(folder);
    }
    const store = await this.store;
    store.refresh();
    return store;
  }

  private watch(folder: string): void {
    this.watcher?.close();
    try {
      this.watcher = watch(folder, () => this.refreshSoon());
      this.watcher.on('error', () => undefined);
    } catch (err) {
      this.log.warn(`sessions: cannot watch ${folder}: ${(err as Error).message}`);
    }
  }

  /** Debounced: a busy session appends many events a second. */
  refreshSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.changed.fire(undefined);
    }, 500);
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (node?.kind === 'session') return [];
    if (node?.kind === 'day') return node.sessions.map((session) => ({ kind: 'session', session }));
    const sessions = (await this.recordings()).sessions({ ...this.filter, limit: this.filter.limit ?? 500 });
    const days = new Map<string, SessionSummary[]>();
    for (const s of sessions) {
      const day = s.started.slice(0, 10);
      days.set(day, [...(days.get(day) ?? []), s]);
    }
    return [...days].map(([day, list]) => ({ kind: 'day', day, sessions: list }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'day') {
      const item = new vscode.TreeItem(node.day, vscode.TreeItemCollapsibleState.Expanded);
      item.description = `${node.sessions.length} session(s)`;
      item.contextValue = 'day';
      return item;
    }
    const s = node.session;
    const item = new vscode.TreeItem(`${s.started.slice(11, 19)} ${s.connection} · ${actorLabel(s)}`);
    item.id = s.id;
    item.description = `${s.statements} stmt${s.denials ? ` · ${s.denials} denied` : ''}${s.live ? ' · live' : ''}`;
    // What a client named itself goes in as text: never as markdown (links, images) or escapes.
    const tooltip = new vscode.MarkdownString(`**Session** \`${s.id}\`\n\nConnection: `);
    tooltip.appendText(s.connection).appendMarkdown('\n\nHuman: ').appendText(printable(s.user));
    const agent = agentLabel(s);
    if (agent) tooltip.appendMarkdown('  \nAgent: ').appendText(agent);
    tooltip
      .appendMarkdown('\n\n')
      .appendText(
        `From: ${s.client}\nStarted: ${s.started}${s.ended ? `\nEnded: ${s.ended}${s.endReason ? ` (${printable(s.endReason)})` : ''}` : ''}`,
      )
      .appendMarkdown('\n\n')
      .appendText(`${s.statements} statement(s), ${s.denials} denied, ${s.approvals} approved on review`);
    item.tooltip = tooltip;
    item.iconPath = new vscode.ThemeIcon(
      s.live ? 'pulse' : s.denials ? 'shield' : 'history',
      s.live
        ? new vscode.ThemeColor('charts.green')
        : s.denials
          ? new vscode.ThemeColor('charts.red')
          : undefined,
    );
    item.contextValue = s.live ? 'session-live' : 'session';
    item.command = { command: 'airlock.replaySession', title: 'Replay Session', arguments: [s.id] };
    return item;
  }

  /** The filter, described for the view's message line. */
  describeFilter(): string | undefined {
    const parts = Object.entries(this.filter)
      .filter(([k, v]) => v !== undefined && k !== 'limit')
      .map(([k, v]) => `${k}: ${String(v)}`);
    return parts.length ? `Filtered by ${parts.join(', ')}` : undefined;
  }

  dispose(): void {
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
    void this.store?.then((s) => s.close());
    this.changed.dispose();
  }
}
