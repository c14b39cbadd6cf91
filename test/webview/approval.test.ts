import { strict as assert } from 'node:assert';
import { Harness, type ViewPage } from './harness';
import { sampleRequests } from './sample-data';

type El = { dispatchEvent(e: unknown): boolean; click(): void };
type Doc = {
  getElementById(id: string): El | null;
  querySelector(s: string): unknown;
  dispatchEvent(e: unknown): boolean;
};
type Win = {
  document: Doc;
  MouseEvent: new (t: string, o: object) => unknown;
  KeyboardEvent: new (t: string, o: object) => unknown;
};

describe('approval panel (webview, in Chromium)', function () {
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

  async function openWithQueue(
    options: Parameters<Harness['open']>[1] = {},
  ): Promise<ReturnType<typeof sampleRequests>> {
    view = await harness.open('approval', options);
    const requests = sampleRequests();
    await view.send({ type: 'requests', requests });
    await view.page.locator('#detail[data-armed="true"]').waitFor();
    return requests;
  }

  const text = async (selector: string): Promise<string> =>
    (await view.page.locator(selector).innerText()).replace(/\s+/g, ' ').trim();

  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** Past the panel's minimum gap between the press that arms Approve and the one that confirms it. */
  const CONFIRM_GAP = 450;

  /** Approve takes two presses: the first arms the button, the second (after a moment) decides. */
  async function approve(id: 'approve-once' | 'approve-session'): Promise<void> {
    await view.page.locator(`#${id}`).click();
    await pause(CONFIRM_GAP);
    await view.page.locator(`#${id}`).click();
  }

  const activeId = () =>
    view.page.evaluate(
      () =>
        (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id,
    );

  it('posts ready on load and shows the empty state', async () => {
    view = await harness.open('approval');
    assert.deepEqual(await view.posted(), [{ type: 'ready' }]);
    assert.ok(await view.page.locator('#empty').isVisible());
    assert.match(await text('#empty'), /No statements are waiting for approval/);
  });

  it('renders the queue: every request in a list, the count in the header, the first selected', async () => {
    const requests = await openWithQueue();
    assert.equal(await view.page.locator('#queue[role="list"] > li').count(), 3);
    assert.equal(await text('#queue-count'), '3 waiting');
    assert.ok(!(await view.page.locator('#empty').isVisible()));
    assert.equal(
      await view.page.locator('#queue button[aria-current="true"]').getAttribute('data-id'),
      requests[0].id,
    );
    assert.match(
      await text('#detail-title'),
      /^mcp:claude-code\/1\.0 \(verified: MCP channel; client name claimed\) wants to run UPDATE on public\.customers/,
    );
    assert.match(await text('#sql'), /UPDATE customers SET tier = 'gold' WHERE id = 42/);
    // Highlighted: keywords, strings and numbers are their own spans.
    assert.deepEqual(await view.page.locator('#sql .tok-keyword').allTextContents(), [
      'UPDATE',
      'SET',
      'WHERE',
    ]);
    assert.deepEqual(await view.page.locator('#sql .tok-string').allTextContents(), ["'gold'"]);
    assert.deepEqual(await view.page.locator('#sql .tok-number').allTextContents(), ['42']);
  });

  it('selecting a request shows its SQL, facts, rule, requester and estimate', async () => {
    const requests = await openWithQueue();
    await view.page.locator(`#queue button[data-id="${requests[1].id}"]`).click();
    assert.match(await text('#sql'), /DELETE FROM sessions\s*WHERE last_seen < now\(\) - interval '30 days'/);
    const facts = await text('#facts');
    assert.match(facts, /Command DELETE/);
    assert.match(facts, /Kind write — changes data/);
    assert.match(facts, /Tables public\.sessions/);
    assert.match(facts, /Functions pg_catalog\.now/);
    assert.match(facts, /Masked columns none/);
    assert.match(await text('#estimated-rows'), /≈ 18,234 rows/);
    assert.equal(await text('#rule-name'), 'review-bulk-writes');
    assert.match(await text('#rule-description'), /Deletes without a key lookup/);
    // A name only the client gave is marked as such.
    assert.match(await text('#detail-who'), /Agent claude-code \(claimed\) acting for alice/);

    await view.page.locator(`#queue button[data-id="${requests[2].id}"]`).click();
    assert.match(await text('#facts'), /Masked columns customers\.email customers\.phone/);
    assert.equal(await view.page.locator('#estimated-rows').count(), 0, 'no estimate for a read');
    // A one-line query is shown with its clauses on their own lines.
    const sql = (await view.page.locator('#sql').textContent()) ?? '';
    assert.deepEqual(
      sql.split('\n').map((l) => l.trim().split(' ')[0]),
      ['SELECT', 'FROM', 'JOIN', 'WHERE', 'ORDER', 'LIMIT'],
    );
    await view.page.locator('#sql-toggle').click();
    assert.equal(await view.page.locator('#sql').textContent(), requests[2].sql, 'exactly as sent');
    assert.equal(((await view.state()) as { showOriginal: boolean }).showOriginal, true);
  });

  it('a write without WHERE is flagged as reaching every row; one with WHERE is not', async () => {
    const requests = await openWithQueue();
    assert.doesNotMatch(await text('#facts'), /every row/);
    const [first] = requests;
    const unfiltered = {
      ...first,
      sql: "UPDATE customers SET tier = 'gold'",
      statements: [{ ...first.statements[0], everyRow: true as const }],
    };
    await view.send({ type: 'requests', requests: [unfiltered] });
    await view.page.locator('.every-row').waitFor();
    assert.match(await text('#facts'), /Reaches every row \(no WHERE clause\)/);
  });

  it('Approve once: the first press arms the button, the second posts the decision with id and nonce', async () => {
    const requests = await openWithQueue();
    await view.page.locator('#approve-once').click();
    assert.deepEqual(await view.decisions(), [], 'one press approves nothing');
    assert.equal(await view.page.locator('#approve-once').getAttribute('data-confirm'), 'true');
    assert.match(await text('#approve-once'), /Press again to approve/);
    await pause(CONFIRM_GAP);
    await view.page.locator('#approve-once').click();
    assert.deepEqual(await view.decisions(), [
      { type: 'decide', id: requests[0].id, nonce: requests[0].nonce, decision: 'approve-once' },
    ]);
    assert.match(await text('#decision-status'), /Approved once/);
    // A second click on the same request sends nothing more (force: the button is aria-disabled now).
    await view.page.locator('#approve-once').click({ force: true });
    assert.equal((await view.decisions()).length, 1);
  });

  it('an armed Approve disarms after 4 s, and a quick double click does not confirm', async () => {
    await openWithQueue();
    await view.page.locator('#approve-session').dblclick();
    assert.deepEqual(await view.decisions(), [], 'a double click approves nothing');
    assert.equal(await view.page.locator('#approve-session').getAttribute('data-confirm'), 'true');
    await view.page.locator('#approve-session[data-confirm="false"]').waitFor({ timeout: 6_000 });
    assert.match(await text('#approve-session'), /^Approve for session$/);
    // Disarmed: the next press arms again instead of approving.
    await view.page.locator('#approve-session').click();
    assert.deepEqual(await view.decisions(), []);
    // Arming one Approve does not arm the other.
    await pause(CONFIRM_GAP);
    await view.page.locator('#approve-once').click();
    assert.deepEqual(await view.decisions(), []);
    assert.equal(await view.page.locator('#approve-once').getAttribute('data-confirm'), 'true');
    assert.equal(await view.page.locator('#approve-session').getAttribute('data-confirm'), 'false');
  });

  it('no single letter decides; the keys are told in the panel', async () => {
    const requests = await openWithQueue();
    await view.page.locator(`#queue button[data-id="${requests[0].id}"]`).focus();
    for (const key of ['a', 'A', 's', 'd', 'D', 'y', 'Enter']) await view.page.keyboard.press(key);
    await view.page.locator('#deny-reason').click();
    await view.page.keyboard.type('asd');
    assert.deepEqual(await view.decisions(), [], 'no keystroke outside the buttons decides');
    assert.equal(await view.page.locator('#approve-once').getAttribute('aria-keyshortcuts'), null);
    assert.match(
      await text('#keys-hint'),
      /Tab to the buttons · Approve: press twice \( ?Enter or Space ?\) within 4 s · Deny: once/,
    );
  });

  it('keyboard: arrows move through the queue, Tab reaches the decisions, Enter on a button decides', async () => {
    const requests = await openWithQueue();
    await view.page.locator(`#queue button[data-id="${requests[0].id}"]`).focus();
    await view.page.keyboard.press('ArrowDown');
    assert.equal(
      await view.page.locator('#queue button[aria-current="true"]').getAttribute('data-id'),
      requests[1].id,
    );
    assert.equal(
      await view.page.evaluate(
        () =>
          (globalThis as unknown as { document: { activeElement: { dataset: { id?: string } } } }).document
            .activeElement.dataset.id,
      ),
      requests[1].id,
    );
    // The decisions come first after the queue, with a visible focus ring.
    await view.page.keyboard.press('Tab');
    assert.equal(await activeId(), 'approve-once');
    assert.equal(await view.page.locator('#approve-once').evaluate((e) => e.matches(':focus-visible')), true);
    assert.notEqual(
      await view.page
        .locator('#approve-once')
        .evaluate(
          (e) =>
            (
              globalThis as unknown as { getComputedStyle(e: unknown): { outlineStyle: string } }
            ).getComputedStyle(e).outlineStyle,
        ),
      'none',
      'a focus ring',
    );
    await view.page.keyboard.press('Enter');
    assert.deepEqual(await view.decisions(), [], 'one Enter arms, it does not approve');
    await pause(CONFIRM_GAP);
    await view.page.keyboard.press('Enter');
    assert.deepEqual(await view.decisions(), [
      { type: 'decide', id: requests[1].id, nonce: requests[1].nonce, decision: 'approve-once' },
    ]);
  });

  it('Deny posts the reason (button and Enter in the reason field)', async () => {
    const requests = await openWithQueue();
    await view.page.locator('#deny-reason').fill('  Use the staging database for bulk changes  ');
    await view.page.locator('#deny').click();
    await view.page.locator(`#queue button[data-id="${requests[1].id}"]`).click();
    await view.page.locator('#deny-reason').fill('Too many rows');
    await view.page.locator('#deny-reason').press('Enter');
    await view.page.locator(`#queue button[data-id="${requests[2].id}"]`).click();
    await view.page.keyboard.press('d'); // not a shortcut any more: nothing
    await view.page.locator('#deny').focus();
    await view.page.keyboard.press('Enter'); // Deny is one deliberate press on its button
    assert.deepEqual(await view.decisions(), [
      {
        type: 'decide',
        id: requests[0].id,
        nonce: requests[0].nonce,
        decision: 'deny',
        reason: 'Use the staging database for bulk changes',
      },
      {
        type: 'decide',
        id: requests[1].id,
        nonce: requests[1].nonce,
        decision: 'deny',
        reason: 'Too many rows',
      },
      { type: 'decide', id: requests[2].id, nonce: requests[2].nonce, decision: 'deny' },
    ]);
  });

  it('script-made (untrusted) clicks and key presses never post a decision', async () => {
    await openWithQueue();
    await view.page.evaluate(() => {
      const w = globalThis as unknown as Win;
      const button = w.document.getElementById('approve-once')!;
      button.dispatchEvent(new w.MouseEvent('click', { bubbles: true, cancelable: true }));
      button.click();
      w.document.getElementById('deny')!.click();
      w.document.dispatchEvent(new w.KeyboardEvent('keydown', { key: 'a', bubbles: true }));
      w.document
        .getElementById('deny-reason')!
        .dispatchEvent(new w.KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    });
    assert.deepEqual(await view.decisions(), []);
    assert.ok(view.consoleWarnings.some((w) => /untrusted/.test(w)));
  });

  it('a request that replaces the decided one takes decisions only after a moment', async () => {
    const requests = await openWithQueue();
    await approve('approve-once');
    await view.send({ type: 'requests', requests: requests.slice(1) });
    // Immediately (a double click, a held key): nothing is sent for the request now on screen.
    assert.equal(await view.page.locator('#approve-once').getAttribute('aria-disabled'), 'true');
    await view.page.locator('#approve-once').click({ force: true });
    await view.page.keyboard.press('a');
    assert.equal((await view.decisions()).length, 1);
    assert.equal(
      await view.page.locator('#queue button[aria-current="true"]').getAttribute('data-id'),
      requests[1].id,
    );
    await view.page.locator('#detail[data-armed="true"]').waitFor();
    await approve('approve-once');
    assert.deepEqual((await view.decisions())[1], {
      type: 'decide',
      id: requests[1].id,
      nonce: requests[1].nonce,
      decision: 'approve-once',
    });
  });

  it('counts down, turns urgent under 30 s and ends "timed out — denied"', async () => {
    view = await harness.open('approval');
    const now = Date.now();
    const [request] = sampleRequests(now);
    await view.send({ type: 'requests', requests: [{ ...request, deadline: now + 2_500 }] });
    await view.page.locator('#countdown.urgent').waitFor();
    assert.match(await text('#countdown-value'), /^0:0[0-2]$/);
    await view.page.locator('#countdown.expired').waitFor({ timeout: 5_000 });
    assert.match(await text('#countdown'), /timed out — denied/i);
    assert.equal(await view.page.locator('#approve-once').getAttribute('aria-disabled'), 'true');
    await view.page.locator('#approve-once').click({ force: true });
    await view.page.keyboard.press('a');
    assert.deepEqual(await view.decisions(), [], 'no decision after the deadline');
  });

  it('shows the recent decisions, newest first, as text', async () => {
    const requests = await openWithQueue();
    const at = Date.now();
    await view.send({
      type: 'requests',
      requests: requests.slice(1),
      history: [
        {
          id: requests[0].id,
          sql: requests[0].sql,
          actor: requests[0].actor,
          connection: requests[0].connection,
          outcome: 'timed out',
          at,
        },
        {
          id: 'r-old',
          sql: 'DELETE FROM <b>orders</b>',
          actor: { user: 'ana' },
          connection: 'prod',
          outcome: 'denied',
          by: 'ana',
          at: at - 60_000,
        },
      ],
    });
    await view.page.locator('#history li').nth(1).waitFor();
    const items = await view.page.locator('#history li').allInnerTexts();
    assert.match(items[0], /^timed out · /);
    assert.match(items[1], /^denied by ana · .* ana on prod · DELETE FROM <b>orders<\/b>$/);
    assert.equal(await view.page.locator('#history b').count(), 0, 'SQL is text, never markup');
  });

  it('ignores invalid messages (and warns)', async () => {
    const requests = await openWithQueue();
    const noNonce: Record<string, unknown> = { ...requests[0] };
    delete noNonce.nonce;
    const invalid = [
      { type: 'requests', requests: [noNonce] },
      { type: 'requests', requests: [{ ...requests[0], deadline: 'soon' }] },
      { type: 'requests', requests: [{ ...requests[0], extra: true }] },
      { type: 'requests', requests: [requests[0], requests[0]] },
      { type: 'requests', requests: [], extra: 1 },
      { type: 'requests' },
      { type: 'clear' },
      'requests',
      null,
    ];
    for (const m of invalid) await view.send(m);
    await view.page.waitForTimeout(100);
    assert.equal(await view.page.locator('#queue > li').count(), 3);
    assert.equal(
      view.consoleWarnings.filter((w) => /ignored an invalid message/.test(w)).length,
      invalid.length,
    );
  });

  it('shows data as text, never as markup', async () => {
    view = await harness.open('approval');
    const [r] = sampleRequests();
    await view.send({
      type: 'requests',
      requests: [
        {
          ...r,
          sql: "SELECT '<img src=x onerror=alert(1)>' AS x /* \u202e hidden */",
          rule: '<b>bold</b>',
          actor: { user: '<script>x</script>', agent: 'a&b' },
        },
      ],
    });
    await view.page.locator('#detail-title').waitFor();
    assert.equal(await view.page.locator('img, b, #app script').count(), 0);
    assert.equal(await text('#rule-name'), '<b>bold</b>');
    assert.match(await text('#detail-who'), /<script>x<\/script>/);
    assert.match(await text('#sql'), /'<img src=x onerror=alert\(1\)>'/);
    assert.equal(await view.page.locator('#sql .tok-invisible').textContent(), 'U+202E');
    assert.ok(await view.page.locator('#sql-invisible').isVisible());
  });

  it('marks a claimed agent name, and shows escapes and bidi overrides in it as visible text', async () => {
    view = await harness.open('approval');
    const [r] = sampleRequests();
    await view.send({
      type: 'requests',
      requests: [
        {
          ...r,
          sql: 'SELECT 1 /* \x1b[2J\x1b]0;pwned\x07 */',
          actor: { user: 'alice\u202e', agent: 'mcp:evil\x1b]0;pwned\x07\u202egnp.exe' },
        },
      ],
    });
    await view.page.locator('#detail-title').waitFor();
    assert.match(
      await text('#detail-who'),
      /Agent mcp:evil\\x1b\]0;pwned\\x07\\u202egnp\.exe \(claimed\) acting for alice\\u202e/,
    );
    assert.match(await text('#queue'), /mcp:evil\\x1b\]0;pwned\\x07\\u202egnp\.exe \(claimed\) for alice/);
    // In the SQL box each hidden character is a marker of its own.
    assert.deepEqual(await view.page.locator('#sql .tok-invisible').allTextContents(), [
      'U+001B',
      'U+001B',
      'U+0007',
    ]);
    const hidden = await view.page.evaluate(() =>
      // eslint-disable-next-line no-control-regex -- finding them is the point
      /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/.test(
        (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText,
      ),
    );
    assert.equal(hidden, false, 'a control or bidi character reached the page text');
  });

  it('keeps the selection and the draft reason in the webview state', async () => {
    const requests = await openWithQueue();
    await view.page.locator(`#queue button[data-id="${requests[1].id}"]`).click();
    await view.page.locator('#deny-reason').fill('Not during business hours');
    const state = await view.state();
    assert.deepEqual(state, {
      selectedId: requests[1].id,
      drafts: { [requests[1].id]: 'Not during business hours' },
      showOriginal: false,
    });
    await view.close();
    // A new page (the panel was hidden and shown again) restores both.
    view = await harness.open('approval', { initialState: state });
    await view.send({ type: 'requests', requests });
    assert.equal(
      await view.page.locator('#queue button[aria-current="true"]').getAttribute('data-id'),
      requests[1].id,
    );
    assert.equal(await view.page.locator('#deny-reason').inputValue(), 'Not during business hours');
  });

  it('an empty queue shows the empty state', async () => {
    await openWithQueue();
    await view.send({ type: 'requests', requests: [] });
    assert.ok(await view.page.locator('#empty').isVisible());
    assert.ok(!(await view.page.locator('#layout').isVisible()));
    assert.equal(await text('#queue-count'), '0 waiting');
  });

  for (const theme of ['light', 'high-contrast'] as const)
    it(`renders in the ${theme} theme without CSP problems`, async () => {
      await openWithQueue({ theme });
      assert.ok(await view.page.locator('body.vscode-' + theme).count());
      assert.ok(await view.page.locator('#approve-once').isVisible());
    });
});
