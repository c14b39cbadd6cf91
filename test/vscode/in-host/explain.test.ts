import assert from 'node:assert/strict';
import * as vscode from 'vscode';

const extensionId = 'airlock-dev.airlock';

async function runQuery(sql: string): Promise<string> {
  const result = await vscode.lm.invokeTool(
    'airlock_run_query',
    { input: { connection: 'demo', sql }, toolInvocationToken: undefined },
    new vscode.CancellationTokenSource().token,
  );
  return result.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('');
}

/** The explanation document Explain Statement opened (read-only, scheme airlock-explain). */
function explanation(): vscode.TextDocument | undefined {
  return vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'airlock-explain')?.document;
}

/**
 * Explain Statement answers what the proxy does (issue 15, item 1): the statement under the cursor, the
 * gate's own decision with the masking verdict, in a read-only document.
 */
describe('Airlock: Explain Statement in the extension host', function () {
  this.timeout(180_000);

  before(async () => {
    await vscode.extensions.getExtension(extensionId)?.activate();
    await vscode.commands.executeCommand('airlock.connect');
  });
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('airlock.disconnect');
  });

  it('explains the statement under the cursor as the proxy decides it: a masked column in GROUP BY is denied', async () => {
    const grouped = 'select c.city, count(*) from customers c group by c.email';
    const doc = await vscode.workspace.openTextDocument({
      language: 'sql',
      content: `select email from customers;\n\n${grouped};\n`,
    });
    const editor = await vscode.window.showTextDocument(doc);
    // The cursor in the middle of the second statement.
    const at = doc.positionAt(doc.getText().indexOf('count(*)'));
    editor.selection = new vscode.Selection(at, at);
    await vscode.commands.executeCommand('airlock.explainStatement');
    const explained = explanation();
    assert.ok(explained, 'no explanation document was opened');
    const text = explained.getText();
    assert.match(text, /statement 1: select c\.city, count\(\*\) from customers c group by c\.email/);
    assert.doesNotMatch(text, /statement 2/, 'only the statement under the cursor is explained');
    assert.match(text, /masking {4}DENY: the statement filters, joins, groups or orders on it/);
    assert.match(text, /request with masking: DENY/);
    // What the proxy does with it: denied, by the masking rule.
    assert.match(await runQuery(grouped), /airlock: denied: the statement filters, joins, groups or orders/);
  });

  it('shows what masking does to a plain read, in a document of its own (not an unsaved Untitled one)', async () => {
    const doc = await vscode.workspace.openTextDocument({
      language: 'sql',
      content: 'select email from customers',
    });
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(0, 3, 0, 3);
    await vscode.commands.executeCommand('workbench.action.closeEditorsToTheRight');
    await vscode.commands.executeCommand('airlock.explainStatement');
    const explained = explanation();
    assert.ok(explained);
    assert.match(explained.getText(), /masked {5}customers\.email \(arrive masked\)/);
    assert.match(explained.getText(), /request: ALLOW/);
    // A virtual document (VS Code opens it read-only): nothing to save, nothing asked on close.
    assert.equal(explained.isUntitled, false);
    assert.equal(explained.isDirty, false);
    assert.notEqual(vscode.workspace.fs.isWritableFileSystem(explained.uri.scheme), true);
  });
});
