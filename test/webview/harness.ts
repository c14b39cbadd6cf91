/**
 * Runs the built webviews (dist/webview/) in a real Chromium, in a page like the one the extension
 * serves: the same HTML (webviewHtml), the same Content-Security-Policy with a nonce, the bundle and its
 * CSS from a local HTTP server standing in for `webview.cspSource`, and a stub of VS Code's
 * `acquireVsCodeApi` (loaded with the nonce before the bundle) that records posted messages and keeps
 * getState/setState. Theme colours are set the way VS Code sets them: --vscode-* variables on <html>
 * and a vscode-light / vscode-dark / vscode-high-contrast class on <body>.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WEBVIEW_ASSETS, webviewHtml, type WebviewName } from '../../src/shared/webviews/page';

/** The repository root (this file runs as out/test/webview/harness.js). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const CHROMIUM = process.env.AIRLOCK_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export type Theme = 'light' | 'dark' | 'high-contrast';

const FONT = {
  '--vscode-font-family': "system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif",
  '--vscode-font-size': '13px',
  '--vscode-font-weight': 'normal',
  '--vscode-editor-font-family': "'DejaVu Sans Mono', Consolas, 'Courier New', monospace",
  '--vscode-editor-font-size': '13px',
};

/** A small set of theme colours, as VS Code's Light Modern, Dark Modern and High Contrast set them. */
export const THEMES: Record<Theme, { bodyClass: string; vars: Record<string, string> }> = {
  light: {
    bodyClass: 'vscode-light',
    vars: {
      ...FONT,
      '--vscode-foreground': '#3b3b3b',
      '--vscode-descriptionForeground': '#616161',
      '--vscode-editor-background': '#ffffff',
      '--vscode-sideBar-background': '#f8f8f8',
      '--vscode-widget-border': '#e5e5e5',
      '--vscode-panel-border': '#e5e5e5',
      '--vscode-focusBorder': '#005fb8',
      '--vscode-button-background': '#005fb8',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-hoverBackground': '#0258a8',
      '--vscode-button-border': '#0000001a',
      '--vscode-button-secondaryBackground': '#e5e5e5',
      '--vscode-button-secondaryForeground': '#3b3b3b',
      '--vscode-button-secondaryHoverBackground': '#cccccc',
      '--vscode-input-background': '#ffffff',
      '--vscode-input-foreground': '#3b3b3b',
      '--vscode-input-border': '#cecece',
      '--vscode-input-placeholderForeground': '#767676',
      '--vscode-badge-background': '#cccccc',
      '--vscode-badge-foreground': '#3b3b3b',
      '--vscode-list-activeSelectionBackground': '#e8e8e8',
      '--vscode-list-activeSelectionForeground': '#000000',
      '--vscode-list-inactiveSelectionBackground': '#e4e6f1',
      '--vscode-list-hoverBackground': '#f2f2f2',
      '--vscode-toolbar-hoverBackground': 'rgba(184, 184, 184, 0.31)',
      '--vscode-errorForeground': '#f85149',
      '--vscode-editorWarning-foreground': '#bf8803',
      '--vscode-charts-red': '#e51400',
      '--vscode-charts-green': '#388a34',
      '--vscode-charts-blue': '#1a85ff',
      '--vscode-textLink-foreground': '#005fb8',
      '--vscode-textCodeBlock-background': '#f8f8f8',
      '--vscode-keybindingLabel-background': 'rgba(221, 221, 221, 0.4)',
      '--vscode-keybindingLabel-foreground': '#3b3b3b',
      '--vscode-keybindingLabel-border': 'rgba(204, 204, 204, 0.4)',
      '--vscode-keybindingLabel-bottomBorder': 'rgba(187, 187, 187, 0.4)',
      '--vscode-inputOption-activeBackground': 'rgba(190, 206, 228, 0.2)',
      '--vscode-inputOption-activeBorder': '#005fb8',
      '--vscode-debugTokenExpression-boolean': '#0000ff',
      '--vscode-debugTokenExpression-string': '#a31515',
      '--vscode-debugTokenExpression-number': '#098658',
      '--vscode-debugTokenExpression-name': '#9b46b0',
      '--vscode-symbolIcon-functionForeground': '#652d90',
    },
  },
  dark: {
    bodyClass: 'vscode-dark',
    vars: {
      ...FONT,
      '--vscode-foreground': '#cccccc',
      '--vscode-descriptionForeground': '#9d9d9d',
      '--vscode-editor-background': '#1f1f1f',
      '--vscode-sideBar-background': '#181818',
      '--vscode-widget-border': '#313131',
      '--vscode-panel-border': '#2b2b2b',
      '--vscode-focusBorder': '#0078d4',
      '--vscode-button-background': '#0078d4',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-hoverBackground': '#026ec1',
      '--vscode-button-border': 'rgba(255, 255, 255, 0.07)',
      '--vscode-button-secondaryBackground': '#313131',
      '--vscode-button-secondaryForeground': '#cccccc',
      '--vscode-button-secondaryHoverBackground': '#3c3c3c',
      '--vscode-input-background': '#313131',
      '--vscode-input-foreground': '#cccccc',
      '--vscode-input-border': '#3c3c3c',
      '--vscode-input-placeholderForeground': '#989898',
      '--vscode-badge-background': '#616161',
      '--vscode-badge-foreground': '#f8f8f8',
      '--vscode-list-activeSelectionBackground': '#04395e',
      '--vscode-list-activeSelectionForeground': '#ffffff',
      '--vscode-list-inactiveSelectionBackground': '#37373d',
      '--vscode-list-hoverBackground': '#2a2d2e',
      '--vscode-toolbar-hoverBackground': 'rgba(90, 93, 94, 0.31)',
      '--vscode-errorForeground': '#f85149',
      '--vscode-editorWarning-foreground': '#cca700',
      '--vscode-charts-red': '#f14c4c',
      '--vscode-charts-green': '#89d185',
      '--vscode-charts-blue': '#3794ff',
      '--vscode-textLink-foreground': '#4daafc',
      '--vscode-textCodeBlock-background': '#2b2b2b',
      '--vscode-keybindingLabel-background': 'rgba(128, 128, 128, 0.17)',
      '--vscode-keybindingLabel-foreground': '#cccccc',
      '--vscode-keybindingLabel-border': 'rgba(51, 51, 51, 0.6)',
      '--vscode-keybindingLabel-bottomBorder': 'rgba(68, 68, 68, 0.6)',
      '--vscode-inputOption-activeBackground': 'rgba(36, 137, 219, 0.51)',
      '--vscode-inputOption-activeBorder': '#2488db',
      '--vscode-debugTokenExpression-boolean': '#4e94ce',
      '--vscode-debugTokenExpression-string': '#ce9178',
      '--vscode-debugTokenExpression-number': '#b5cea8',
      '--vscode-debugTokenExpression-name': '#c586c0',
      '--vscode-symbolIcon-functionForeground': '#b180d7',
    },
  },
  'high-contrast': {
    bodyClass: 'vscode-high-contrast',
    vars: {
      ...FONT,
      '--vscode-foreground': '#ffffff',
      '--vscode-descriptionForeground': 'rgba(255, 255, 255, 0.7)',
      '--vscode-editor-background': '#000000',
      '--vscode-sideBar-background': '#000000',
      '--vscode-contrastBorder': '#6fc3df',
      '--vscode-contrastActiveBorder': '#f38518',
      '--vscode-focusBorder': '#f38518',
      '--vscode-button-background': '#000000',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-border': '#6fc3df',
      '--vscode-button-secondaryForeground': '#ffffff',
      '--vscode-input-background': '#000000',
      '--vscode-input-foreground': '#ffffff',
      '--vscode-input-border': '#6fc3df',
      '--vscode-badge-background': '#000000',
      '--vscode-badge-foreground': '#ffffff',
      '--vscode-errorForeground': '#f48771',
      '--vscode-editorWarning-foreground': '#ffd370',
      '--vscode-charts-red': '#f48771',
      '--vscode-charts-green': '#89d185',
      '--vscode-charts-blue': '#3794ff',
      '--vscode-textLink-foreground': '#21a6ff',
      '--vscode-textCodeBlock-background': '#000000',
      '--vscode-keybindingLabel-border': '#6fc3df',
      '--vscode-keybindingLabel-bottomBorder': '#6fc3df',
      '--vscode-keybindingLabel-foreground': '#ffffff',
      '--vscode-inputOption-activeBorder': '#6fc3df',
      '--vscode-debugTokenExpression-boolean': '#75bdfe',
      '--vscode-debugTokenExpression-string': '#f48771',
      '--vscode-debugTokenExpression-number': '#89d185',
      '--vscode-debugTokenExpression-name': '#ffffff',
      '--vscode-symbolIcon-functionForeground': '#b180d7',
    },
  },
};

/** The stub of VS Code's webview API, plus recorders for posted messages and CSP violations. */
function stubScript(theme: Theme, initialState: unknown): string {
  const t = THEMES[theme];
  return `(() => {
  'use strict';
  const theme = ${JSON.stringify(t)};
  for (const [name, value] of Object.entries(theme.vars)) document.documentElement.style.setProperty(name, value);
  document.body.classList.add(theme.bodyClass);
  document.body.dataset.vscodeThemeKind = theme.bodyClass;
  const record = { posted: [], violations: [], state: ${JSON.stringify(initialState ?? null)}, acquired: 0 };
  Object.defineProperty(window, '__airlockTest', { value: record });
  document.addEventListener('securitypolicyviolation', (e) => {
    record.violations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' (' + (e.sample || '') + ')');
  });
  window.acquireVsCodeApi = () => {
    if (record.acquired++) throw new Error('acquireVsCodeApi may only be called once');
    return Object.freeze({
      postMessage: (message) => { record.posted.push(JSON.parse(JSON.stringify(message))); },
      getState: () => (record.state === null ? undefined : JSON.parse(JSON.stringify(record.state))),
      setState: (state) => { record.state = JSON.parse(JSON.stringify(state)); return state; },
    });
  };
})();
`;
}

const MIME: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ttf': 'font/ttf',
  '.html': 'text/html; charset=utf-8',
};

export interface OpenOptions {
  theme?: Theme;
  /** What getState() returns at load (a restored webview). */
  initialState?: unknown;
  viewport?: { width: number; height: number };
  deviceScaleFactor?: number;
}

export class Harness {
  private counter = 0;

  private constructor(
    readonly browser: Browser,
    private readonly server: Server,
    readonly origin: string,
    /** Generated pages and stub scripts by path. */
    private readonly pages: Map<string, string>,
  ) {}

  static async start(): Promise<Harness> {
    for (const f of Object.values(WEBVIEW_ASSETS).flatMap((a) => [a.script, a.style]))
      if (!existsSync(path.join(REPO_ROOT, f))) throw new Error(`${f} is missing: run npm run build first`);
    const pages = new Map<string, string>();
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const generated = pages.get(url.pathname);
      let body: Buffer | string | undefined = generated;
      if (body === undefined && url.pathname.startsWith('/dist/webview/')) {
        const file = path.join(REPO_ROOT, 'dist', 'webview', path.basename(url.pathname));
        if (existsSync(file)) body = readFileSync(file);
      }
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'content-type': MIME[path.extname(url.pathname)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    return new Harness(browser, server, origin, pages);
  }

  /** Opens a view in a fresh page (own context: no shared state between pages). */
  async open(view: WebviewName, options: OpenOptions = {}): Promise<ViewPage> {
    const id = `${view}-${++this.counter}`;
    const nonce = randomBytes(18).toString('base64');
    const stubPath = `/page/${id}-stub.js`;
    this.pages.set(stubPath, stubScript(options.theme ?? 'dark', options.initialState));
    this.pages.set(
      `/page/${id}.html`,
      webviewHtml({
        cspSource: this.origin,
        nonce,
        scriptUri: `${this.origin}/${WEBVIEW_ASSETS[view].script}`,
        styleUri: `${this.origin}/${WEBVIEW_ASSETS[view].style}`,
        title: view,
        preScriptUris: [`${this.origin}${stubPath}`],
      }),
    );
    const context = await this.browser.newContext({
      viewport: options.viewport ?? { width: 1100, height: 760 },
      deviceScaleFactor: options.deviceScaleFactor ?? 1,
      timezoneId: 'UTC',
      locale: 'en-US',
    });
    const page = await context.newPage();
    const vp = new ViewPage(page);
    await page.goto(`${this.origin}/page/${id}.html`);
    await page.evaluate(() => document.fonts.ready.then(() => true));
    return vp;
  }

  async close(): Promise<void> {
    await this.browser.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

declare const document: { fonts: { ready: Promise<unknown> } };

interface TestRecord {
  posted: unknown[];
  violations: string[];
  state: unknown;
}
type TestWindow = { __airlockTest: TestRecord; postMessage(message: unknown, target: string): void };

/** One open view, with what it posted and what went wrong in it. */
export class ViewPage {
  readonly consoleErrors: string[] = [];
  readonly consoleWarnings: string[] = [];
  readonly pageErrors: string[] = [];

  constructor(readonly page: Page) {
    page.on('console', (m) => {
      if (m.type() === 'error') this.consoleErrors.push(m.text());
      if (m.type() === 'warning') this.consoleWarnings.push(m.text());
    });
    page.on('pageerror', (e) => this.pageErrors.push(String(e)));
  }

  /** Sends a message to the view as the extension would (webview.postMessage). */
  async send(message: unknown): Promise<void> {
    await this.page.evaluate((m) => (globalThis as unknown as TestWindow).postMessage(m, '*'), message);
  }

  /** Every message the view posted to the extension, in order. */
  async posted(): Promise<unknown[]> {
    return this.page.evaluate(() => (globalThis as unknown as TestWindow).__airlockTest.posted);
  }

  async decisions(): Promise<Array<Record<string, unknown>>> {
    return (await this.posted()).filter(
      (m): m is Record<string, unknown> => (m as { type?: string }).type === 'decide',
    );
  }

  /** What the view last passed to setState. */
  async state(): Promise<unknown> {
    return this.page.evaluate(() => (globalThis as unknown as TestWindow).__airlockTest.state);
  }

  /** CSP violations (securitypolicyviolation events and the console's "Refused to …" errors). */
  async cspViolations(): Promise<string[]> {
    const events = await this.page.evaluate(
      () => (globalThis as unknown as TestWindow).__airlockTest.violations,
    );
    return [...events, ...this.consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))];
  }

  /** Everything that should never happen in a healthy page. */
  async problems(): Promise<string[]> {
    return [...(await this.cspViolations()), ...this.consoleErrors, ...this.pageErrors];
  }

  async close(): Promise<void> {
    await this.page.context().close();
  }
}
