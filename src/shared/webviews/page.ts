/**
 * The HTML the extension serves for a webview: one root element, the bundle's CSS and script, strict CSP.
 * No `vscode` import: the test harness serves the same page to Chromium.
 */

export type WebviewName = 'approval' | 'replay';

/** The files of each view, relative to the extension root (all under dist/webview/, with codicon.ttf). */
export const WEBVIEW_ASSETS: Record<WebviewName, { script: string; style: string }> = {
  approval: { script: 'dist/webview/approval.js', style: 'dist/webview/approval.css' },
  replay: { script: 'dist/webview/replay.js', style: 'dist/webview/replay.css' },
};

/** The id of the element a view renders into. */
export const WEBVIEW_ROOT_ID = 'app';

export interface WebviewHtmlOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** A fresh random nonce per render (base64 or hex, at least 128 bits). */
  nonce: string;
  /** `webview.asWebviewUri(...)` of the view's script and stylesheet, as strings. */
  scriptUri: string;
  styleUri: string;
  title: string;
  /** Extra scripts to load before the bundle, with the same nonce (tests use it for a stub API). */
  preScriptUris?: string[];
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
  ].join('; ');
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function webviewHtml(o: WebviewHtmlOptions): string {
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(o.nonce))
    throw new Error('webviewHtml: the nonce must be base64/hex, 16+ chars');
  const n = escapeAttr(o.nonce);
  const scripts = [...(o.preScriptUris ?? []), o.scriptUri]
    .map((u) => `    <script nonce="${n}" src="${escapeAttr(u)}"></script>`)
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(o.cspSource, o.nonce))}" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <link rel="stylesheet" href="${escapeAttr(o.styleUri)}" />
    <title>${escapeAttr(o.title)}</title>
  </head>
  <body>
    <div id="${WEBVIEW_ROOT_ID}"></div>
${scripts}
  </body>
</html>
`;
}
