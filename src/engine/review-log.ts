import type { ApprovalQueue } from '../core/approvals/queue';
import type { Logger } from '../core/log';
import { actorLabel } from '../core/identity/actor';

/**
 * A headless Airlock (airlock proxy, an embedded airlock mcp) has no approval panel of its own: each
 * new review request is logged once with where it can be decided, so a statement that waits is never
 * a mystery. Returns the unsubscribe function.
 */
export function logPendingReviews(
  approvals: ApprovalQueue,
  log: Logger,
  /** The config file whose control channel can decide the review, when one is published. */
  decidedThrough: () => string | null,
): () => void {
  const seen = new Set<string>();
  return approvals.onChange(() => {
    const pending = approvals.pending();
    const now = new Set(pending.map((p) => p.request.id));
    for (const id of seen) if (!now.has(id)) seen.delete(id);
    for (const p of pending) {
      if (seen.has(p.request.id)) continue;
      seen.add(p.request.id);
      const r = p.request;
      const who = actorLabel(r.actor);
      const sql = r.sql.length > 200 ? `${r.sql.slice(0, 200)}…` : r.sql;
      const configFile = decidedThrough();
      const where = configFile
        ? `approve or deny it with \`airlock approvals --config ${configFile}\` (or any client of this Airlock's control channel)`
        : 'no control channel is published, so nobody can approve it: it will be denied at the deadline';
      log.warn(
        `[${r.connection}] review ${r.id} needed (rule ${r.rule}) for ${who}: ${sql.replace(/\s+/g, ' ')} — waits until ${new Date(p.deadline).toISOString()}; ${where}`,
      );
    }
  });
}
