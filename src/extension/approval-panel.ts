import * as vscode from 'vscode';
import type { OutputLog } from './output-log';
import { actorLabel } from '../core/identity/actor';
import type { PendingReview } from '../core/approvals/queue';
import { describeFunction } from '../core/policy/evaluate';
import { qualifiedName, type StatementFacts } from '../core/sql/facts';
import {
  parseApprovalPanelReply,
  type ApprovalPanelMessage,
  type PendingApproval,
} from '../shared/webviews/approval-protocol';
import type { AirlockController } from './airlock-controller';
import { webviewOptions, webviewPage } from './webview-page';

/**
 * The approval panel: the queue of statements waiting for the person at the keyboard. Decisions come
 * only from the panel (a user's click or key in it, bound to the request by its nonce); nothing an agent
 * can send — a command, a tool call, a Copilot auto-approve setting — reaches `ApprovalQueue.decide`.
 * When the panel is hidden, a notification with a Review action appears for each new request.
 */
export class ApprovalPanel implements vscode.Disposable {
  static readonly viewType = 'airlock.approvals';
  private panel: vscode.WebviewPanel | null = null;
  private readonly notified = new Set<string>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly airlock: AirlockController,
    private readonly log: OutputLog,
  ) {
    const off = airlock.approvals.onChange(() => this.queueChanged());
    this.subscriptions.push({ dispose: off });
    this.subscriptions.push(
      vscode.window.registerWebviewPanelSerializer(ApprovalPanel.viewType, {
        // After a reload the panel comes back showing the live queue (its state is not the queue's).
        deserializeWebviewPanel: async (panel) => this.adopt(panel),
      }),
    );
  }

  get visible(): boolean {
    return this.panel?.visible ?? false;
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside, false);
      return;
    }
    this.adopt(
      vscode.window.createWebviewPanel(
        ApprovalPanel.viewType,
        'Airlock: Approvals',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
        webviewOptions(this.extensionUri),
      ),
    );
  }

  private adopt(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'airlock.svg');
    panel.webview.options = webviewOptions(this.extensionUri);
    panel.webview.html = webviewPage(panel.webview, this.extensionUri, 'approval', 'Airlock approvals');
    panel.webview.onDidReceiveMessage((m: unknown) => this.received(m));
    panel.onDidDispose(() => {
      if (this.panel === panel) this.panel = null;
    });
  }

  private received(message: unknown): void {
    const parsed = parseApprovalPanelReply(message);
    if (!parsed.ok) {
      this.log.warn(`approval panel: ignored an invalid message (${parsed.error})`);
      return;
    }
    const m = parsed.value;
    if (m.type === 'ready') {
      this.post();
      return;
    }
    const done = this.airlock.approvals.decide(m.id, m.nonce, m.decision, m.reason);
    if (done) this.log.info(`approval ${m.id}: ${m.decision}${m.reason ? ` (${m.reason})` : ''}`);
    else this.log.warn(`approval ${m.id}: decision ignored (already decided, timed out, or a stale nonce)`);
  }

  private queueChanged(): void {
    this.post();
    const pending = this.airlock.approvals.pending();
    const ids = new Set(pending.map((p) => p.request.id));
    for (const id of this.notified) if (!ids.has(id)) this.notified.delete(id);
    if (this.visible) return;
    for (const p of pending) {
      if (this.notified.has(p.request.id)) continue;
      this.notified.add(p.request.id);
      const who = actorLabel(p.request.actor);
      void vscode.window
        .showWarningMessage(
          `Airlock: ${who} wants to run a statement on "${p.request.connection}" that needs your review (rule "${p.request.rule}").`,
          'Review',
        )
        .then((choice) => {
          if (choice === 'Review') this.show();
        });
    }
  }

  private post(): void {
    if (!this.panel) return;
    const now = Date.now();
    const message: ApprovalPanelMessage = {
      type: 'requests',
      requests: this.airlock.approvals
        .pending()
        .filter((p) => p.deadline > now)
        .map((p) => this.toPending(p)),
    };
    void this.panel.webview.postMessage(message);
  }

  private toPending(p: PendingReview): PendingApproval {
    const r = p.request;
    return {
      id: r.id,
      nonce: p.nonce,
      connection: r.connection,
      sessionId: r.sessionId,
      actor: {
        user: r.actor.user,
        ...(r.actor.agent ? { agent: r.actor.agent } : {}),
        ...(r.actor.channel ? { channel: r.actor.channel } : {}),
      },
      sql: r.sql,
      rule: r.rule,
      ...(r.ruleDescription ? { ruleDescription: r.ruleDescription } : {}),
      statements: r.statements.map((s) => this.facts(r.connection, s)),
      ...(p.estimatedRows !== undefined ? { estimatedRows: p.estimatedRows } : {}),
      requestedAt: r.requestedAt,
      deadline: p.deadline,
    };
  }

  private facts(connection: string, s: StatementFacts) {
    const relations = s.relations.map(qualifiedName);
    return {
      command: s.command,
      kind: s.kind,
      relations: [...new Set(relations)],
      functions: [...new Set(s.functions.map(describeFunction))],
      maskedColumns: [
        ...new Set(
          s.columns
            .filter((c) => this.airlock.isMasked(connection, c.relations, c.column, relations))
            .map((c) => `${c.relation ?? c.relations.join('|')}.${c.column}`),
        ),
      ],
    };
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.subscriptions) d.dispose();
  }
}
