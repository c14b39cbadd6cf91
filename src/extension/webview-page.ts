import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { WEBVIEW_ASSETS, webviewHtml, type WebviewName } from '../shared/webviews/page';

/** Webview options: scripts on, and nothing readable but the bundled webview assets. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
  };
}

/** The page of a view: strict CSP with a fresh nonce, assets through asWebviewUri. */
export function webviewPage(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  view: WebviewName,
  title: string,
): string {
  const asset = (p: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, p)).toString();
  return webviewHtml({
    cspSource: webview.cspSource,
    nonce: randomBytes(18).toString('base64url'),
    scriptUri: asset(WEBVIEW_ASSETS[view].script),
    styleUri: asset(WEBVIEW_ASSETS[view].style),
    title,
  });
}
