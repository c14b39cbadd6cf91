import assert from 'node:assert/strict';
import * as vscode from 'vscode';

const extensionId = 'airlock-dev.airlock';

/** Invokes one of Airlock's language-model tools the way Copilot's agent mode does, and returns its text. */
async function invoke(name: string, input: Record<string, unknown>): Promise<string> {
  const result = await vscode.lm.invokeTool(
    name,
    { input, toolInvocationToken: undefined },
    new vscode.CancellationTokenSource().token,
  );
  return result.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('');
}

/**
 * The Copilot path (issue 7): the LM tools run in the real extension host against the embedded demo
 * database, through the same gate as psql — masked rows, denials with the reason, masked columns marked.
 */
describe('Airlock language-model tools in the extension host', function () {
  this.timeout(180_000);

  before(async () => {
    await vscode.extensions.getExtension(extensionId)?.activate();
    // The demo database starts in the host (no airlock.yaml in the test workspace).
    await vscode.commands.executeCommand('airlock.connect');
  });

  after(() => vscode.commands.executeCommand('airlock.disconnect'));

  it('are registered with VS Code', () => {
    const names = vscode.lm.tools.map((t) => t.name).filter((n) => n.startsWith('airlock_'));
    assert.deepEqual(names.sort(), [
      'airlock_describe_schema',
      'airlock_explain_query',
      'airlock_list_connections',
      'airlock_run_query',
    ]);
  });

  it('run_query returns masked rows, and a statement the policy denies returns the reason', async () => {
    const rows = await invoke('airlock_run_query', {
      connection: 'demo',
      sql: 'select email from customers order by id limit 3',
    });
    assert.match(rows, /\*\*\*@/, rows);
    assert.doesNotMatch(rows, /[a-z]+\.[a-z]+\d*@example\.com/i, 'an unmasked e-mail reached the model');
    const denied = await invoke('airlock_run_query', {
      connection: 'demo',
      sql: 'select upper(email) from customers',
    });
    assert.match(denied, /airlock: denied/, denied);
  });

  it('describe_schema marks the columns the policy masks', async () => {
    const schema = await invoke('airlock_describe_schema', { connection: 'demo' });
    assert.match(schema, /customers/);
    assert.match(schema, /email[^\n]*mask/i, schema);
  });

  it('explain_query gives the decision without running the statement', async () => {
    const text = await invoke('airlock_explain_query', {
      connection: 'demo',
      sql: 'delete from customers where id = 1',
    });
    assert.match(text, /REVIEW|review/, text);
  });
});
