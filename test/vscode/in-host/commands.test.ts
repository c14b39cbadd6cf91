import assert from 'node:assert/strict';
import * as vscode from 'vscode';

const extensionId = 'airlock-dev.airlock';

async function activated(): Promise<vscode.Extension<unknown>> {
  const ext = vscode.extensions.getExtension(extensionId);
  assert.ok(ext, `${extensionId} is not installed`);
  await ext.activate();
  return ext;
}

describe('Airlock in the VS Code extension host', () => {
  it('is present and activates', async () => {
    const ext = await activated();
    assert.equal(ext.isActive, true);
  });

  it('registers exactly the commands package.json contributes', async () => {
    const ext = await activated();
    const contributes = (
      ext.packageJSON as {
        contributes?: { commands?: { command: string }[]; views?: Record<string, { id: string }[]> };
      }
    ).contributes;
    const contributed = new Set((contributes?.commands ?? []).map((c) => c.command));
    // VS Code itself registers <view id>.focus, .open, … for every contributed view.
    const views = Object.values(contributes?.views ?? {}).flatMap((list) => list.map((v) => `${v.id}.`));
    const registered = new Set(
      (await vscode.commands.getCommands(true)).filter(
        (c) => c.startsWith('airlock.') && !views.some((v) => c.startsWith(v)),
      ),
    );
    assert.deepEqual(
      [...contributed].filter((c) => !c.startsWith('airlock.')),
      [],
      'contributed outside airlock.*',
    );
    assert.deepEqual(
      [...contributed].filter((c) => !registered.has(c)).sort(),
      [],
      'contributed, never registered',
    );
    assert.deepEqual(
      [...registered].filter((c) => !contributed.has(c)).sort(),
      [],
      'registered, not contributed',
    );
  });
});
