/**
 * The approval panel: the queue of statements waiting for a person's decision, the selected one in
 * detail (SQL, what it touches, the rule that asked, who asks, time left), the three decisions pinned
 * above the facts, and the latest decisions. Decisions are posted only from trusted user events and echo
 * the request's nonce; no single keystroke decides (Approve takes a second press to confirm).
 */
import './style.css';
import { WEBVIEW_ROOT_ID } from '../../src/shared/webviews/page';
import {
  MAX_REASON_LENGTH,
  parseApprovalPanelMessage,
  type ApprovalDecision,
  type ApprovalPanelReply,
  type DecidedApproval,
  type PendingApproval,
  type PendingStatementFacts,
} from '../../src/shared/webviews/approval-protocol';
import { announcer, h, icon, isTextEntry, replace, setAttrs, setText } from '../shared/dom';
import { actorLabel, clock, plural, shortId, timeOfDay } from '../shared/format';
import { agentLabel } from '../../src/core/identity/actor';
import { hasInvisibleCharacters, renderSql, sqlSummary } from '../shared/sql';
import { onHostMessage, viewHost } from '../shared/vscode';

/** Below this, the countdown turns urgent. */
const URGENT_MS = 30_000;
/** A request that replaces the one on screen (not by the user's choice) takes decisions only after this. */
const ARM_DELAY_MS = 500;
/** A first press of an Approve button arms it; a second press within this confirms. */
const CONFIRM_MS = 4_000;
/** A second press sooner than this (a double click, a bounce) does not confirm. */
const CONFIRM_GAP_MS = 400;

interface SavedState {
  selectedId?: string;
  /** Draft deny reasons by request id. */
  drafts: Record<string, string>;
  showOriginal?: boolean;
}

function isSavedState(x: unknown): x is SavedState {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  if (s.selectedId !== undefined && typeof s.selectedId !== 'string') return false;
  if (s.showOriginal !== undefined && typeof s.showOriginal !== 'boolean') return false;
  if (typeof s.drafts !== 'object' || s.drafts === null) return false;
  return Object.values(s.drafts).every((v) => typeof v === 'string');
}

const host = viewHost<ApprovalPanelReply, SavedState>(isSavedState);
const saved = host.loadState();

let requests: PendingApproval[] = [];
let selectedId: string | null = saved?.selectedId ?? null;
const drafts = new Map<string, string>(Object.entries(saved?.drafts ?? {}));
let showOriginal = saved?.showOriginal ?? false;
/** Requests decided here, until the extension drops them from the queue. */
const sent = new Map<string, ApprovalDecision>();
/** The request the detail shows, and from when decisions on it are accepted. */
let shownId: string | null = null;
let shownKey = '';
let armedAt = 0;
let received = false;
/** The Approve button armed by a first press, until when. */
let confirming: { decision: ApprovalDecision; id: string; from: number; until: number } | null = null;
const announced = new Map<string, 'urgent' | 'timeout'>();

const DECISIONS: Record<ApprovalDecision, { label: string; done: string }> = {
  'approve-once': { label: 'Approve once', done: 'Approved once' },
  'approve-session': { label: 'Approve for session', done: 'Approved for this session' },
  deny: { label: 'Deny', done: 'Denied' },
};
const CONFIRM_LABEL = 'Press again to approve';

const KIND_TEXT: Record<string, string> = {
  read: 'read — reads data',
  write: 'write — changes data',
  ddl: 'schema change (DDL)',
  dcl: 'permission change (GRANT/REVOKE/roles)',
  transaction: 'transaction control',
  session: 'session setting',
  utility: 'utility command',
  unknown: 'unknown — the analysis could not classify it',
};

// -------------------------------------------------------------------------------------------------
// Layout (built once; later updates change text and attributes only)
// -------------------------------------------------------------------------------------------------

const root = document.getElementById(WEBVIEW_ROOT_ID) ?? document.body;
root.classList.add('approval');
const announce = announcer(root);

const countBadge = h('span', { class: 'badge', id: 'queue-count', 'aria-live': 'polite' }, '0 waiting');
const header = h(
  'header',
  { class: 'al-header' },
  h('div', { class: 'al-title' }, icon('shield'), h('h1', {}, 'Statements waiting for approval')),
  countBadge,
);

const empty = h(
  'div',
  { class: 'al-empty', id: 'empty' },
  icon('check-all', 'al-empty-icon'),
  h('p', { class: 'al-empty-title' }, 'No statements are waiting for approval'),
  h(
    'p',
    { class: 'muted' },
    'When a policy rule asks for a person’s review, the statement waits here until you approve or deny it.',
  ),
);

const queueList = h('ul', { id: 'queue', class: 'queue', role: 'list', 'aria-labelledby': 'queue-heading' });
const queueNav = h(
  'nav',
  { class: 'al-queue', 'aria-label': 'Queue' },
  h('h3', { id: 'queue-heading' }, 'Queue'),
  queueList,
  h('p', { class: 'queue-hint muted' }, '↑ ↓ to switch'),
);

const detailTitle = h('h2', { id: 'detail-title', tabindex: '-1' });
const whoLine = h('p', { id: 'detail-who', class: 'who' });
const metaLine = h('p', { id: 'detail-meta', class: 'meta muted' });
const countdownValue = h('span', { class: 'countdown-value', id: 'countdown-value' });
const countdownText = h('span', { class: 'countdown-text', id: 'countdown-text' });
const countdown = h(
  'div',
  { id: 'countdown', class: 'countdown', role: 'timer', 'aria-live': 'off', 'aria-atomic': 'true' },
  icon('watch', 'countdown-icon'),
  h('span', { class: 'countdown-body' }, countdownValue, countdownText),
);

const ruleName = h('code', { id: 'rule-name', class: 'chip' });
const ruleDescription = h('p', { id: 'rule-description', class: 'rule-description' });
const ruleBox = h(
  'section',
  { class: 'card rule', 'aria-labelledby': 'rule-heading' },
  h('h3', { id: 'rule-heading' }, 'Why you are asked'),
  h('p', {}, 'The policy rule ', ruleName, ' requires a person to review this statement.'),
  ruleDescription,
);

const sqlCode = h('code', {});
const sqlPre = h(
  'pre',
  { id: 'sql', class: 'code', tabindex: '0', 'aria-labelledby': 'sql-heading' },
  sqlCode,
);
const sqlToggle = h(
  'button',
  { type: 'button', class: 'link-btn', id: 'sql-toggle', 'aria-pressed': 'false' },
  'Show exactly as sent',
);
const invisibleWarning = h(
  'p',
  { id: 'sql-invisible', class: 'warning-note', hidden: true },
  icon('warning'),
  ' This SQL contains invisible or control characters, shown as U+… markers. Check it carefully.',
);
const sqlSection = h(
  'section',
  { class: 'sql-section', 'aria-labelledby': 'sql-heading' },
  h('div', { class: 'section-head' }, h('h3', { id: 'sql-heading' }, 'SQL'), sqlToggle),
  sqlPre,
  invisibleWarning,
);

const factsBox = h('div', { id: 'facts' });
const factsSection = h(
  'section',
  { class: 'facts-section', 'aria-labelledby': 'facts-heading' },
  h('h3', { id: 'facts-heading' }, 'What it touches'),
  factsBox,
);

function decisionButton(decision: ApprovalDecision, cls: string, iconName: string): HTMLButtonElement {
  const d = DECISIONS[decision];
  const btn = h(
    'button',
    {
      type: 'button',
      id: decision,
      class: `btn decision-btn ${cls}`,
      'aria-describedby': `${decision}-desc`,
      'data-decision': decision,
    },
    icon(iconName),
    h('span', { class: 'btn-label' }, d.label),
  );
  btn.addEventListener('click', (ev) => decide(decision, ev));
  // A held Enter repeats clicks: only a fresh press counts (a confirm is two presses, not one long one).
  btn.addEventListener('keydown', (ev) => {
    if (ev.repeat && ev.key === 'Enter') ev.preventDefault();
  });
  return btn;
}

const approveOnce = decisionButton('approve-once', '', 'check');
const approveSession = decisionButton('approve-session', 'secondary', 'check-all');
const denyBtn = decisionButton('deny', 'danger', 'circle-slash');
const sessionDesc = h('span', { id: 'session-ref' });
const reasonField = h('textarea', {
  id: 'deny-reason',
  rows: 2,
  maxlength: MAX_REASON_LENGTH,
  placeholder: 'Reason for denying (optional), e.g. use staging for bulk changes',
  'aria-describedby': 'deny-reason-hint',
});
const decisionStatus = h('p', { id: 'decision-status', class: 'decision-status', role: 'status' });
const historyList = h('ol', { id: 'history', class: 'history', 'aria-labelledby': 'history-heading' });
const historySection = h(
  'section',
  { class: 'al-history', 'aria-labelledby': 'history-heading', hidden: true },
  h('h3', { id: 'history-heading' }, 'Recent decisions'),
  historyList,
);
const keysHint = h(
  'p',
  { class: 'keys-hint muted', id: 'keys-hint' },
  icon('keyboard'),
  h('span', { class: 'kbd' }, 'Tab'),
  ' to the buttons · Approve: press twice (',
  h('span', { class: 'kbd' }, 'Enter'),
  ' or ',
  h('span', { class: 'kbd' }, 'Space'),
  ') within 4 s · Deny: once · ',
  h('span', { class: 'kbd' }, '↑'),
  h('span', { class: 'kbd' }, '↓'),
  ' other requests · ',
  h('span', { class: 'kbd' }, 'Esc'),
  ' queue',
);
// Pinned at the top of the detail: the decision is never below the fold, however long the SQL.
const decisionSection = h(
  'section',
  { class: 'card decision', id: 'decision', 'aria-labelledby': 'decision-heading' },
  h('div', { class: 'decision-top' }, h('h3', { id: 'decision-heading' }, 'Your decision'), countdown),
  h(
    'div',
    { class: 'decision-row' },
    approveOnce,
    approveSession,
    h(
      'div',
      { class: 'deny-group' },
      h('label', { for: 'deny-reason', class: 'visually-hidden' }, 'Reason for denying (optional)'),
      reasonField,
      denyBtn,
    ),
  ),
  h(
    'p',
    { id: 'approve-once-desc', class: 'visually-hidden' },
    'Runs this statement once. If the agent sends it again, you are asked again. Press twice to approve.',
  ),
  h(
    'p',
    { id: 'approve-session-desc', class: 'visually-hidden' },
    'Runs it, and approves identical statements (same SQL text) for the rest of this session',
    sessionDesc,
    ' without asking again. Press twice to approve.',
  ),
  h(
    'p',
    { id: 'deny-reason-hint', class: 'visually-hidden' },
    'Enter denies with this reason; Shift+Enter adds a line.',
  ),
  h(
    'p',
    { id: 'deny-desc', class: 'visually-hidden' },
    'Does not run the statement. The agent’s client gets an error with your reason.',
  ),
  decisionStatus,
  keysHint,
);

const detail = h(
  'section',
  { id: 'detail', class: 'al-detail', 'aria-labelledby': 'detail-title', 'data-armed': 'false' },
  decisionSection,
  h('div', { class: 'detail-heading' }, detailTitle, whoLine, metaLine),
  h('div', { class: 'detail-main' }, ruleBox, sqlSection, factsSection),
);

const layout = h('div', { class: 'al-layout', id: 'layout', hidden: true }, queueNav, detail);
root.append(header, empty, layout, historySection);

// -------------------------------------------------------------------------------------------------
// Rendering
// -------------------------------------------------------------------------------------------------

function current(): PendingApproval | undefined {
  return requests.find((r) => r.id === selectedId);
}

function remainingMs(r: PendingApproval): number {
  return r.deadline - Date.now();
}

/** "UPDATE on customers", "SELECT on orders, customers", "2 statements: …". */
function describe(r: PendingApproval): string {
  const one = (s: PendingStatementFacts): string =>
    s.relations.length ? `${s.command} on ${s.relations.join(', ')}` : s.command;
  if (r.statements.length === 0) return sqlSummary(r.sql, 60);
  if (r.statements.length === 1) return one(r.statements[0]);
  return `${r.statements.length} statements: ${r.statements.map(one).join('; ')}`;
}

function saveState(): void {
  const d: Record<string, string> = {};
  for (const [id, text] of drafts) if (text && (!received || requests.some((r) => r.id === id))) d[id] = text;
  host.saveState({ selectedId: selectedId ?? undefined, drafts: d, showOriginal });
}

function queueItem(r: PendingApproval): HTMLLIElement {
  const btn = h(
    'button',
    {
      type: 'button',
      class: 'queue-btn',
      'data-id': r.id,
      'aria-label': `${describe(r)}, requested by ${actorLabel(r.actor)} on ${r.connection}`,
    },
    h(
      'span',
      { class: 'qi-line1' },
      h('span', { class: 'qi-title' }, describe(r)),
      h('span', { class: 'qi-countdown', 'aria-hidden': 'true' }),
    ),
    h('span', { class: 'qi-line2' }, `${actorLabel(r.actor)} · ${r.connection}`),
    h('span', { class: 'qi-sql' }, sqlSummary(r.sql, 90)),
  );
  btn.addEventListener('click', () => select(r.id, true));
  return h('li', { class: 'queue-item', 'data-id': r.id }, btn);
}

function queueButtons(): HTMLButtonElement[] {
  return [...queueList.querySelectorAll<HTMLButtonElement>('button.queue-btn')];
}

function renderQueue(): void {
  const focusWasInQueue = queueList.contains(document.activeElement);
  const existing = new Map<string, HTMLLIElement>();
  for (const li of [...queueList.children] as HTMLLIElement[]) {
    const id = li.dataset.id ?? '';
    if (requests.some((r) => r.id === id)) existing.set(id, li);
    else li.remove();
  }
  requests.forEach((r, i) => {
    const li = existing.get(r.id) ?? queueItem(r);
    if (queueList.children[i] !== li) queueList.insertBefore(li, queueList.children[i] ?? null);
  });
  for (const btn of queueButtons()) {
    const on = btn.dataset.id === selectedId;
    setAttrs(btn, { 'aria-current': on ? 'true' : false, tabindex: on ? '0' : '-1' });
    btn.parentElement?.classList.toggle('selected', on);
    btn.parentElement?.classList.toggle('sent', sent.has(btn.dataset.id ?? ''));
  }
  if (focusWasInQueue && !queueList.contains(document.activeElement)) selectedButton()?.focus();
  setText(countBadge, `${requests.length} waiting`);
  empty.hidden = requests.length > 0;
  layout.hidden = requests.length === 0;
}

function selectedButton(): HTMLButtonElement | undefined {
  return queueButtons().find((b) => b.dataset.id === selectedId);
}

function chips(values: string[], cls = ''): HTMLElement {
  if (values.length === 0) return h('span', { class: 'none' }, 'none');
  return h(
    'span',
    { class: 'chips' },
    ...values.map((v) => h('span', { class: `chip ${cls}` }, cls === 'masked' ? icon('lock') : null, v)),
  );
}

function renderFacts(r: PendingApproval): void {
  const blocks = r.statements.map((s, i) =>
    h(
      'div',
      { class: 'statement-facts' },
      r.statements.length > 1
        ? h('p', { class: 'statement-no' }, `Statement ${i + 1} of ${r.statements.length}`)
        : null,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Command'),
        h('dd', {}, h('strong', {}, s.command)),
        h('dt', {}, 'Kind'),
        h('dd', { class: `kind kind-${s.kind}` }, KIND_TEXT[s.kind] ?? s.kind),
        h('dt', {}, 'Tables'),
        h('dd', {}, chips(s.relations)),
        s.everyRow ? h('dt', {}, 'Reaches') : null,
        s.everyRow
          ? h(
              'dd',
              { class: 'every-row' },
              icon('warning'),
              h('strong', {}, ' every row'),
              s.command === 'TRUNCATE' ? ' (TRUNCATE)' : ' (no WHERE clause)',
            )
          : null,
        h('dt', {}, 'Functions'),
        h('dd', {}, chips(s.functions)),
        h('dt', {}, 'Masked columns'),
        h('dd', {}, chips(s.maskedColumns, 'masked')),
      ),
    ),
  );
  let estimate: HTMLElement | null = null;
  if (r.estimatedRows === null)
    estimate = h('span', { class: 'estimate unknown' }, icon('warning'), ' Could not be estimated');
  else if (r.estimatedRows !== undefined)
    estimate = h(
      'span',
      { class: 'estimate' },
      h('strong', {}, `≈ ${plural(Math.round(r.estimatedRows), 'row')}`),
      h('span', { class: 'muted' }, ' (estimate from EXPLAIN)'),
    );
  replace(
    factsBox,
    ...blocks,
    estimate
      ? h(
          'dl',
          { class: 'facts estimate-row', id: 'estimated-rows' },
          h('dt', {}, 'Rows affected'),
          h('dd', {}, estimate),
        )
      : null,
  );
}

function renderDetail(): void {
  const r = current();
  if (!r) return;
  const key = JSON.stringify(r);
  if (shownKey !== key) {
    shownKey = key;
    renderFacts(r);
    const agent = agentLabel(r.actor);
    replace(
      whoLine,
      agent ? h('span', { class: 'who-part' }, icon('robot'), 'Agent', h('strong', {}, agent)) : null,
      agent ? 'acting for' : '',
      h('span', { class: 'who-part' }, icon('person'), h('strong', {}, r.actor.user)),
      agent ? null : ' (no agent reported)',
    );
    replace(
      metaLine,
      icon('database'),
      `${r.connection} · session`,
      h('span', { class: 'mono', title: r.sessionId }, shortId(r.sessionId)),
      ` · asked at ${timeOfDay(r.requestedAt)}`,
    );
    setText(detailTitle, `${agent ?? r.actor.user} wants to run ${describe(r)}`);
    setText(ruleName, r.rule);
    setText(ruleDescription, r.ruleDescription ?? '');
    ruleDescription.hidden = !r.ruleDescription;
    renderSql(sqlCode, r.sql, { format: !showOriginal });
    invisibleWarning.hidden = !hasInvisibleCharacters(r.sql);
    setText(sessionDesc, ` (session ${shortId(r.sessionId)})`);
    const draft = drafts.get(r.id) ?? '';
    if (reasonField.value !== draft) reasonField.value = draft;
  }
  updateDecisionState();
}

const OUTCOME_CLASS: Record<DecidedApproval['outcome'], string> = {
  'approved once': 'allow',
  'approved for the session': 'allow',
  denied: 'deny',
  'timed out': 'deny',
  withdrawn: 'muted',
};

function renderHistory(history: DecidedApproval[]): void {
  historySection.hidden = history.length === 0;
  replace(
    historyList,
    ...history.map((d) =>
      h(
        'li',
        { class: `history-item outcome-${OUTCOME_CLASS[d.outcome]}`, 'data-id': d.id },
        h('span', { class: 'history-outcome' }, d.outcome),
        d.by ? ` by ${d.by}` : '',
        ` · ${timeOfDay(d.at)} · ${actorLabel(d.actor)} on ${d.connection} · `,
        h('code', { class: 'history-sql', title: d.sql }, sqlSummary(d.sql, 90)),
      ),
    ),
  );
}

function renderSqlToggle(): void {
  setText(sqlToggle, showOriginal ? 'Show formatted' : 'Show exactly as sent');
  sqlToggle.setAttribute('aria-pressed', String(showOriginal));
  const r = current();
  if (r) renderSql(sqlCode, r.sql, { format: !showOriginal });
}

/** Countdowns, urgency, time-outs, arming: runs on a timer and after every change. */
function updateDecisionState(): void {
  const now = Date.now();
  for (const btn of queueButtons()) {
    const r = requests.find((q) => q.id === btn.dataset.id);
    const el = btn.querySelector('.qi-countdown');
    if (!r || !el) continue;
    const left = r.deadline - now;
    const d = sent.get(r.id);
    setText(el, d ? DECISIONS[d].done : left <= 0 ? 'timed out' : clock(left / 1000));
    btn.parentElement?.classList.toggle('urgent', !d && left > 0 && left < URGENT_MS);
    btn.parentElement?.classList.toggle('expired', !d && left <= 0);
  }
  const r = current();
  if (!r) return;
  const left = remainingMs(r);
  const decided = sent.get(r.id);
  const expired = left <= 0;
  const urgent = !expired && left < URGENT_MS;
  countdown.classList.toggle('urgent', urgent && !decided);
  countdown.classList.toggle('expired', expired && !decided);
  countdown.classList.toggle('done', !!decided);
  if (decided) {
    setText(countdownValue, DECISIONS[decided].done);
    setText(countdownText, 'waiting for Airlock');
  } else if (expired) {
    setText(countdownValue, 'Timed out — denied');
    setText(countdownText, 'no decision arrived in time; the client got an error');
  } else {
    setText(countdownValue, clock(left / 1000));
    setText(
      countdownText,
      urgent ? 'left — decide now, then it is denied' : 'left to decide, then it is denied',
    );
  }
  countdown.setAttribute(
    'aria-label',
    decided || expired ? (countdownValue.textContent ?? '') : `${clock(left / 1000)} left to decide`,
  );
  if (!decided && (urgent || expired) && announced.get(r.id) !== (expired ? 'timeout' : 'urgent')) {
    announced.set(r.id, expired ? 'timeout' : 'urgent');
    announce(expired ? 'Timed out — denied' : 'Less than 30 seconds left to decide');
  }
  const armed = now >= armedAt;
  detail.dataset.armed = String(armed);
  const blocked = !armed || expired || !!decided;
  for (const b of [approveOnce, approveSession, denyBtn]) b.setAttribute('aria-disabled', String(blocked));
  if (confirming && (confirming.id !== r.id || now > confirming.until || blocked)) {
    confirming = null;
    announce('Approval not confirmed');
  }
  for (const b of [approveOnce, approveSession]) {
    const decision = b.dataset.decision as ApprovalDecision;
    const on = confirming?.decision === decision;
    b.classList.toggle('confirming', on);
    b.dataset.confirm = String(on);
    const label = b.querySelector('.btn-label');
    if (label) setText(label, on ? CONFIRM_LABEL : DECISIONS[decision].label);
  }
  reasonField.disabled = expired || !!decided;
  setText(
    decisionStatus,
    decided
      ? `${DECISIONS[decided].done}. Sent to Airlock.`
      : expired
        ? 'This request timed out and was denied. It leaves the queue shortly.'
        : '',
  );
}

function render(): void {
  renderQueue();
  renderDetail();
  shownId = current()?.id ?? null;
}

// -------------------------------------------------------------------------------------------------
// Behaviour
// -------------------------------------------------------------------------------------------------

function select(id: string, byUser: boolean): void {
  if (!requests.some((r) => r.id === id)) return;
  const changed = id !== shownId;
  selectedId = id;
  if (changed) armedAt = byUser ? 0 : Date.now() + ARM_DELAY_MS;
  render();
  saveState();
}

function onRequests(next: PendingApproval[], history: DecidedApproval[]): void {
  renderHistory(history);
  const previousIndex = requests.findIndex((r) => r.id === selectedId);
  const added = next.filter((r) => !requests.some((q) => q.id === r.id)).length;
  requests = next;
  for (const id of [...sent.keys()]) if (!next.some((r) => r.id === id)) sent.delete(id);
  for (const id of [...announced.keys()]) if (!next.some((r) => r.id === id)) announced.delete(id);
  if (received) for (const id of [...drafts.keys()]) if (!next.some((r) => r.id === id)) drafts.delete(id);
  received = true;
  if (!next.some((r) => r.id === selectedId)) {
    // Keep the reviewer's place: the request now at the same position, else the last.
    const pick = next[Math.min(Math.max(previousIndex, 0), next.length - 1)];
    selectedId = pick?.id ?? null;
  }
  if (selectedId !== shownId) armedAt = Date.now() + ARM_DELAY_MS;
  render();
  saveState();
  if (added > 0) announce(`${plural(added, 'new statement')} waiting. ${requests.length} in total.`);
  else if (next.length === 0) announce('No statements are waiting for approval');
}

function decide(decision: ApprovalDecision, ev: Event): void {
  // Only a person may decide: script-made events (isTrusted false) never post a decision.
  if (!ev.isTrusted) {
    console.warn('Airlock: ignored a decision from an untrusted event');
    return;
  }
  const r = current();
  if (!r || sent.has(r.id)) return;
  if (Date.now() < armedAt || remainingMs(r) <= 0) return;
  // Approve is never one stray press: the first arms the button, a second one within CONFIRM_MS decides.
  if (decision !== 'deny' && (confirming?.decision !== decision || confirming.id !== r.id)) {
    const now = Date.now();
    confirming = { decision, id: r.id, from: now + CONFIRM_GAP_MS, until: now + CONFIRM_MS };
    updateDecisionState();
    announce(`${DECISIONS[decision].label}: press again within 4 seconds to confirm`);
    return;
  }
  if (decision !== 'deny' && Date.now() < (confirming?.from ?? 0)) return;
  confirming = null;
  const reason = decision === 'deny' ? reasonField.value.trim().slice(0, MAX_REASON_LENGTH) : '';
  const message: ApprovalPanelReply = {
    type: 'decide',
    id: r.id,
    nonce: r.nonce,
    decision,
    ...(reason ? { reason } : {}),
  };
  host.post(message);
  sent.set(r.id, decision);
  drafts.delete(r.id);
  render();
  saveState();
  announce(`${DECISIONS[decision].done}: ${describe(r)}`);
}

function moveSelection(delta: number | 'first' | 'last'): void {
  if (requests.length === 0) return;
  const i = requests.findIndex((r) => r.id === selectedId);
  const j =
    delta === 'first'
      ? 0
      : delta === 'last'
        ? requests.length - 1
        : Math.min(requests.length - 1, Math.max(0, i + delta));
  select(requests[j].id, true);
  selectedButton()?.focus();
}

sqlToggle.addEventListener('click', () => {
  showOriginal = !showOriginal;
  renderSqlToggle();
  saveState();
});

reasonField.addEventListener('input', () => {
  if (selectedId) drafts.set(selectedId, reasonField.value);
  saveState();
});

reasonField.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.ctrlKey && !ev.altKey && !ev.metaKey && !ev.isComposing) {
    ev.preventDefault();
    decide('deny', ev);
  } else if (ev.key === 'Escape') {
    ev.preventDefault();
    denyBtn.focus();
  }
});

queueList.addEventListener('keydown', (ev) => {
  const moves: Record<string, number | 'first' | 'last'> = {
    ArrowDown: 1,
    ArrowUp: -1,
    Home: 'first',
    End: 'last',
  };
  const move = moves[ev.key];
  if (move !== undefined) {
    ev.preventDefault();
    moveSelection(move);
  } else if (ev.key === 'Enter' && ev.target instanceof HTMLButtonElement) {
    // Enter picks the request and takes the reader to it (it does not decide anything).
    ev.preventDefault();
    const id = ev.target.dataset.id;
    if (id) select(id, true);
    detailTitle.focus();
  }
});

document.addEventListener('keydown', (ev) => {
  if (!ev.isTrusted || ev.defaultPrevented || isTextEntry(ev.target)) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === 'Escape') {
    selectedButton()?.focus();
    return;
  }
  // No letter decides: a keystroke meant for the editor that lands here must not approve or deny.
  if ((ev.key === 'ArrowDown' || ev.key === 'ArrowUp') && !queueList.contains(ev.target as Node)) {
    if (ev.target instanceof HTMLElement && ev.target.closest('pre')) return; // let the SQL scroll
    ev.preventDefault();
    moveSelection(ev.key === 'ArrowDown' ? 1 : -1);
  }
});

onHostMessage(parseApprovalPanelMessage, (message) => {
  if (message.type === 'requests') onRequests(message.requests, message.history ?? []);
});

setInterval(updateDecisionState, 250);
renderSqlToggle();
render();
host.post({ type: 'ready' });
