/**
 * The session replay view: who and what the session was, a timeline of its events, the selected
 * statement's SQL and masked result sample, playback through statements, a filter, live appends and
 * export.
 */
import './style.css';
import type { ReviewRecord } from '../../src/core/gate/decision';
import type { ExportFormat, StatementRecord } from '../../src/core/recording/events';
import { WEBVIEW_ROOT_ID } from '../../src/shared/webviews/page';
import {
  parseReplayViewMessage,
  parseStatementRecord,
  type ReplayEvent,
  type ReplayViewReply,
  type ReplaySession,
} from '../../src/shared/webviews/replay-protocol';
import { announcer, h, icon, isTextEntry, replace, setText, type Child } from '../shared/dom';
import { dateTime, duration, plural, preciseTime, shortId } from '../shared/format';
import { agentLabel } from '../../src/core/identity/actor';
import { renderSql, sqlSummary } from '../shared/sql';
import { onHostMessage, viewHost } from '../shared/vscode';

/** Time between statements while playing. */
const PLAY_INTERVAL_MS = 1200;

interface SavedState {
  sessionId?: string;
  selectedSeq?: number;
  search: string;
}

function isSavedState(x: unknown): x is SavedState {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  return (
    typeof s.search === 'string' &&
    (s.sessionId === undefined || typeof s.sessionId === 'string') &&
    (s.selectedSeq === undefined || typeof s.selectedSeq === 'number')
  );
}

const host = viewHost<ReplayViewReply, SavedState>(isSavedState);
const saved = host.loadState();

let session: ReplaySession | null = null;
let events: ReplayEvent[] = [];
const statements = new Map<number, StatementRecord>();
const items = new Map<number, HTMLLIElement>();
let selectedSeq: number | null = null;
let search = saved?.search ?? '';
let playTimer: ReturnType<typeof setInterval> | null = null;

// -------------------------------------------------------------------------------------------------
// Layout
// -------------------------------------------------------------------------------------------------

const root = document.getElementById(WEBVIEW_ROOT_ID) ?? document.body;
root.classList.add('replay');
const announce = announcer(root);

const titleEl = h('h1', { id: 'session-title' }, '…');
const liveBadge = h('span', { id: 'live-badge', class: 'badge', hidden: true });
const integrityBadge = h('span', { id: 'integrity-badge', class: 'badge', hidden: true });
const integrityBanner = h('p', {
  id: 'integrity-banner',
  class: 'integrity-banner',
  role: 'alert',
  hidden: true,
});
const summaryList = h('dl', { id: 'session-summary', class: 'rp-summary' });

function exportButton(format: ExportFormat, label: string): HTMLButtonElement {
  const btn = h(
    'button',
    {
      type: 'button',
      class: 'btn secondary',
      id: `export-${format}`,
      disabled: true,
      title: `Export this session as ${label}`,
    },
    icon('export'),
    label,
  );
  btn.addEventListener('click', () => {
    if (session) host.post({ type: 'export', sessionId: session.id, format });
  });
  return btn;
}
const exportJsonl = exportButton('jsonl', 'Export JSONL');
const exportOcsf = exportButton('ocsf', 'Export OCSF');

const header = h(
  'header',
  { class: 'rp-header' },
  h(
    'div',
    { class: 'rp-head-row' },
    h(
      'div',
      { class: 'rp-title' },
      icon('database'),
      h('div', { class: 'rp-title-text' }, h('span', { class: 'eyebrow' }, 'Session replay'), titleEl),
      liveBadge,
      integrityBadge,
    ),
    h('div', { class: 'rp-export', role: 'group', 'aria-label': 'Export' }, exportJsonl, exportOcsf),
  ),
  integrityBanner,
  summaryList,
);

function toolButton(id: string, iconName: string, label: string, keys: string): HTMLButtonElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'icon-btn',
      id,
      title: `${label} (${keys})`,
      'aria-label': label,
      'aria-keyshortcuts': keys,
    },
    icon(iconName),
  );
}
const firstBtn = toolButton('first', 'debug-reverse-continue', 'First statement', 'Home');
const backBtn = toolButton('back', 'chevron-left', 'Previous statement', 'ArrowLeft');
const playBtn = toolButton('play', 'play', 'Play', 'Space');
playBtn.setAttribute('aria-pressed', 'false');
const forwardBtn = toolButton('forward', 'chevron-right', 'Next statement', 'ArrowRight');
const lastBtn = toolButton('last', 'debug-continue', 'Last statement', 'End');
const denialBtn = h(
  'button',
  {
    type: 'button',
    class: 'icon-btn text',
    id: 'next-denial',
    title: 'Next denial (N)',
    'aria-keyshortcuts': 'N',
  },
  icon('circle-slash', 'deny-icon'),
  h('span', {}, 'Next denial'),
);
const position = h('span', { id: 'position', class: 'position muted', 'aria-live': 'off' });
const searchInput = h('input', {
  type: 'search',
  id: 'search',
  placeholder: 'Filter statements: SQL, rule, reason, error…',
  'aria-label': 'Filter statements',
  'aria-keyshortcuts': '/',
  autocomplete: 'off',
  spellcheck: 'false',
});
const matchCount = h('span', { id: 'match-count', class: 'muted', 'aria-live': 'polite' });
const toolbar = h(
  'div',
  { class: 'rp-toolbar' },
  h(
    'div',
    { class: 'rp-controls', role: 'group', 'aria-label': 'Playback' },
    firstBtn,
    backBtn,
    playBtn,
    forwardBtn,
    lastBtn,
    h('span', { class: 'sep', 'aria-hidden': 'true' }),
    denialBtn,
    position,
  ),
  h('div', { class: 'rp-search' }, icon('search', 'search-icon'), searchInput, matchCount),
);

const timeline = h('ol', {
  id: 'timeline',
  class: 'timeline',
  role: 'listbox',
  tabindex: '0',
  'aria-label': 'Session events',
});
const timelinePane = h('nav', { class: 'rp-timeline', 'aria-label': 'Timeline' }, timeline);
const detailPane = h('section', { id: 'event-detail', class: 'rp-detail', 'aria-label': 'Selected event' });
// The panes: timeline | detail. SSH sessions will add a terminal playback pane here (grid area "terminal").
const panes = h('div', { id: 'panes', class: 'rp-panes' }, timelinePane, detailPane);
const empty = h(
  'div',
  { id: 'empty', class: 'rp-empty' },
  icon('database', 'rp-empty-icon'),
  h('p', {}, 'Waiting for a session to replay…'),
);
root.append(header, toolbar, panes, empty);
panes.hidden = toolbar.hidden = true;

// -------------------------------------------------------------------------------------------------
// Event presentation
// -------------------------------------------------------------------------------------------------

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

function eventIcon(ev: ReplayEvent): string {
  const s = statements.get(ev.seq);
  if (s) return s.decision === 'deny' ? 'circle-slash' : s.error ? 'error' : 'pass';
  return (
    { 'session-start': 'sign-in', 'session-end': 'sign-out', checkpoint: 'bookmark' }[ev.type] ??
    'circle-large-outline'
  );
}

/** A review is the statement's own `review` (the recording has no separate approval event). */
function approvalText(a: ReviewRecord): string {
  const who = a.approver ? ` by ${a.approver}` : '';
  const wait = ` after ${duration(a.waitMs)}`;
  const why = a.reason ? `: ${a.reason}` : '';
  if (a.outcome === 'approved')
    return a.scope === 'session' && a.waitMs === 0
      ? `Approved earlier in this session${who}`
      : `Approved${who}${wait}${a.scope === 'session' ? ' (for the session)' : ''}`;
  if (a.outcome === 'denied') return `Denied${who}${wait}${why}`;
  if (a.outcome === 'unreachable') return 'No reviewer was reachable — denied';
  if (a.outcome === 'failed') return `The review failed — denied${why}`;
  return `No decision in time — denied${wait}`;
}

function reviewBadge(r: ReviewRecord): string {
  switch (r.outcome) {
    case 'approved':
      return `approved${r.approver ? ` by ${r.approver}` : ''}`;
    case 'denied':
      return 'review denied';
    case 'timeout':
      return 'review timed out';
    case 'unreachable':
      return 'no reviewer';
    case 'failed':
      return 'review failed';
  }
}

function eventLabel(ev: ReplayEvent): string {
  switch (ev.type) {
    case 'session-start':
      return 'Session started';
    case 'session-end': {
      const reason = str((ev.data as { reason?: unknown }).reason);
      return reason ? `Session ended: ${reason}` : 'Session ended';
    }
    case 'checkpoint':
      return 'Checkpoint';
    default:
      return ev.type;
  }
}

function timelineItem(ev: ReplayEvent): HTMLLIElement {
  const s = statements.get(ev.seq);
  const cls = ['ev', `ev-${ev.type.replace(/[^a-z0-9-]/gi, '_')}`];
  const badges: Child[] = [];
  let title: HTMLElement;
  if (s) {
    cls.push(`decision-${s.decision}`);
    if (s.error) cls.push('has-error');
    if (s.review) cls.push('has-approval');
    title = h('span', { class: 'ev-title mono' }, sqlSummary(s.sql, 140));
    badges.push(
      h('span', { class: `badge ${s.decision}` }, s.decision === 'deny' ? 'denied' : 'allowed'),
      s.review
        ? h(
            'span',
            { class: `badge ${s.review.outcome === 'approved' ? 'allow' : 'deny'}` },
            icon(reviewIcon(s.review.outcome)),
            reviewBadge(s.review),
          )
        : null,
      s.error ? h('span', { class: 'badge warn' }, icon('error'), s.error.code) : null,
      s.durationMs !== undefined ? h('span', { class: 'ev-meta' }, duration(s.durationMs)) : null,
      h('span', { class: 'ev-meta ev-rule' }, s.rule),
    );
  } else {
    title = h('span', { class: 'ev-title' }, eventLabel(ev));
  }
  const li = h(
    'li',
    {
      id: `ev-${ev.seq}`,
      class: cls.join(' '),
      role: 'option',
      'aria-selected': 'false',
      'data-seq': ev.seq,
      'data-type': ev.type,
    },
    icon(eventIcon(ev), 'ev-icon'),
    h(
      'div',
      { class: 'ev-main' },
      title,
      h(
        'div',
        { class: 'ev-line2' },
        h('time', { class: 'ev-time', datetime: ev.time }, preciseTime(ev.time)),
        ...badges,
      ),
    ),
  );
  li.addEventListener('click', () => {
    select(ev.seq, { focus: false });
    timeline.focus({ preventScroll: true });
  });
  return li;
}

function sampleTable(sample: NonNullable<StatementRecord['sample']>): HTMLElement {
  const caption = `Result sample — ${plural(sample.rows.length, 'row')} as the client received them (masked values as masked)`;
  if (sample.columns.length === 0) return h('p', { class: 'muted' }, 'The statement returned no columns.');
  const table = h(
    'table',
    { class: 'sample', id: 'sample-table' },
    h('caption', { class: 'visually-hidden' }, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col', class: 'rownum' }, '#'),
        ...sample.columns.map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      {},
      ...sample.rows.map((row, i) =>
        h(
          'tr',
          {},
          h('td', { class: 'rownum' }, i + 1),
          ...row.map((v) =>
            v === null
              ? h('td', { class: 'null' }, h('span', { class: 'null-value', 'aria-label': 'null' }, 'NULL'))
              : h('td', {}, v),
          ),
        ),
      ),
    ),
  );
  return h(
    'div',
    { class: 'sample-wrap' },
    sample.rows.length === 0
      ? h('p', { class: 'muted' }, 'No rows.')
      : h('div', { class: 'table-scroll', tabindex: '0', 'aria-label': 'Result sample' }, table),
    sample.truncated
      ? h(
          'p',
          { class: 'note', id: 'sample-truncated' },
          icon('info'),
          ' Truncated: the recording keeps only the first rows of a result.',
        )
      : null,
  );
}

function factRow(label: string, value: Child): Child[] {
  return [h('dt', {}, label), h('dd', {}, value)];
}

/** A review's own icon: an approval and a refusal must not look alike at a glance. */
function reviewIcon(outcome: string): string {
  return outcome === 'approved' ? 'verified' : outcome === 'timeout' ? 'watch' : 'thumbsdown';
}

/** The statement's place among all the session's statements: the same number the toolbar counts. */
function statementOrdinal(seq: number): number {
  let n = 0;
  for (const ev of events) if (statements.has(ev.seq) && ev.seq <= seq) n++;
  return n;
}

function statementDetail(ev: ReplayEvent, s: StatementRecord): Child[] {
  const sqlCode = h('code', {});
  renderSql(sqlCode, s.sql, { format: true });
  const boxes: Child[] = [];
  if (s.decision === 'deny')
    boxes.push(
      h(
        'div',
        { class: 'callout deny', id: 'denial' },
        icon('circle-slash'),
        h('div', {}, h('strong', {}, `Denied by rule ${s.rule}`), s.reason ? h('p', {}, s.reason) : null),
      ),
    );
  if (s.review)
    boxes.push(
      h(
        'div',
        { class: `callout ${s.review.outcome === 'approved' ? 'allow' : 'deny'}`, id: 'approval' },
        icon(reviewIcon(s.review.outcome)),
        h('div', {}, h('strong', {}, approvalText(s.review))),
      ),
    );
  if (s.error)
    boxes.push(
      h(
        'div',
        { class: 'callout warn', id: 'error' },
        icon('error'),
        h('div', {}, h('strong', {}, `Error ${s.error.code}`), h('p', {}, s.error.message)),
      ),
    );
  const facts = h(
    'dl',
    { class: 'facts' },
    ...factRow('Rule', h('code', { class: 'chip' }, s.rule)),
    ...factRow('Protocol', s.protocol),
    ...(s.durationMs !== undefined ? factRow('Duration', duration(s.durationMs)) : []),
    ...(s.tags?.length ? factRow('Result', s.tags.join(', ')) : []),
  );
  return [
    h(
      'div',
      { class: 'detail-head' },
      h('h2', { id: 'detail-title' }, `Statement ${statementOrdinal(ev.seq)}`),
      h('span', { class: 'muted', title: 'The event number in the recording' }, `event #${ev.seq}`),
      h(
        'span',
        { class: `badge ${s.decision}` },
        icon(s.decision === 'deny' ? 'circle-slash' : 'pass'),
        s.decision === 'deny' ? 'Denied' : 'Allowed',
      ),
      h('span', { class: 'muted' }, dateTime(ev.time)),
    ),
    ...boxes,
    facts,
    h('h3', {}, 'SQL'),
    h('pre', { class: 'code', id: 'detail-sql', tabindex: '0', 'aria-label': 'SQL' }, sqlCode),
    h('h3', {}, 'Result sample'),
    s.sample
      ? sampleTable(s.sample)
      : h(
          'p',
          { class: 'muted', id: 'no-sample' },
          s.decision === 'deny' ? 'Not run: no result.' : 'No rows were recorded for this statement.',
        ),
  ];
}

function genericValue(v: unknown): Child {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null)
    return h('span', { class: 'mono' }, String(v));
  return h('pre', { class: 'code small-code' }, JSON.stringify(v, null, 2));
}

function genericDetail(ev: ReplayEvent): Child[] {
  const entries = Object.entries(ev.data);
  return [
    h(
      'div',
      { class: 'detail-head' },
      h('h2', { id: 'detail-title' }, eventLabel(ev)),
      h('span', { class: 'badge outline' }, ev.type),
      h('span', { class: 'muted' }, dateTime(ev.time)),
    ),
    entries.length
      ? h('dl', { class: 'facts' }, ...entries.flatMap(([k, v]) => factRow(k, genericValue(v))))
      : h('p', { class: 'muted' }, 'No data.'),
  ];
}

// -------------------------------------------------------------------------------------------------
// State and rendering
// -------------------------------------------------------------------------------------------------

function saveState(): void {
  host.saveState({ sessionId: session?.id, selectedSeq: selectedSeq ?? undefined, search });
}

function searchText(ev: ReplayEvent): string {
  const s = statements.get(ev.seq);
  if (!s) return '';
  return [
    s.sql,
    s.rule,
    s.reason,
    s.decision === 'deny' ? 'denied' : 'allowed',
    s.error?.code,
    s.error?.message,
    ...(s.tags ?? []),
    s.review?.approver,
    s.review?.reason,
  ]
    .filter((x) => x)
    .join('\n')
    .toLowerCase();
}

function isVisible(ev: ReplayEvent): boolean {
  const q = search.trim().toLowerCase();
  return !q || searchText(ev).includes(q);
}

function visibleEvents(): ReplayEvent[] {
  return events.filter(isVisible);
}

function visibleStatements(): ReplayEvent[] {
  return events.filter((ev) => statements.has(ev.seq) && isVisible(ev));
}

function renderSummary(): void {
  if (!session) return;
  const s = session;
  setText(titleEl, s.connection || '(no connection name)');
  liveBadge.hidden = false;
  liveBadge.className = s.live ? 'badge live' : 'badge outline';
  replace(liveBadge, s.live ? icon('circle-filled') : null, s.live ? 'Live' : 'Ended');
  renderIntegrity(s);
  const item = (label: string, value: Child, id?: string): HTMLElement =>
    h('div', { class: 'sum-item' }, h('dt', {}, label), h('dd', id ? { id } : {}, value));
  const ended = s.ended ? dateTime(s.ended) : s.live ? 'still running' : '—';
  const length =
    s.ended && !Number.isNaN(Date.parse(s.ended))
      ? ` (${duration(Date.parse(s.ended) - Date.parse(s.started))})`
      : '';
  replace(
    summaryList,
    item('Human', h('span', { class: 'with-icon' }, icon('person'), s.actor.user), 'sum-user'),
    item(
      'Agent',
      h('span', { class: 'with-icon' }, icon('robot'), agentLabel(s.actor) ?? 'none reported'),
      'sum-agent',
    ),
    item('Client', s.client, 'sum-client'),
    item('Started', dateTime(s.started), 'sum-started'),
    item('Ended', ended + length, 'sum-ended'),
    item('Statements', String(s.statements), 'sum-statements'),
    item('Denied', h('span', { class: s.denials ? 'denials' : '' }, String(s.denials)), 'sum-denials'),
    item('Session', h('span', { class: 'mono', title: s.id }, shortId(s.id, 12)), 'sum-id'),
  );
  exportJsonl.disabled = exportOcsf.disabled = false;
}

/** What the hash chain and the signed checkpoint say: a tampered record is never shown as genuine. */
function renderIntegrity(s: ReplaySession): void {
  const text = INTEGRITY_TEXT[s.integrity];
  integrityBadge.hidden = s.integrity === 'live';
  integrityBadge.className = `badge integrity-${s.integrity}`;
  replace(integrityBadge, icon(text.icon), text.label);
  const warning =
    s.integrity === 'tampered'
      ? `This record was changed after it was written (${s.integrityProblem ?? 'the hash chain is broken'}). What follows is not what happened: use the verified copy in the central store, and report it.`
      : s.integrity === 'incomplete'
        ? 'This record has no signed checkpoint: its end may have been cut off, or the proxy was killed and has not run since (it closes such sessions when it starts).'
        : '';
  integrityBanner.hidden = !warning;
  integrityBanner.className = `integrity-banner ${s.integrity}`;
  setText(integrityBanner, warning);
}

const INTEGRITY_TEXT: Record<ReplaySession['integrity'], { icon: string; label: string }> = {
  verified: { icon: 'verified', label: 'Verified' },
  tampered: { icon: 'warning', label: 'Tampered' },
  incomplete: { icon: 'question', label: 'Incomplete' },
  live: { icon: 'circle-filled', label: 'Live' },
};

function renderFilter(): void {
  const q = search.trim();
  for (const ev of events) {
    const li = items.get(ev.seq);
    if (li) li.hidden = !isVisible(ev);
  }
  const total = events.filter((ev) => statements.has(ev.seq)).length;
  setText(matchCount, q ? `${visibleStatements().length} of ${plural(total, 'statement')}` : '');
  timeline.classList.toggle('filtered', !!q);
  renderPosition();
}

function renderPosition(): void {
  const vis = visibleStatements();
  const i = vis.findIndex((ev) => ev.seq === selectedSeq);
  const ev = events.find((e) => e.seq === selectedSeq);
  if (vis.length === 0) setText(position, search.trim() ? 'No statement matches' : 'No statements');
  // Filtered, the position counts matches; the detail keeps the statement's own number.
  else if (i >= 0) setText(position, `${search.trim() ? 'Match' : 'Statement'} ${i + 1} of ${vis.length}`);
  else setText(position, ev ? `${eventLabel(ev)} · ${vis.length} statements` : `${vis.length} statements`);
  const before = vis.some((e) => e.seq < (selectedSeq ?? Infinity));
  const after = vis.some((e) => e.seq > (selectedSeq ?? -Infinity));
  // aria-disabled, not disabled: a focused button that becomes disabled would drop the focus.
  for (const b of [firstBtn, backBtn]) b.setAttribute('aria-disabled', String(!before));
  for (const b of [forwardBtn, lastBtn]) b.setAttribute('aria-disabled', String(!after));
  denialBtn.setAttribute(
    'aria-disabled',
    String(!vis.some((e) => statements.get(e.seq)?.decision === 'deny')),
  );
  playBtn.setAttribute('aria-disabled', String(vis.length === 0));
}

function renderDetail(): void {
  const ev = events.find((e) => e.seq === selectedSeq);
  if (!ev) {
    replace(
      detailPane,
      h('p', { class: 'muted placeholder' }, 'Select an event in the timeline to see it here.'),
    );
    return;
  }
  const s = statements.get(ev.seq);
  replace(detailPane, ...(s ? statementDetail(ev, s) : genericDetail(ev)));
  detailPane.scrollTop = 0;
}

function select(seq: number | null, opts: { focus?: boolean; announce?: boolean } = {}): void {
  const prev = selectedSeq !== null ? items.get(selectedSeq) : undefined;
  if (prev) {
    prev.setAttribute('aria-selected', 'false');
    prev.classList.remove('selected');
  }
  selectedSeq = seq !== null && items.has(seq) ? seq : null;
  const li = selectedSeq !== null ? items.get(selectedSeq) : undefined;
  if (li) {
    li.setAttribute('aria-selected', 'true');
    li.classList.add('selected');
    timeline.setAttribute('aria-activedescendant', li.id);
    li.scrollIntoView({ block: 'nearest' });
  } else timeline.removeAttribute('aria-activedescendant');
  renderDetail();
  renderPosition();
  saveState();
  if (opts.focus) timeline.focus({ preventScroll: true });
  if (opts.announce && li) {
    const s = statements.get(selectedSeq!);
    announce(`${position.textContent ?? ''}${s ? `, ${s.decision === 'deny' ? 'denied' : 'allowed'}` : ''}`);
  }
}

function addEvents(list: ReplayEvent[]): void {
  const frag = document.createDocumentFragment();
  for (const ev of list) {
    events.push(ev);
    if (ev.type === 'statement') {
      const parsed = parseStatementRecord(ev.data);
      if (parsed.ok) statements.set(ev.seq, parsed.value);
    }
    const li = timelineItem(ev);
    li.hidden = !isVisible(ev);
    items.set(ev.seq, li);
    frag.appendChild(li);
  }
  timeline.appendChild(frag);
}

function onSession(s: ReplaySession, list: ReplayEvent[]): void {
  stop();
  // The same session sent again (the view was hidden and shown): keep the place. Else the saved one.
  const restore =
    session?.id === s.id
      ? { seq: selectedSeq, search }
      : saved?.sessionId === s.id
        ? { seq: saved.selectedSeq, search: saved.search }
        : undefined;
  session = { ...s, actor: { ...s.actor } };
  events = [];
  statements.clear();
  items.clear();
  timeline.replaceChildren();
  search = restore?.search ?? '';
  searchInput.value = search;
  addEvents(list);
  panes.hidden = toolbar.hidden = false;
  empty.hidden = true;
  renderSummary();
  renderFilter();
  const vis = visibleStatements();
  const initial =
    typeof restore?.seq === 'number' && items.has(restore.seq)
      ? restore.seq
      : s.live
        ? (events[events.length - 1]?.seq ?? null)
        : (vis[0]?.seq ?? events[0]?.seq ?? null);
  select(initial);
}

function onAppend(sessionId: string, list: ReplayEvent[]): void {
  if (!session || sessionId !== session.id) {
    console.warn('Airlock: ignored events for another session');
    return;
  }
  const last = events.length ? events[events.length - 1].seq : -Infinity;
  const fresh = list.filter((ev) => ev.seq > last);
  if (fresh.length === 0) return;
  const vis = visibleEvents();
  const atEnd = selectedSeq === null || selectedSeq === vis[vis.length - 1]?.seq || selectedSeq === last;
  addEvents(fresh);
  for (const ev of fresh) {
    const s = statements.get(ev.seq);
    if (s) {
      session.statements++;
      if (s.decision === 'deny') session.denials++;
    }
    if (ev.type === 'session-end') {
      session.live = false;
      session.ended = ev.time;
    }
  }
  renderSummary();
  renderFilter();
  if (atEnd && !playTimer) {
    const nowVisible = visibleEvents();
    select(nowVisible[nowVisible.length - 1]?.seq ?? selectedSeq);
  }
}

// -------------------------------------------------------------------------------------------------
// Navigation and playback
// -------------------------------------------------------------------------------------------------

function step(direction: 1 | -1): boolean {
  const vis = visibleStatements();
  const cur = selectedSeq ?? (direction > 0 ? -Infinity : Infinity);
  const target = direction > 0 ? vis.find((e) => e.seq > cur) : [...vis].reverse().find((e) => e.seq < cur);
  if (!target) return false;
  select(target.seq, { announce: !playTimer });
  return true;
}

function jump(to: 'first' | 'last'): void {
  const vis = visibleStatements();
  const target = to === 'first' ? vis[0] : vis[vis.length - 1];
  if (target) select(target.seq, { announce: true });
}

function nextDenial(): void {
  const denials = visibleStatements().filter((e) => statements.get(e.seq)?.decision === 'deny');
  if (denials.length === 0) {
    announce('No denials');
    return;
  }
  const next = denials.find((e) => e.seq > (selectedSeq ?? -Infinity));
  select((next ?? denials[0]).seq, { announce: true });
  if (!next) announce(`Back to the first denial. ${position.textContent ?? ''}`);
}

function play(): void {
  if (playTimer) return;
  const vis = visibleStatements();
  if (vis.length === 0) return;
  // From the end, playing starts over.
  if (!vis.some((e) => e.seq > (selectedSeq ?? -Infinity))) select(vis[0].seq);
  playTimer = setInterval(() => {
    if (!step(1)) stop();
  }, PLAY_INTERVAL_MS);
  renderPlay();
}

function stop(): void {
  if (playTimer) clearInterval(playTimer);
  playTimer = null;
  renderPlay();
}

function renderPlay(): void {
  const playing = playTimer !== null;
  playBtn.setAttribute('aria-pressed', String(playing));
  playBtn.setAttribute('aria-label', playing ? 'Pause' : 'Play');
  playBtn.title = playing ? 'Pause (Space)' : 'Play through statements (Space)';
  replace(playBtn, icon(playing ? 'debug-pause' : 'play'));
  root.classList.toggle('playing', playing);
}

firstBtn.addEventListener('click', () => (stop(), jump('first')));
backBtn.addEventListener('click', () => (stop(), step(-1)));
forwardBtn.addEventListener('click', () => (stop(), step(1)));
lastBtn.addEventListener('click', () => (stop(), jump('last')));
playBtn.addEventListener('click', () => (playTimer ? stop() : play()));
denialBtn.addEventListener('click', () => (stop(), nextDenial()));

searchInput.value = search;
searchInput.addEventListener('input', () => {
  search = searchInput.value;
  renderFilter();
  saveState();
});
searchInput.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') {
    ev.preventDefault();
    if (searchInput.value) {
      searchInput.value = search = '';
      renderFilter();
      saveState();
    } else timeline.focus();
  } else if (ev.key === 'Enter') {
    ev.preventDefault();
    const first = visibleStatements()[0];
    if (first) select(first.seq, { focus: true, announce: true });
  }
});

timeline.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const vis = visibleEvents();
  if (vis.length === 0) return;
  const i = vis.findIndex((e) => e.seq === selectedSeq);
  const to: Record<string, number> = {
    ArrowDown: Math.min(vis.length - 1, i + 1),
    ArrowUp: Math.max(0, i < 0 ? 0 : i - 1),
    Home: 0,
    End: vis.length - 1,
    PageDown: Math.min(vis.length - 1, Math.max(i, 0) + 10),
    PageUp: Math.max(0, i - 10),
  };
  if (ev.key in to) {
    ev.preventDefault();
    stop();
    select(vis[to[ev.key]].seq);
  }
});

document.addEventListener('keydown', (ev) => {
  if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || isTextEntry(ev.target)) return;
  const onButton = ev.target instanceof HTMLButtonElement;
  switch (ev.key) {
    case ' ':
    case 'k':
      if (onButton && ev.key === ' ') return; // Space presses the focused button
      ev.preventDefault();
      if (playTimer) stop();
      else play();
      break;
    case 'ArrowRight':
      ev.preventDefault();
      stop();
      step(1);
      break;
    case 'ArrowLeft':
      ev.preventDefault();
      stop();
      step(-1);
      break;
    case 'Home':
    case 'End':
      ev.preventDefault();
      stop();
      jump(ev.key === 'Home' ? 'first' : 'last');
      break;
    case 'n':
    case 'N':
      ev.preventDefault();
      stop();
      nextDenial();
      break;
    case '/':
      ev.preventDefault();
      searchInput.focus();
      searchInput.select();
      break;
  }
});

onHostMessage(parseReplayViewMessage, (message) => {
  if (message.type === 'session') onSession(message.session, message.events);
  else onAppend(message.sessionId, message.events);
});

renderPlay();
renderDetail();
host.post({ type: 'ready' });
