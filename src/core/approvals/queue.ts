import { randomBytes } from 'node:crypto';
import type { ApprovalBroker, ApprovalOutcome, ApprovalRequest } from './broker';

/** A request waiting in the queue, with the nonce only its decision may carry. */
export interface PendingReview {
  request: ApprovalRequest;
  nonce: string;
  /** Epoch ms; the gate denies the statement past it. */
  deadline: number;
  /** Rows the write would affect: undefined while estimating or not applicable, null when unknown. */
  estimatedRows?: number | null;
}

export type ReviewDecision = 'approve-once' | 'approve-session' | 'deny';

/**
 * Review requests waiting for the person at the keyboard (UI-agnostic: the VS Code approval panel
 * shows the queue and reports decisions). A decision must name the request and carry its nonce, so a
 * stale or forged message cannot decide another request; each request is decided at most once.
 */
export class ApprovalQueue implements ApprovalBroker {
  private readonly waiting = new Map<
    string,
    { entry: PendingReview; settle: (o: ApprovalOutcome) => void }
  >();
  private readonly listeners = new Set<() => void>();

  /** `approver`: who decides (the signed-in human), recorded with each decision. */
  constructor(private readonly approver: () => string) {}

  request(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve({ approved: false, reason: 'the request was withdrawn' });
        return;
      }
      const entry: PendingReview = {
        request,
        nonce: randomBytes(18).toString('base64url'),
        deadline: request.requestedAt + request.timeoutMs,
      };
      const settle = (o: ApprovalOutcome) => {
        if (!this.waiting.delete(request.id)) return;
        resolve(o);
        this.changed();
      };
      this.waiting.set(request.id, { entry, settle });
      void request.estimatedRows?.then(
        (rows) => {
          entry.estimatedRows = rows;
          if (this.waiting.has(request.id)) this.changed();
        },
        () => undefined,
      );
      // Timed out or the client went away: the gate has its answer; the request leaves the queue.
      signal.addEventListener(
        'abort',
        () => settle({ approved: false, reason: 'the request was withdrawn' }),
        {
          once: true,
        },
      );
      this.changed();
    });
  }

  /** Oldest first. */
  pending(): PendingReview[] {
    return [...this.waiting.values()]
      .map((w) => w.entry)
      .sort((a, b) => a.request.requestedAt - b.request.requestedAt);
  }

  /** Applies a decision; false when the request is gone or the nonce does not match (nothing happens). */
  decide(id: string, nonce: string, decision: ReviewDecision, reason?: string): boolean {
    const w = this.waiting.get(id);
    if (!w || w.entry.nonce !== nonce) return false;
    const approver = this.approver();
    if (decision === 'deny') {
      // An empty reason stays empty: the gate tells the agent what to do when no reason was given.
      w.settle({ approved: false, approver, reason: reason?.trim() ?? '' });
    } else {
      w.settle({ approved: true, approver, scope: decision === 'approve-session' ? 'session' : 'once' });
    }
    return true;
  }

  /** Calls `listener` whenever the queue changes; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
