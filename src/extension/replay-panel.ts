import * as vscode from 'vscode';
import type { OutputLog } from './output-log';
import type { Follower, RecordingStore } from '../core/recording/store';
import {
  parseReplayViewReply,
  replayEvent,
  replaySession,
  type ReplayViewMessage,
} from '../shared/webviews/replay-protocol';
import { webviewOptions, webviewPage } from './webview-page';

/**
 * A session's replay: one webview panel per session, its events in order; a live session keeps
 * appending as the journal grows. Export requests from the view run the Export Session command.
 */
export class ReplayPanels implements vscode.Disposable {
  static readonly viewType = 'airlock.replay';
  private readonly open = new Map<string, { panel: vscode.WebviewPanel; follower: Follower | null }>();
  private readonly serializer: vscode.Disposable;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly store: () => Promise<RecordingStore>,
    private readonly log: OutputLog,
  ) {
    this.serializer = vscode.window.registerWebviewPanelSerializer(ReplayPanels.viewType, {
      deserializeWebviewPanel: async (panel, state: unknown) => {
        const id = (state as { sessionId?: unknown } | undefined)?.sessionId;
        if (typeof id === 'string') this.adopt(panel, id);
        else panel.dispose();
      },
    });
  }

  async show(sessionId: string): Promise<void> {
    const existing = this.open.get(sessionId);
    if (existing) {
      existing.panel.reveal();
      return;
    }
    const session = (await this.store()).session(sessionId);
    if (!session) throw new Error(`no recorded session "${sessionId}"`);
    const panel = vscode.window.createWebviewPanel(
      ReplayPanels.viewType,
      `Replay: ${session.connection} ${session.started.slice(11, 19)}`,
      vscode.ViewColumn.Active,
      webviewOptions(this.extensionUri),
    );
    this.adopt(panel, session.id);
  }

  private adopt(panel: vscode.WebviewPanel, sessionId: string): void {
    const entry = { panel, follower: null as Follower | null };
    this.open.set(sessionId, entry);
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'airlock.svg');
    panel.webview.options = webviewOptions(this.extensionUri);
    panel.webview.html = webviewPage(panel.webview, this.extensionUri, 'replay', 'Airlock session replay');
    panel.webview.onDidReceiveMessage((m: unknown) => void this.received(sessionId, entry, m));
    panel.onDidDispose(() => {
      entry.follower?.close();
      this.open.delete(sessionId);
    });
  }

  private async received(
    sessionId: string,
    entry: { panel: vscode.WebviewPanel; follower: Follower | null },
    message: unknown,
  ): Promise<void> {
    const parsed = parseReplayViewReply(message);
    if (!parsed.ok) {
      this.log.warn(`replay view: ignored an invalid message (${parsed.error})`);
      return;
    }
    const m = parsed.value;
    if (m.type === 'export') {
      await vscode.commands.executeCommand('airlock.exportSession', m.sessionId, m.format);
      return;
    }
    // ready: (re)send the whole session (a hidden view is rebuilt when shown), then follow it if live.
    const store = await this.store();
    // The events and the verdict they carry, checked as read: a tampered record is never shown as genuine.
    const record = store.record(sessionId);
    if (!record) return;
    const { session, events } = record;
    const first: ReplayViewMessage = {
      type: 'session',
      session: replaySession(session),
      events: events.map(replayEvent),
    };
    await entry.panel.webview.postMessage(first);
    entry.follower?.close();
    entry.follower = session.live
      ? store.follow(session.id, events.at(-1)?.seq ?? 0, (more) => {
          // Its checkpoint ends the session: send it whole again, with the verdict on the complete record.
          if (more.some((e) => e.type === 'checkpoint')) {
            void this.received(sessionId, entry, { type: 'ready' });
            return;
          }
          void entry.panel.webview.postMessage({
            type: 'append',
            sessionId: session.id,
            events: more.map(replayEvent),
          } satisfies ReplayViewMessage);
        })
      : null;
  }

  dispose(): void {
    for (const { panel } of this.open.values()) panel.dispose();
    this.serializer.dispose();
  }
}
