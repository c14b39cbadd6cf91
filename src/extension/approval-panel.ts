import * as vscode from 'vscode';
import type { OutputLog } from './output-log';
import { actorLabel } from '../core/identity/actor';
import { printable } from '../core/text/printable';
import type { PendingReview } from '../core/approvals/queue';
import { describeFunction } from '../core/policy/evaluate';
import { qualifiedName, type StatementFacts } from '../core/sql/facts';
import {
  parseApprovalPanelReply,
  type ApprovalPanelMessage,
  type DecidedApproval,
  type PendingApproval,
} from '../shared/webviews/approval-protocol';
import type { AirlockController } from './airlock-controller';
import { webviewOptions, webviewPage } from './webview-page';

/** How a new request interrupts the person (setting `airlock.approvals.interrupt`). */
type Interrupt = 'notification' | 'panel' | 'statusBar';
/** Decisions kept for the panel's history. */
const HISTORY_LENGTH = 10;

/**
 * The approval panel: the queue of statements waiting for the person at the keyboard. Decisions come
 * only from the panel (a user's click or key in it, bound to the request by its nonce); nothing an agent
 * can send — a command, a tool call, a Copilot auto-approve setting — reaches `ApprovalQueue.decide`.
 * A new request interrupts as `airlock.approvals.interrupt` says; its notification is withdrawn as soon as
 * the request leaves the queue, so a late click never opens a request that is gone.
 */
export class ApprovalPanel implements vscode.Disposable {
  static readonly viewType = 'airlock.approvals';
  private panel: vscode.WebviewPanel | null = null;
  /** Requests in the queue at the last change, and how to withdraw each one's notification. */
  private readonly known = new Map<string, { request: PendingReview; withdraw?: () => void }>();
  /** Decisions taken in this panel, by request id, until the request leaves the queue. */
  private readonly decidedHere = new Map<string, DecidedApproval['outcome']>();
  private readonly history: DecidedApproval[] = [];
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

  /**
   * Opens the panel, or reveals it where it already is: a second `Beside` would split off another editor
   * group on every review. `requestId`: the request a notification was about; gone means it was decided
   * or timed out meanwhile, and the person is told so rather than shown an empty queue.
   */
  show(options: { requestId?: string; preserveFocus?: boolean } = {}): void {
    const { requestId, preserveFocus = false } = options;
    if (requestId && !this.known.has(requestId)) {
      const gone = this.history.find((h) => h.id === requestId);
      void vscode.window.showInformationMessage(
        gone
          ? `Airlock: that request is gone — ${outcomeText(gone.outcome)}${gone.by ? ` by ${gone.by}` : ''} at ${new Date(gone.at).toLocaleTimeString()}.`
          : 'Airlock: that request is gone (decided or timed out).',
      );
      if (this.known.size === 0) return;
    }
    if (this.panel) {
      this.panel.reveal(this.panel.viewColumn, preserveFocus);
      return;
    }
    this.adopt(
      vscode.window.createWebviewPanel(
        ApprovalPanel.viewType,
        'Airlock: Approvals',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus },
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
    // Set before deciding: the queue announces the change (and queueChanged files the history) within decide.
    this.decidedHere.set(
      m.id,
      m.decision === 'deny'
        ? 'denied'
        : m.decision === 'approve-once'
          ? 'approved once'
          : 'approved for the session',
    );
    const done = this.airlock.approvals.decide(m.id, m.nonce, m.decision, m.reason);
    if (!done) this.decidedHere.delete(m.id);
    if (done) this.log.info(`approval ${m.id}: ${m.decision}${m.reason ? ` (${m.reason})` : ''}`);
    else this.log.warn(`approval ${m.id}: decision ignored (already decided, timed out, or a stale nonce)`);
  }

  private queueChanged(): void {
    const pending = this.airlock.approvals.pending();
    const now = Date.now();
    const ids = new Set(pending.map((p) => p.request.id));
    for (const [id, k] of this.known) {
      if (ids.has(id)) continue;
      k.withdraw?.();
      this.known.delete(id);
      // Not decided here: the gate's timer or the client ended it.
      const outcome =
        this.decidedHere.get(id) ?? (now >= k.request.deadline - 1000 ? 'timed out' : 'withdrawn');
      this.decidedHere.delete(id);
      this.remember(k.request, outcome, now);
    }
    const fresh = pending.filter((p) => !this.known.has(p.request.id));
    for (const p of pending) this.known.set(p.request.id, this.known.get(p.request.id) ?? { request: p });
    this.post();
    if (fresh.length === 0) return;
    const interrupt = vscode.workspace
      .getConfiguration('airlock.approvals')
      .get<Interrupt>('interrupt', 'notification');
    // A visible panel already shows the new request (posted above): nothing more to interrupt with.
    if (this.visible || interrupt === 'statusBar') return;
    if (interrupt === 'panel') {
      // Not focused: a keystroke meant for the editor must not land in the panel.
      this.show({ preserveFocus: true });
      return;
    }
    for (const p of fresh) this.notify(p);
  }

  /**
   * A notification that lives as long as the request: a progress notification (unlike a message, it
   * can be closed by the extension) with a Review link carrying the request's id.
   */
  private notify(p: PendingReview): void {
    const entry = this.known.get(p.request.id);
    if (!entry) return;
    let withdraw: () => void = () => undefined;
    const gone = new Promise<void>((resolve) => (withdraw = resolve));
    entry.withdraw = withdraw;
    const [who, connection, rule] = [actorLabel(p.request.actor), p.request.connection, p.request.rule].map(
      notificationText,
    );
    const review = `command:airlock.showPendingApprovals?${encodeURIComponent(JSON.stringify([p.request.id]))}`;
    void vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Airlock: ${who} wants to run a statement on "${connection}" that needs your review (rule "${rule}").`,
        cancellable: true,
      },
      (progress, dismissed) => {
        progress.report({ message: `[Review](${review})` });
        dismissed.onCancellationRequested(withdraw);
        return gone;
      },
    );
  }

  private remember(p: PendingReview, outcome: DecidedApproval['outcome'], at: number): void {
    const r = p.request;
    this.history.unshift({
      id: r.id,
      sql: r.sql,
      actor: webviewActor(r.actor),
      connection: r.connection,
      outcome,
      ...(outcome === 'timed out' || outcome === 'withdrawn' ? {} : { by: this.airlock.identity.user }),
      at,
    });
    this.history.length = Math.min(this.history.length, HISTORY_LENGTH);
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
      history: this.history,
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
      actor: webviewActor(r.actor),
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
    const writes = s.details.writes;
    // The columns it reads and the columns it sets: `UPDATE … SET email = …` writes a masked column.
    const used = [
      ...s.columns.map((c) => ({
        relations: c.relations,
        column: c.column,
        name: c.relation ?? c.relations.join('|'),
      })),
      ...(writes
        ? writes.columns.map((column) => ({ relations: [writes.relation], column, name: writes.relation }))
        : []),
    ];
    return {
      command: s.command,
      kind: s.kind,
      relations: [...new Set(relations)],
      functions: [...new Set(s.functions.map(describeFunction))],
      maskedColumns: [
        ...new Set(
          used
            .filter((c) => this.airlock.isMasked(connection, c.relations, c.column, relations))
            .map((c) => `${c.name}.${c.column}`),
        ),
      ],
      ...(s.details.everyRow ? { everyRow: true as const } : {}),
    };
  }

  dispose(): void {
    for (const k of this.known.values()) k.withdraw?.();
    this.panel?.dispose();
    for (const d of this.subscriptions) d.dispose();
  }
}

function webviewActor(a: PendingReview['request']['actor']): PendingApproval['actor'] {
  return {
    user: a.user,
    ...(a.agent ? { agent: a.agent } : {}),
    ...(a.channel ? { channel: a.channel } : {}),
  };
}

function outcomeText(o: DecidedApproval['outcome']): string {
  return o === 'timed out' ? 'it timed out and was denied' : o === 'withdrawn' ? 'the client withdrew it' : o;
}

/**
 * A client-chosen name as notification text: notifications render `[text](target)` as a link, and a
 * link may run a command, so a client must not be able to place one. Brackets become look-alikes.
 */
function notificationText(name: string): string {
  return printable(name).replace(/\[/g, '［').replace(/\]/g, '］');
}
