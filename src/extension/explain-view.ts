import * as vscode from 'vscode';

const SCHEME = 'airlock-explain';

/**
 * Explanations shown as read-only documents of their own (a virtual document: it cannot be edited or
 * saved by mistake, and closing it asks nothing). Each explanation gets a new URI, so an earlier one
 * stays as it was while the policy or the catalog changes.
 */
export class ExplainView implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly registration: vscode.Disposable;
  private next = 1;

  constructor() {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(SCHEME, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return (
      this.texts.get(uri.toString()) ??
      'This explanation is no longer available: explain the statement again.'
    );
  }

  /** Opens `text` beside the editor, keeping the focus where it was. */
  async show(title: string, text: string): Promise<vscode.TextEditor> {
    const uri = vscode.Uri.from({
      scheme: SCHEME,
      path: `/${title.replace(/[/\\]/g, '-')}`,
      query: String(this.next++),
    });
    this.texts.set(uri.toString(), text);
    const doc = await vscode.workspace.openTextDocument(uri);
    return vscode.window.showTextDocument(doc, {
      viewColumn: vscode.ViewColumn.Beside,
      preserveFocus: true,
      preview: true,
    });
  }

  dispose(): void {
    this.registration.dispose();
    this.texts.clear();
  }
}
