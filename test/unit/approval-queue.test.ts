import assert from 'node:assert/strict';
import { ApprovalQueue } from '../../src/core/approvals/queue';
import type { ApprovalRequest } from '../../src/core/approvals/broker';

const request = (id: string, estimatedRows?: Promise<number | null>): ApprovalRequest => ({
  id,
  connection: 'shop',
  sessionId: 's1',
  actor: { user: 'ada', groups: [], agent: 'claude-code' },
  sql: `delete from orders where id = ${id.length}`,
  statements: [],
  rule: 'writes-need-review',
  review: { approvers: ['self'] },
  requestedAt: Date.now(),
  timeoutMs: 60_000,
  estimatedRows,
});

describe('approval queue', () => {
  it('decides a request only with its own nonce, once, and records who decided and how', async () => {
    const queue = new ApprovalQueue(() => 'ada@example.com');
    let changes = 0;
    queue.onChange(() => changes++);
    const a = queue.request(request('a'), new AbortController().signal);
    const b = queue.request(request('b'), new AbortController().signal);
    const [pa, pb] = queue.pending();
    assert.deepEqual([pa.request.id, pb.request.id], ['a', 'b']);
    assert.notEqual(pa.nonce, pb.nonce);
    assert.equal(pa.deadline, pa.request.requestedAt + 60_000);

    assert.equal(queue.decide('a', pb.nonce, 'approve-once'), false, "b's nonce must not decide a");
    assert.equal(queue.decide('a', 'forged', 'approve-once'), false);
    assert.equal(queue.decide('a', pa.nonce, 'approve-session'), true);
    assert.equal(queue.decide('a', pa.nonce, 'deny'), false, 'a request is decided once');
    assert.deepEqual(await a, { approved: true, approver: 'ada@example.com', scope: 'session' });

    assert.equal(queue.decide('b', pb.nonce, 'deny', '  too many rows  '), true);
    assert.deepEqual(await b, { approved: false, approver: 'ada@example.com', reason: 'too many rows' });
    assert.deepEqual(queue.pending(), []);
    assert.equal(changes, 4);

    // No reason stays no reason (the gate then tells the agent not to retry unchanged), not a made-up one.
    const c = queue.request(request('c'), new AbortController().signal);
    assert.equal(queue.decide('c', queue.pending()[0].nonce, 'deny', '   '), true);
    assert.deepEqual(await c, { approved: false, approver: 'ada@example.com', reason: '' });
  });

  it('drops a request when the gate withdraws it (timeout, client gone), and shows the row estimate when it arrives', async () => {
    const queue = new ApprovalQueue(() => 'ada');
    let resolveEstimate!: (n: number) => void;
    const abort = new AbortController();
    const outcome = queue.request(request('c', new Promise((r) => (resolveEstimate = r))), abort.signal);
    assert.equal(queue.pending()[0].estimatedRows, undefined);
    const changed = new Promise<void>((r) => queue.onChange(r));
    resolveEstimate(42);
    await changed;
    assert.equal(queue.pending()[0].estimatedRows, 42);
    const nonce = queue.pending()[0].nonce;
    abort.abort();
    assert.deepEqual(await outcome, { approved: false, reason: 'the request was withdrawn' });
    assert.deepEqual(queue.pending(), []);
    assert.equal(queue.decide('c', nonce, 'approve-once'), false);
  });
});
