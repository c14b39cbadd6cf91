import assert from 'node:assert/strict';
import {
  parseApprovalPanelMessage,
  parseApprovalPanelReply,
} from '../../src/shared/webviews/approval-protocol';
import { parseReplayViewMessage, parseReplayViewReply } from '../../src/shared/webviews/replay-protocol';
import { contentSecurityPolicy, webviewHtml } from '../../src/shared/webviews/page';
import { sampleRequests, sampleSession } from './sample-data';

function rejects(result: { ok: boolean; error?: string }, pattern: RegExp): void {
  assert.equal(result.ok, false);
  assert.match((result as { error: string }).error, pattern);
}

describe('webview protocol', () => {
  describe('extension → approval panel', () => {
    it('accepts the queue (empty or not)', () => {
      assert.equal(parseApprovalPanelMessage({ type: 'requests', requests: sampleRequests() }).ok, true);
      assert.equal(parseApprovalPanelMessage({ type: 'requests', requests: [] }).ok, true);
      const [r] = sampleRequests();
      assert.equal(
        parseApprovalPanelMessage({ type: 'requests', requests: [{ ...r, estimatedRows: null }] }).ok,
        true,
      );
      const minimal: Record<string, unknown> = { ...r };
      delete minimal.ruleDescription;
      delete minimal.estimatedRows;
      assert.equal(parseApprovalPanelMessage({ type: 'requests', requests: [minimal] }).ok, true);
    });

    it('rejects unknown types, missing, extra and mistyped fields', () => {
      const [r] = sampleRequests();
      const noNonce: Record<string, unknown> = { ...r };
      delete noNonce.nonce;
      rejects(parseApprovalPanelMessage({ type: 'queue', requests: [] }), /unknown message type "queue"/);
      rejects(parseApprovalPanelMessage(null), /expected an object/);
      rejects(
        parseApprovalPanelMessage({ type: 'requests', requests: [], more: 1 }),
        /message\.more: unexpected/,
      );
      rejects(
        parseApprovalPanelMessage({ type: 'requests', requests: [noNonce] }),
        /requests\[0\]\.nonce: missing/,
      );
      rejects(
        parseApprovalPanelMessage({ type: 'requests', requests: [{ ...r, deadline: '1' }] }),
        /deadline: expected a finite number/,
      );
      rejects(
        parseApprovalPanelMessage({
          type: 'requests',
          requests: [{ ...r, actor: { user: 'a', role: 'x' } }],
        }),
        /actor\.role: unexpected/,
      );
      rejects(
        parseApprovalPanelMessage({
          type: 'requests',
          requests: [{ ...r, actor: { user: 'a', agent: 'x', channel: 'root' } }],
        }),
        /actor\.channel: expected one of mcp, lm-tool/,
      );
      rejects(
        parseApprovalPanelMessage({
          type: 'requests',
          requests: [{ ...r, statements: [{ ...r.statements[0], relations: [1] }] }],
        }),
        /statements\[0\]\.relations\[0\]: expected a string/,
      );
      rejects(parseApprovalPanelMessage({ type: 'requests', requests: [r, r] }), /duplicate id/);
    });
  });

  describe('approval panel → extension', () => {
    it('accepts ready and decisions', () => {
      assert.deepEqual(parseApprovalPanelReply({ type: 'ready' }), { ok: true, value: { type: 'ready' } });
      const decide = { type: 'decide', id: 'a', nonce: 'n', decision: 'deny', reason: 'no' };
      assert.deepEqual(parseApprovalPanelReply(decide), { ok: true, value: decide });
    });

    it('rejects anything else', () => {
      rejects(
        parseApprovalPanelReply({ type: 'decide', id: 'a', nonce: 'n', decision: 'approve' }),
        /one of/,
      );
      rejects(parseApprovalPanelReply({ type: 'decide', id: 'a', decision: 'deny' }), /nonce: missing/);
      rejects(
        parseApprovalPanelReply({ type: 'decide', id: '', nonce: 'n', decision: 'deny' }),
        /must not be empty/,
      );
      rejects(
        parseApprovalPanelReply({ type: 'decide', id: 'a', nonce: 'n', decision: 'deny', reason: 3 }),
        /reason/,
      );
      rejects(
        parseApprovalPanelReply({
          type: 'decide',
          id: 'a',
          nonce: 'n',
          decision: 'deny',
          reason: 'x'.repeat(2001),
        }),
        /longer than/,
      );
      rejects(parseApprovalPanelReply({ type: 'ready', now: true }), /unexpected/);
      rejects(parseApprovalPanelReply({ type: 'export' }), /unknown message type/);
      rejects(parseApprovalPanelReply(Object.create({ type: 'ready' })), /plain object/);
    });
  });

  describe('replay view', () => {
    it('accepts a session and appends', () => {
      const { session, events } = sampleSession();
      assert.equal(parseReplayViewMessage({ type: 'session', session, events }).ok, true);
      assert.equal(
        parseReplayViewMessage({ type: 'append', sessionId: session.id, events: events.slice(3) }).ok,
        true,
      );
      // Unknown event types and unknown fields in a statement's data pass (recordings outlive viewers).
      const odd = { seq: 1, time: events[0].time, type: 'future-thing', data: { x: 1 } };
      const newer = { ...events[1], data: { ...events[1].data, costUnits: 3 } };
      assert.equal(
        parseReplayViewMessage({ type: 'append', sessionId: 's', events: [odd, { ...newer, seq: 2 }] }).ok,
        true,
      );
    });

    it('rejects malformed sessions and events', () => {
      const { session, events } = sampleSession();
      rejects(parseReplayViewMessage({ type: 'session', session: { ...session, live: 1 }, events }), /live/);
      rejects(
        parseReplayViewMessage({ type: 'session', session: { ...session, started: 'x' }, events }),
        /ISO/,
      );
      rejects(
        parseReplayViewMessage({ type: 'session', session, events: [events[1], events[0]] }),
        /increasing seq/,
      );
      const bad = (data: Record<string, unknown>): unknown => ({
        type: 'append',
        sessionId: 's',
        events: [{ ...events[1], data: { ...events[1].data, ...data } }],
      });
      rejects(parseReplayViewMessage(bad({ decision: 'maybe' })), /decision: expected one of allow, deny/);
      rejects(
        parseReplayViewMessage(bad({ sample: { columns: ['a'], rows: [['1', '2']], truncated: false } })),
        /number of values/,
      );
      rejects(
        parseReplayViewMessage(bad({ sample: { columns: ['a'], rows: [[1]], truncated: false } })),
        /expected a string/,
      );
      rejects(parseReplayViewMessage(bad({ review: { outcome: 'ok', waitMs: 1 } })), /outcome/);
      rejects(parseReplayViewMessage(bad({ error: { code: '1' } })), /error\.message: missing/);
      rejects(
        parseReplayViewMessage({ type: 'append', sessionId: 's', events: [{ ...events[0], data: [] }] }),
        /data/,
      );
      rejects(parseReplayViewMessage({ type: 'play' }), /unknown message type/);
    });

    it('replies: ready and export only', () => {
      assert.equal(parseReplayViewReply({ type: 'export', sessionId: 's', format: 'ocsf' }).ok, true);
      rejects(parseReplayViewReply({ type: 'export', sessionId: 's', format: 'csv' }), /format/);
      rejects(parseReplayViewReply({ type: 'export', format: 'jsonl' }), /sessionId: missing/);
    });
  });

  it('builds the page: one root, nonce on every script, the strict CSP', () => {
    const html = webviewHtml({
      cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
      nonce: 'abcdefghijklmnopqrstuv',
      scriptUri: 'https://x/dist/webview/approval.js',
      styleUri: 'https://x/dist/webview/approval.css',
      title: 'Airlock "approvals"',
    });
    assert.match(html, /<div id="app"><\/div>/);
    assert.match(
      html,
      /<script nonce="abcdefghijklmnopqrstuv" src="https:\/\/x\/dist\/webview\/approval\.js"><\/script>/,
    );
    assert.match(html, /<title>Airlock &quot;approvals&quot;<\/title>/);
    assert.ok(
      html.includes(
        contentSecurityPolicy('https://file+.vscode-resource.vscode-cdn.net', 'abcdefghijklmnopqrstuv'),
      ),
    );
    assert.equal(
      contentSecurityPolicy('S', 'N'),
      "default-src 'none'; style-src S; script-src 'nonce-N'; font-src S; img-src S data:",
    );
    assert.throws(() =>
      webviewHtml({ cspSource: 'S', nonce: 'a"b', scriptUri: '', styleUri: '', title: '' }),
    );
  });
});
