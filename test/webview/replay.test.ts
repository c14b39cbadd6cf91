import { strict as assert } from 'node:assert';
import { Harness, type ViewPage } from './harness';
import { SESSION_ID, laterEvents, liveSession, sampleSession } from './sample-data';

describe('session replay view (webview, in Chromium)', function () {
  this.timeout(30_000);
  let harness: Harness;
  let view: ViewPage;

  before(async () => {
    harness = await Harness.start();
  });
  after(async () => {
    await harness?.close();
  });
  afterEach(async function () {
    if (!view) return;
    const problems = await view.problems();
    await view.close();
    if (this.currentTest?.state === 'passed')
      assert.deepEqual(problems, [], 'CSP violations or console errors');
  });

  async function openWith(
    data: ReturnType<typeof sampleSession> = sampleSession(),
    options: Parameters<Harness['open']>[1] = {},
  ): Promise<void> {
    view = await harness.open('replay', options);
    await view.send({ type: 'session', ...data });
    await view.page.locator('#timeline > li').first().waitFor({ state: 'attached' });
  }

  const text = async (selector: string): Promise<string> =>
    (await view.page.locator(selector).innerText()).replace(/\s+/g, ' ').trim();
  const selectedSeq = async (): Promise<string | null> =>
    view.page.locator('#timeline > li[aria-selected="true"]').getAttribute('data-seq');
  const visibleSeqs = async (): Promise<string[]> =>
    view.page
      .locator('#timeline > li:not([hidden])')
      .evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { seq: string } }).dataset.seq));

  it('posts ready, then renders the summary and the timeline of every event', async () => {
    view = await harness.open('replay');
    assert.deepEqual(await view.posted(), [{ type: 'ready' }]);
    const data = sampleSession();
    await view.send({ type: 'session', ...data });
    assert.equal(
      await view.page.locator('#timeline[role="listbox"] > li[role="option"]').count(),
      data.events.length,
    );
    assert.equal(await text('#session-title'), 'prod');
    assert.equal(await text('#sum-user'), 'alice');
    assert.equal(
      await text('#sum-agent'),
      'mcp:claude-code/1.0 (verified: MCP channel; client name claimed)',
    );
    assert.equal(await text('#sum-client'), '127.0.0.1:53422');
    assert.match(await text('#sum-started'), /^2025-05-14 09:31:02$/);
    assert.match(await text('#sum-ended'), /2025-05-14 09:32:17 \(1 min 16 s\)/);
    assert.equal(await text('#sum-statements'), '8');
    assert.equal(await text('#sum-denials'), '2');
    assert.equal(await text('#live-badge'), 'Ended');
    // Decisions, approvals, errors and session events are told apart.
    assert.equal(await view.page.locator('#timeline > li.decision-deny').count(), 2);
    assert.equal(await view.page.locator('#timeline > li.decision-allow').count(), 6);
    assert.equal(await view.page.locator('#timeline > li.has-approval').count(), 2);
    assert.equal(await view.page.locator('#timeline > li.has-error').count(), 1);
    assert.match(await text('#ev-1'), /Session started/);
    assert.match(await text('#ev-8'), /Checkpoint/);
    assert.match(await text('#ev-11'), /Session ended: client disconnected/);
    assert.match(await text('#ev-4'), /allowed approved by alice/);
    assert.match(await text('#ev-5'), /denied .*no-ddl/);
    // An approval and a refusal on review do not share an icon.
    const reviewIcons = await view.page
      .locator('#timeline > li.has-approval .badge .codicon')
      .evaluateAll((els) => els.map((e) => (e as unknown as { className: string }).className));
    assert.deepEqual(reviewIcons.sort(), ['codicon codicon-thumbsdown', 'codicon codicon-verified']);
    // The record's integrity is in the header; a verified one carries no warning.
    assert.equal(await text('#integrity-badge'), 'Verified');
    assert.equal(await view.page.locator('#integrity-banner').isVisible(), false);
    // A finished session opens on its first statement, numbered as the toolbar counts statements.
    assert.equal(await selectedSeq(), '2');
    assert.equal(await text('#detail-title'), 'Statement 1');
    assert.match(await text('#position'), /^Statement 1 of 8$/);
  });

  it('a tampered record is marked in the header, with the event and what to do', async () => {
    const data = sampleSession();
    await openWith({
      ...data,
      session: {
        ...data.session,
        integrity: 'tampered',
        integrityProblem: 'event 4: modified: its content does not match its hash',
      },
    });
    assert.equal(await text('#integrity-badge'), 'Tampered');
    assert.match(
      await text('#integrity-banner'),
      /changed after it was written \(event 4: modified: its content does not match its hash\)\. What follows is not what happened/,
    );
  });

  it('selecting a statement shows its SQL and its masked result sample (NULL distinct)', async () => {
    await openWith();
    await view.page.locator('#ev-6').click();
    assert.equal(await selectedSeq(), '6');
    assert.match(
      await text('#detail-sql'),
      /SELECT email, phone\s*FROM customers\s*WHERE email LIKE '%@example\.com'/,
    );
    assert.deepEqual(await view.page.locator('#sample-table thead th').allTextContents(), [
      '#',
      'email',
      'phone',
    ]);
    const rows = await view.page
      .locator('#sample-table tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) =>
          [...(tr as unknown as { cells: Iterable<{ textContent: string; className: string }> }).cells].map(
            (c) => (c.className === 'null' ? null : c.textContent),
          ),
        ),
      );
    assert.deepEqual(rows, [
      ['1', 'j***@example.com', '+1 ***-***-0142'],
      ['2', 'a***@example.com', null],
      ['3', 'r***@example.com', '+44 **** ***871'],
    ]);
    assert.equal(await text('#sample-table td.null'), 'NULL');
    assert.match(await text('#sample-truncated'), /Truncated/);

    await view.page.locator('#ev-7').click();
    assert.match(await text('#denial'), /Denied by rule review-bulk-writes/);
    assert.match(await text('#approval'), /Denied by alice after 15\.3 s: too many rows/);
    assert.match(await text('#no-sample'), /Not run/);
    await view.page.locator('#ev-9').click();
    assert.match(await text('#error'), /Error 23503 insert or update on table "notes"/);
    await view.page.locator('#ev-8').click();
    assert.match(await text('#event-detail'), /Checkpoint.*hash sha256:4b7e/);
  });

  it('the search box filters statements by text', async () => {
    await openWith();
    await view.page.locator('#search').fill('customers');
    assert.deepEqual(await visibleSeqs(), ['2', '4', '6', '10']);
    assert.equal(await text('#match-count'), '4 of 8 statements');
    await view.page.locator('#search').fill('MAINTENANCE window');
    assert.deepEqual(await visibleSeqs(), ['7']);
    await view.page.locator('#search').fill('23503');
    assert.deepEqual(await visibleSeqs(), ['9']);
    await view.page.locator('#search').press('Escape');
    assert.equal((await visibleSeqs()).length, 11);
    assert.equal(await view.page.locator('#search').inputValue(), '');
  });

  it('next denial jumps from denial to denial (and wraps), also with N', async () => {
    await openWith();
    await view.page.locator('#next-denial').click();
    assert.equal(await selectedSeq(), '5');
    await view.page.locator('#next-denial').click();
    assert.equal(await selectedSeq(), '7');
    await view.page.locator('#timeline').focus();
    await view.page.keyboard.press('n');
    assert.equal(await selectedSeq(), '5', 'wraps to the first denial');
    assert.match(await text('#position'), /Statement 4 of 8/);
  });

  it('steps, jumps to first/last and plays through statements', async () => {
    await openWith();
    await view.page.locator('#forward').click();
    assert.equal(await selectedSeq(), '3');
    await view.page.locator('#last').click();
    assert.equal(await selectedSeq(), '10');
    assert.equal(await view.page.locator('#forward').getAttribute('aria-disabled'), 'true');
    await view.page.locator('#back').click();
    assert.equal(await selectedSeq(), '9', 'steps skip non-statement events');
    await view.page.locator('#first').click();
    assert.equal(await selectedSeq(), '2');
    // Keyboard on the timeline: arrows through every event, Left/Right through statements.
    await view.page.locator('#timeline').focus();
    await view.page.keyboard.press('ArrowUp');
    assert.equal(await selectedSeq(), '1');
    await view.page.keyboard.press('ArrowRight');
    assert.equal(await selectedSeq(), '2');
    await view.page.keyboard.press('End');
    assert.equal(await selectedSeq(), '11');
    await view.page.keyboard.press('Home');
    await view.page.keyboard.press('ArrowDown');
    assert.equal(await selectedSeq(), '2');
    // Play advances on its own, pause stops it.
    await view.page.locator('#play').click();
    assert.equal(await view.page.locator('#play').getAttribute('aria-pressed'), 'true');
    await view.page.waitForFunction(
      () =>
        (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector(
          '#ev-3[aria-selected="true"]',
        ) !== null,
      undefined,
      { timeout: 3_000 },
    );
    await view.page.locator('#play').click();
    assert.equal(await view.page.locator('#play').getAttribute('aria-pressed'), 'false');
    const paused = await selectedSeq();
    await view.page.waitForTimeout(1_500);
    assert.equal(await selectedSeq(), paused);
  });

  it('a live session appends events and follows them when at the end', async () => {
    await openWith(liveSession());
    assert.equal(await text('#live-badge'), 'Live');
    assert.equal(await selectedSeq(), '10', 'a live session opens at its end');
    const [first, second] = laterEvents();
    await view.send({ type: 'append', sessionId: SESSION_ID, events: [first] });
    assert.equal(await view.page.locator('#timeline > li').count(), 11);
    assert.equal(await selectedSeq(), '12', 'followed');
    assert.equal(await text('#sum-statements'), '9');
    // Not at the end: the selection stays.
    await view.page.locator('#ev-4').click();
    await view.send({ type: 'append', sessionId: SESSION_ID, events: [first, second] }); // 12 again: deduplicated
    assert.equal(await view.page.locator('#timeline > li').count(), 12);
    assert.equal(await selectedSeq(), '4');
    assert.equal(await text('#sum-denials'), '3');
    // Events for another session are ignored; the end of the session ends the live badge.
    await view.send({
      type: 'append',
      sessionId: 'another',
      events: [{ seq: 99, time: new Date().toISOString(), type: 'checkpoint', data: {} }],
    });
    assert.equal(await view.page.locator('#timeline > li').count(), 12);
    await view.page.locator('#last').click();
    await view.send({
      type: 'append',
      sessionId: SESSION_ID,
      events: [
        {
          seq: 14,
          time: '2025-05-14T09:33:00.000Z',
          type: 'session-end',
          data: { reason: 'client disconnected' },
        },
      ],
    });
    assert.equal(await text('#live-badge'), 'Ended');
    assert.equal(await selectedSeq(), '14');
  });

  it('export buttons post the export message', async () => {
    await openWith();
    await view.page.locator('#export-jsonl').click();
    await view.page.locator('#export-ocsf').click();
    assert.deepEqual((await view.posted()).slice(1), [
      { type: 'export', sessionId: SESSION_ID, format: 'jsonl' },
      { type: 'export', sessionId: SESSION_ID, format: 'ocsf' },
    ]);
  });

  it('ignores invalid messages (and warns)', async () => {
    await openWith();
    const { session, events } = sampleSession();
    const badStatement = { ...events[1], data: { ...events[1].data, decision: 'maybe' } };
    const invalid = [
      { type: 'session', session: { ...session, live: 'yes' }, events },
      { type: 'session', session, events: [events[2], events[1]] },
      { type: 'session', session, events: [badStatement] },
      { type: 'session', session: { ...session, extra: 1 }, events },
      {
        type: 'append',
        sessionId: SESSION_ID,
        events: [{ seq: 20, time: 'yesterday', type: 'x', data: {} }],
      },
      { type: 'append', events: [] },
      { type: 'seek', seq: 3 },
    ];
    for (const m of invalid) await view.send(m);
    await view.page.waitForTimeout(100);
    assert.equal(await view.page.locator('#timeline > li').count(), events.length);
    assert.equal(
      view.consoleWarnings.filter((w) => /ignored an invalid message/.test(w)).length,
      invalid.length,
    );
  });

  it('shows unknown event types generically', async () => {
    const data = sampleSession();
    const reload = {
      seq: 0,
      time: data.events[1].time,
      type: 'mask-policy-reload',
      data: { policy: 'v2', rules: 14 },
    };
    data.events = [data.events[0], data.events[1], reload, ...data.events.slice(2)].map((e, i) => ({
      ...e,
      seq: i + 1,
    }));
    await openWith(data);
    await view.page.locator('#ev-3').click();
    assert.match(await text('#event-detail'), /mask-policy-reload.*policy v2 rules 14/);
  });

  it('marks a claimed agent, and shows escapes and bidi overrides as visible text', async () => {
    const data = sampleSession();
    data.session.actor = { user: 'alice', agent: 'mcp:evil\x1b]0;pwned\x07\u202e' };
    const statement = data.events.findIndex((e) => e.type === 'statement');
    const first = data.events[statement];
    data.events[statement] = {
      ...first,
      data: { ...first.data, sql: 'SELECT 1 /* \x1b[2J \u202ereversed\u202c */' },
    } as typeof first;
    await openWith(data);
    assert.equal(await text('#sum-agent'), 'mcp:evil\\x1b]0;pwned\\x07\\u202e (claimed)');
    await view.page.locator(`#ev-${first.seq}`).click();
    assert.deepEqual(await view.page.locator('#detail-sql .tok-invisible').allTextContents(), [
      'U+001B',
      'U+202E',
      'U+202C',
    ]);
    const hidden = await view.page.evaluate(() =>
      // eslint-disable-next-line no-control-regex -- finding them is the point
      /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/.test(
        (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText,
      ),
    );
    assert.equal(hidden, false, 'a control or bidi character reached the page text');
  });

  it('keeps the selected event and the search in the webview state', async () => {
    await openWith();
    await view.page.locator('#search').fill('select');
    await view.page.locator('#ev-6').click();
    const state = await view.state();
    assert.deepEqual(state, { sessionId: SESSION_ID, selectedSeq: 6, search: 'select' });
    await view.close();
    await openWith(sampleSession(), { initialState: state });
    assert.equal(await selectedSeq(), '6');
    assert.equal(await view.page.locator('#search').inputValue(), 'select');
    assert.deepEqual(await visibleSeqs(), ['2', '3', '6', '10']);
  });

  for (const theme of ['light', 'high-contrast'] as const)
    it(`renders in the ${theme} theme without CSP problems`, async () => {
      await openWith(sampleSession(), { theme });
      assert.ok(await view.page.locator('#sample-table').isVisible());
    });
});
