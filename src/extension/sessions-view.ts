import * as vscode from 'vscode';
import { actorLabel, agentLabel } from '../core/identity/actor';
import { printable } from '../core/text/printable';
import type { SessionFilter, SessionSummary } from '../core/recording/store';
import type { Recordings } from './recordings';

type Node =
  { kind: 'day'; day: string; sessions: SessionSummary[] } | { kind: 'session'; session: SessionSummary };

/**
 * The Sessions tree: recorded sessions by day (newest first), each labelled with its connection and
 * actor, live ones marked. Reads the shell's recordings; refreshed when the journal changes.
 */
export class SessionsView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private timer: NodeJS.Timeout | null = null;
  private readonly subscription: vscode.Disposable;
  filter: SessionFilter = {};

  constructor(private readonly recordings: Recordings) {
    this.subscription = recordings.onDidChange(() => this.refreshSoon());
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
    const sessions = (await this.recordings.open()).sessions({
      ...this.filter,
      limit: this.filter.limit ?? 500,
    });
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
    item.description = `${s.integrity === 'verified' || s.integrity === 'live' ? '' : `${s.integrity} · `}${s.statements} stmt${s.denials ? ` · ${s.denials} denied` : ''}${s.live ? ' · live' : ''}`;
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
      .appendText(`${s.statements} statement(s), ${s.denials} denied, ${s.approvals} approved on review`)
      .appendMarkdown('\n\n')
      .appendText(
        `Record: ${INTEGRITY_TOOLTIP[s.integrity]}${s.integrityProblem ? ` — ${s.integrityProblem}` : ''}`,
      );
    item.tooltip = tooltip;
    // A tampered or incomplete record is marked before anything else about the session.
    item.iconPath =
      s.integrity === 'tampered'
        ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.errorForeground'))
        : s.integrity === 'incomplete'
          ? new vscode.ThemeIcon('question', new vscode.ThemeColor('list.warningForeground'))
          : new vscode.ThemeIcon(
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
    this.subscription.dispose();
    if (this.timer) clearTimeout(this.timer);
    this.changed.dispose();
  }
}

const INTEGRITY_TOOLTIP: Record<SessionSummary['integrity'], string> = {
  verified: 'verified (unbroken hash chain, signed checkpoint)',
  tampered: 'TAMPERED — changed after it was written',
  incomplete: 'incomplete (no signed checkpoint: its end may be missing)',
  live: 'being recorded',
};

/** The Airlock view's badge: the statements waiting for review, so they are seen with the view closed. */
export function pendingReviewsBadge(count: number): vscode.ViewBadge | undefined {
  if (count === 0) return undefined;
  return { value: count, tooltip: `${count} statement${count === 1 ? '' : 's'} waiting for your review` };
}
