import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import * as vscode from 'vscode';
import type { OutputLog } from './output-log';
import { actorLabel } from '../core/identity/actor';
import { printable } from '../core/text/printable';
import { writeExport } from '../core/recording/export';
import { EXPORT_FORMATS, type ExportFormat } from '../core/recording/events';
import { verifyRecordings } from '../core/recording/verify';
import type { LocalEndpoint } from '../proxy/listeners';
import type { AirlockController } from './airlock-controller';
import type { ApprovalPanel } from './approval-panel';
import type { ReplayPanels } from './replay-panel';
import type { SessionsView } from './sessions-view';
import type { Recordings } from './recordings';
import { connectionEnv, type TerminalEnvironment } from './terminals';
import type { ExplainView } from './explain-view';
import { statementAt } from '../core/sql/statement-at';

export interface CommandDeps {
  airlock: AirlockController;
  approvals: ApprovalPanel;
  sessions: SessionsView;
  recordings: Recordings;
  sessionsTree: vscode.TreeView<unknown>;
  replays: ReplayPanels;
  terminals: TerminalEnvironment;
  explanations: ExplainView;
  log: OutputLog;
}

/** Every command package.json contributes, by id (a test checks both directions). */
export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  const commands: Record<string, (...args: never[]) => unknown> = {
    'airlock.connect': (name?: string) => connect(d, name),
    'airlock.disconnect': (name?: string) => disconnect(d, name),
    'airlock.openTerminal': async () => d.terminals.open(await endpoint(d)),
    'airlock.copyConnectionString': async () => {
      await vscode.env.clipboard.writeText(connectionEnv(await endpoint(d)).DATABASE_URL);
      void vscode.window.showInformationMessage(
        'Airlock: connection string copied. It holds a per-session secret that ends when Airlock disconnects.',
      );
    },
    // A notification's Review link passes its request's id.
    'airlock.showPendingApprovals': (requestId?: unknown) =>
      d.approvals.show(typeof requestId === 'string' ? { requestId } : {}),
    'airlock.showSessions': () => vscode.commands.executeCommand('airlock.sessions.focus'),
    'airlock.refreshSessions': () => d.sessions.refreshSoon(),
    'airlock.filterSessions': () => filterSessions(d),
    'airlock.replaySession': async (id?: string) => d.replays.show(id ?? (await pickSession(d))),
    'airlock.exportSession': (id?: string, format?: ExportFormat) => exportSession(d, id, format),
    'airlock.openPolicy': () => openPolicy(d),
    'airlock.explainStatement': () => explainStatement(d),
    'airlock.verifyRecordings': () => verify(d),
  };
  return Object.entries(commands).map(([id, run]) =>
    vscode.commands.registerCommand(id, async (...args: never[]) => {
      try {
        return await run(...args);
      } catch (err) {
        const message = (err as Error).message;
        d.log.error(`${id}: ${message}`);
        void vscode.window.showErrorMessage(`Airlock: ${printable(message)}`);
        return undefined;
      }
    }),
  );
}

async function connect(d: CommandDeps, name?: string): Promise<void> {
  const names = await d.airlock.connectionNames();
  const chosen =
    name ?? (names.length > 1 ? await vscode.window.showQuickPick(['All connections', ...names]) : undefined);
  if (names.length > 1 && !chosen) return;
  const endpoints = await d.airlock.connect(chosen === 'All connections' ? undefined : chosen);
  const origin = d.airlock.configOrigin;
  d.log.info(
    `connected ${endpoints.map((e) => `${e.name} (${e.host}:${e.port})`).join(', ')} from ${origin?.kind === 'file' ? origin.file : 'the demo'}`,
  );
}

async function disconnect(d: CommandDeps, name?: string): Promise<void> {
  const connected = d.airlock.endpoints().map((e) => e.name);
  if (connected.length === 0) {
    void vscode.window.showInformationMessage('Airlock: nothing is connected.');
    return;
  }
  const chosen =
    name ??
    (connected.length > 1 ? await vscode.window.showQuickPick(['All connections', ...connected]) : undefined);
  if (connected.length > 1 && !chosen) return;
  await d.airlock.disconnect(chosen === 'All connections' ? undefined : chosen);
}

/** The endpoint to use: connecting first if needed, asking when there are several. */
async function endpoint(d: CommandDeps): Promise<LocalEndpoint> {
  let endpoints = d.airlock.endpoints();
  if (endpoints.length === 0) {
    await connect(d);
    endpoints = d.airlock.endpoints();
  }
  if (endpoints.length <= 1) {
    if (!endpoints[0]) throw new Error('no connection is connected');
    return endpoints[0];
  }
  const name = await vscode.window.showQuickPick(
    endpoints.map((e) => e.name),
    { placeHolder: 'Which connection?' },
  );
  const chosen = endpoints.find((e) => e.name === name);
  if (!chosen) throw new Error('no connection chosen');
  return chosen;
}

async function pickSession(d: CommandDeps): Promise<string> {
  const sessions = (await d.recordings.open()).sessions({ limit: 200 });
  if (sessions.length === 0) throw new Error('no sessions are recorded yet');
  const pick = await vscode.window.showQuickPick(
    sessions.map((s) => ({
      label: `${s.started.replace('T', ' ').slice(0, 19)} ${s.connection}`,
      description: `${actorLabel(s)} · ${s.statements} statement(s)${s.denials ? `, ${s.denials} denied` : ''}${s.live ? ' · live' : ''}`,
      id: s.id,
    })),
    { placeHolder: 'Which session?', matchOnDescription: true },
  );
  if (!pick) throw new Error('no session chosen');
  return pick.id;
}

async function filterSessions(d: CommandDeps): Promise<void> {
  const what = await vscode.window.showQuickPick(
    [
      { label: 'Only sessions with denials', filter: { decision: 'deny' as const } },
      { label: 'Only live sessions', filter: { live: true } },
      { label: 'By connection…', filter: 'connection' as const },
      { label: 'By actor (user or agent)…', filter: 'actor' as const },
      { label: 'Clear the filter', filter: {} },
    ],
    { placeHolder: 'Filter recorded sessions' },
  );
  if (!what) return;
  if (what.filter === 'connection' || what.filter === 'actor') {
    const value = await vscode.window.showInputBox({ prompt: `Show sessions of which ${what.filter}?` });
    if (!value) return;
    d.sessions.filter = { ...d.sessions.filter, [what.filter]: value };
  } else {
    d.sessions.filter = Object.keys(what.filter).length ? { ...d.sessions.filter, ...what.filter } : {};
  }
  d.sessionsTree.message = d.sessions.describeFilter();
  d.sessions.refreshSoon();
}

async function exportSession(d: CommandDeps, id?: string, format?: ExportFormat): Promise<void> {
  const sessionId = id ?? (await pickSession(d));
  const chosen =
    format ??
    ((await vscode.window.showQuickPick([...EXPORT_FORMATS], {
      placeHolder: 'jsonl: the events as recorded (verifiable); ocsf: OCSF 1.3 for a SIEM',
    })) as ExportFormat | undefined);
  if (!chosen) return;
  const store = await d.recordings.open();
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.joinPath(
      vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(process.cwd()),
      // Both formats are JSON Lines; only OCSF says so in the name (…ocsf.jsonl), never twice.
      `airlock-session-${sessionId.slice(0, 8)}${chosen === 'jsonl' ? '' : `.${chosen}`}.jsonl`,
    ),
    filters: { 'JSON Lines': ['jsonl'] },
  });
  if (!target) return;
  const out = createWriteStream(target.fsPath, { mode: 0o600 });
  const count = await writeExport(out, store.events(sessionId), chosen);
  out.end();
  await once(out, 'finish');
  const choice = await vscode.window.showInformationMessage(
    `Airlock: ${count} ${chosen} event(s) written to ${target.fsPath}`,
    'Open',
    'Reveal',
  );
  if (choice === 'Open') await vscode.window.showTextDocument(target);
  if (choice === 'Reveal') await vscode.commands.executeCommand('revealFileInOS', target);
}

/** The folder the extension is installed in: files there are Airlock's own, replaced on every update. */
const INSTALLED = path.resolve(__dirname, '..') + path.sep;

/**
 * The policy in force: the workspace's own file opens for editing; anything else — the demo policy
 * shipped inside the extension, a preset, a signed bundle — opens read-only, saying how to have one's own.
 */
async function openPolicy(d: CommandDeps): Promise<void> {
  const { spec, state } = await d.airlock.policy();
  if (/\.(ya?ml|json)$/.test(spec) && !path.resolve(spec).startsWith(INSTALLED)) {
    await vscode.window.showTextDocument(vscode.Uri.file(spec));
    return;
  }
  const origin = spec.startsWith(INSTALLED)
    ? `# The demo policy shipped with Airlock (read-only: an update replaces it).\n# To change it, copy it into your workspace and name it in airlock.yaml (policy: ./my-policy.yaml).\n`
    : `# The policy in force (${spec}), read-only: it is a preset or a signed bundle.\n# To change it, edit its source and sign it again, or name a file of your own in airlock.yaml.\n`;
  const body =
    spec.startsWith(INSTALLED) && existsSync(spec)
      ? readFileSync(spec, 'utf8')
      : JSON.stringify(state.ok ? state.active.policy : { error: state.reason }, null, 2);
  await d.explanations.show(`Policy — ${path.basename(spec)}`, origin + body);
}

/**
 * The gate's own decision on the statement under the cursor (or the selection): the same pipeline the
 * proxy decides with, on the connection's catalog, with what masking does to it. Opens read-only.
 */
async function explainStatement(d: CommandDeps): Promise<void> {
  // The engine loads the SQL parser, which also finds the statement under the cursor.
  const services = await d.airlock.policyServices();
  const editor = vscode.window.activeTextEditor;
  const sql = !editor
    ? await vscode.window.showInputBox({ prompt: 'The SQL to explain' })
    : editor.selection.isEmpty
      ? statementAt(editor.document.getText(), editor.document.offsetAt(editor.selection.active))
      : editor.document.getText(editor.selection);
  if (!sql?.trim()) throw new Error('put the cursor in a statement (or select one) to explain it');
  const connection = d.airlock.endpoints()[0]?.name ?? (await d.airlock.connectionNames())[0] ?? 'default';
  const { effect, text } = await services.explain(connection, sql, null);
  for (const line of `explain on ${connection}:\n${text}`.split('\n')) d.log.info(line);
  const head = printable(sql.replace(/\s+/g, ' ').trim()).slice(0, 40);
  await d.explanations.show(
    `${effect.toUpperCase()} — ${head}.txt`,
    `-- on connection ${connection}\n${text}\n`,
  );
}

async function verify(d: CommandDeps): Promise<void> {
  const folder = d.airlock.recordingsFolder();
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Airlock: verifying recordings…' },
    async () => verifyRecordings(folder),
  );
  // One verdict everywhere: the Sessions view re-reads the whole journal too (an edit in place keeps its size).
  (await d.recordings.open()).reindex();
  d.sessions.refreshSoon();
  const bad = report.problems.length + report.damaged.length;
  for (const p of report.problems)
    d.log.error(`verify: session ${p.sessionId}, event ${p.seq}: ${p.problem}`);
  for (const x of report.damaged) d.log.error(`verify: journal line ${x.line}: ${x.problem}`);
  const summary = `${report.sessions} session(s), ${report.events} event(s)`;
  if (bad === 0) void vscode.window.showInformationMessage(`Airlock: recordings verified — ${summary}.`);
  else {
    // The problems belong to sessions: say which, and open the first (its replay carries the warning).
    const affected = [...new Set(report.problems.map((p) => p.sessionId))];
    const choice = await vscode.window.showErrorMessage(
      `Airlock: ${bad} problem(s) in the recordings (${summary}); ${affected.length} session(s) affected, marked in the Sessions view.`,
      ...(affected.length ? ['Replay Affected Session'] : []),
      'Show Log',
    );
    if (choice === 'Show Log') d.log.show();
    if (choice === 'Replay Affected Session')
      await vscode.commands.executeCommand('airlock.replaySession', affected[0]);
  }
}
