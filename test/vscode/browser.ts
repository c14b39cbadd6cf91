import { format } from 'node:util';
import { chromium, type Browser, type Frame, type Locator, type Page } from 'playwright-core';

/**
 * Debian's chromium driven by playwright-core (no Playwright browser download, no network). Headless,
 * no sandbox (runs as root in CI), no GPU, no background traffic to Google.
 */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true, // playwright passes --headless and a fresh temp --user-data-dir itself
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface OpenOptions {
  /** Folder (on the code-server machine) to open; code-server's default folder when omitted. */
  folder?: string;
  /** Extra query parameters (for example the test `payload`, see run-extension-tests.ts). */
  query?: Record<string, string>;
  /** Print the page's console on stdout (mocha output of in-host tests arrives there). */
  forwardConsole?: boolean;
  /** The page size (default 1400×900). */
  viewport?: { width: number; height: number };
  /** Called before the page loads, for page.exposeFunction and the like. */
  beforeLoad?: (page: Page) => Promise<unknown>;
}

/** A workbench page with the few interactions the scenario tests need. */
export class Workbench {
  constructor(readonly page: Page) {}

  static async open(browser: Browser, url: string, opts: OpenOptions = {}): Promise<Workbench> {
    const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1400, height: 900 } });
    if (opts.forwardConsole) forwardConsole(page);
    page.on('pageerror', (e) => process.stdout.write(`[browser pageerror] ${e.message}\n`));
    await opts.beforeLoad?.(page);
    const u = new URL(url);
    if (opts.folder) u.searchParams.set('folder', opts.folder);
    for (const [k, v] of Object.entries(opts.query ?? {})) u.searchParams.set(k, v);
    await page.goto(u.toString());
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    return new Workbench(page);
  }

  /**
   * Runs a command by its palette title (F1, type, pick the row whose label is exactly the title). Right
   * after load the palette may not list extension commands yet (the remote extension host registers its
   * contributions late), and an open palette does not refresh, so it is reopened until the title shows.
   */
  async runCommand(title: string, timeoutMs = 60_000): Promise<void> {
    const { page } = this;
    const input = page.locator('.quick-input-widget input');
    const row = page
      .locator('.quick-input-list .monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) })
      .first();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await page.keyboard.press('F1');
      await input.waitFor();
      await input.fill(`>${title}`);
      try {
        await row.waitFor({ timeout: 2_000 });
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`no command titled "${title}" in the palette`, { cause: err });
        await page.keyboard.press('Escape');
        await input.waitFor({ state: 'hidden' });
      }
    }
    await row.click();
    // The palette closes; a command that asks something (showQuickPick) reopens the same widget, maybe
    // before a hidden state could be seen: done when it is hidden or no longer holds the `>` query.
    // (A string: this file is compiled without the DOM types.)
    await page.waitForFunction(
      `(() => {
        const widget = document.querySelector('.quick-input-widget');
        const box = widget && widget.querySelector('input');
        return !widget || widget.offsetParent === null || !box || !box.value.startsWith('>');
      })()`,
      undefined,
      { timeout: 30_000 },
    );
  }

  /**
   * Switches the color theme the way a person does: "Preferences: Color Theme", the theme's name, Enter.
   * Resolves once the workbench shows a theme of that kind.
   */
  async setColorTheme(name: string, kind: 'light' | 'dark', timeoutMs = 60_000): Promise<void> {
    const { page } = this;
    await this.runCommand('Preferences: Color Theme', timeoutMs);
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: timeoutMs });
    await input.fill(name);
    const row = page
      .locator('.quick-input-widget .quick-input-list .monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }) })
      .first();
    await row.waitFor({ timeout: timeoutMs }).catch((err: unknown) => {
      throw new Error(`the theme picker lists no "${name}"`, { cause: err });
    });
    await row.click();
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: timeoutMs });
    const deadline = Date.now() + timeoutMs;
    while ((await this.themeKind()) !== kind) {
      if (Date.now() > deadline) throw new Error(`the workbench never showed the ${kind} theme "${name}"`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Picks the row of the open quick pick (a command's showQuickPick) whose text — label and description —
   * matches `pattern`. Waits for the quick pick and the row.
   */
  async pickQuickItem(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const { page } = this;
    const row = page
      .locator('.quick-input-widget .quick-input-list .monaco-list-row')
      .filter({ hasText: pattern })
      .first();
    try {
      await row.waitFor({ timeout: timeoutMs });
    } catch (err) {
      const rows = await page
        .locator('.quick-input-widget .quick-input-list .monaco-list-row')
        .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
      throw new Error(`no quick pick row matches ${pattern}; rows: ${JSON.stringify(rows)}`, { cause: err });
    }
    const text = (await row.textContent()) ?? '';
    await row.click();
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 30_000 });
    return text;
  }

  /**
   * Clicks the `button` of a notification toast whose message matches `message`; resolves false when no
   * such toast showed within the time (toasts of a warning hide after a while; the notification itself
   * stays in the notification center).
   */
  async clickNotificationButton(message: RegExp, button: string, timeoutMs = 30_000): Promise<boolean> {
    const { page } = this;
    const btn = page
      .locator('.notification-toast', {
        has: page.locator('.notification-list-item-message', { hasText: message }),
      })
      .locator('.monaco-button', { hasText: new RegExp(`^${escapeRegExp(button)}$`) })
      .first();
    try {
      await btn.waitFor({ timeout: timeoutMs });
      await btn.click({ timeout: 5_000 });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Clicks the link `link` in a notification toast whose message matches `message` (a progress
   * notification's actions are links in its message); resolves false when no such toast showed.
   */
  async clickNotificationLink(message: RegExp, link: string, timeoutMs = 30_000): Promise<boolean> {
    const a = this.notificationToast(message)
      .locator('a', { hasText: new RegExp(`^${escapeRegExp(link)}$`) })
      .first();
    try {
      await a.waitFor({ timeout: timeoutMs });
      await a.click({ timeout: 5_000 });
      return true;
    } catch {
      return false;
    }
  }

  /** The notification toasts whose message matches `message`. */
  notificationToast(message: RegExp): Locator {
    const { page } = this;
    return page.locator('.notification-toast', {
      has: page.locator('.notification-list-item-message', { hasText: message }),
    });
  }

  /** The workbench's theme kind, from the classes VS Code puts on `.monaco-workbench`. */
  async themeKind(): Promise<'light' | 'dark' | 'hc-light' | 'hc-dark' | 'unknown'> {
    const cls = (await this.page.locator('.monaco-workbench').getAttribute('class')) ?? '';
    const has = (c: string) => cls.split(/\s+/).includes(c);
    if (has('hc-light')) return 'hc-light';
    if (has('hc-black')) return 'hc-dark';
    if (has('vs-dark')) return 'dark';
    if (has('vs')) return 'light';
    return 'unknown';
  }

  /**
   * Waits for a visible terminal. Reading its text relies on xterm's DOM renderer: the harness turns GPU
   * acceleration off in the user settings (code-server.ts), so `.xterm-rows` holds the text.
   */
  async waitForTerminal(timeoutMs = 30_000): Promise<void> {
    await this.page
      .locator('.terminal-wrapper.active .terminal-xterm-host > .xterm .xterm-rows')
      .waitFor({ timeout: timeoutMs });
  }

  /** Types into the active terminal (focusing it first) and, by default, presses Enter. */
  async typeInTerminal(text: string, enter = true): Promise<void> {
    await this.page.locator('.terminal-wrapper.active .terminal-xterm-host > .xterm').click();
    await this.page.keyboard.type(text);
    if (enter) await this.page.keyboard.press('Enter');
  }

  /** The active terminal's visible text, one line per row, trailing blanks trimmed. */
  async terminalText(): Promise<string> {
    const rows = await this.page
      .locator('.terminal-wrapper.active .terminal-xterm-host > .xterm .xterm-rows > div')
      .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    return rows
      .map((r) => r.replace(/\u00a0/g, ' ').trimEnd())
      .join('\n')
      .trimEnd();
  }

  /** Waits until the active terminal shows text matching `pattern`; returns the whole text. */
  async waitForTerminalText(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await this.terminalText();
      if (pattern.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`terminal never showed ${pattern}; it shows:\n${text}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * The content frame of the webview shown in the editor tab (or view pane) titled `title`. Webviews are
   * not inside their editor in the DOM: each is an outer iframe (VS Code's host page) laid over the editor
   * area, holding an inner `#active-frame` with the extension's HTML, and nothing on it names the panel.
   * So the tab is activated and the visible webview lying over its editor (or pane body) is taken.
   */
  async webviewFrame(title: string, timeoutMs = 30_000): Promise<Frame> {
    const { page } = this;
    const exact = new RegExp(`^${escapeRegExp(title)}$`);
    const tab = page.locator('.tab', { has: page.locator('.label-name', { hasText: exact }) }).first();
    const pane = page
      .locator('.pane', { has: page.locator('.pane-header .title', { hasText: exact }) })
      .first();
    await tab.or(pane).first().waitFor({ timeout: timeoutMs });
    let area;
    if (await tab.count()) {
      await tab.click();
      area = page.locator('.editor-group-container', { has: tab }).locator('.editor-container');
    } else area = pane.locator('.pane-body');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const box = await area.boundingBox();
      for (const outer of await page.locator('iframe.webview:visible').all()) {
        const b = await outer.boundingBox();
        if (!box || !b) continue;
        const [x, y] = [b.x + b.width / 2, b.y + b.height / 2];
        if (x < box.x || x > box.x + box.width || y < box.y || y > box.y + box.height) continue;
        // The inner frame is "pending-frame" until the extension's HTML has loaded.
        const inner = await outer
          .contentFrame()
          .locator('iframe#active-frame')
          .elementHandle({ timeout: timeoutMs });
        const frame = await inner.contentFrame();
        if (frame) return frame;
      }
      if (Date.now() > deadline) throw new Error(`no webview shown for "${title}"`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async screenshot(file: string): Promise<void> {
    await this.page.screenshot({ path: file });
  }
}

/**
 * Prints the page console on stdout in order. The extension host's console reaches the page as
 * console.log('%c INFO', 'color: …', format, ...args) (mocha's own format strings), so the arguments are
 * formatted here like Node would, not taken from msg.text().
 */
function forwardConsole(page: Page): void {
  let queue = Promise.resolve();
  page.on('console', (m) => {
    queue = queue.then(async () => {
      let args: unknown[] = await Promise.all(m.args().map((a) => a.jsonValue().catch(() => '?')));
      let level: string = m.type();
      if (typeof args[0] === 'string' && args[0].startsWith('%c')) {
        level = args[0].slice(2).trim().toLowerCase() || level;
        args = args.slice(2);
      }
      const text = args.length > 0 ? format(...args) : m.text();
      process.stdout.write(text.replace(/^/gm, `[browser ${level}] `) + '\n');
    });
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
