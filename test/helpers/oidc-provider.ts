import {
  DEFAULT_TTLS,
  DEMO_ACCOUNTS,
  DEMO_AUDIENCE,
  DEMO_CLIENT_ID,
  DEMO_RESOURCE,
  DEVICE_CODE_GRANT,
  demoProvider,
  isRecord,
  listenOnLoopback,
  type DemoAccount,
  type ProviderTtls,
} from '../../src/demo/identity-provider';

/**
 * The demo's OpenID provider (src/demo/identity-provider.ts) for tests, with what only tests need:
 * groups and lifetimes changed at run time, a `slow_down` on demand, the device polls counted, and
 * headless drivers that log an account in through the provider's own pages, as a browser would.
 */

export const TEST_CLIENT_ID = DEMO_CLIENT_ID;
export const TEST_AUDIENCE = DEMO_AUDIENCE;
export const TEST_RESOURCE = DEMO_RESOURCE;

export type TestAccount = DemoAccount;
/** Lifetimes in seconds; changeable while the provider runs (read at each issuance). */
export type TestTtls = ProviderTtls;

export interface TestProviderOptions {
  ttl?: Partial<TestTtls>;
  /** The device grant's polling interval announced to clients, in seconds (the RFC's default is 5). */
  deviceInterval?: number;
}

export interface TestIdentityProvider {
  /** http://127.0.0.1:<port> — the issuer identifier and base URL. */
  issuer: string;
  clientId: string;
  audience: string;
  jwksUri: string;
  accounts: ReadonlyMap<string, TestAccount>;
  ttl: TestTtls;
  addToGroup(accountId: string, group: string): void;
  removeFromGroup(accountId: string, group: string): void;
  /** Answer the next device-grant poll with `slow_down` (RFC 8628 §3.5). */
  slowDownNextPoll(): void;
  /** When each device-grant token request arrived (ms since the epoch). */
  devicePolls: number[];
  /** Whether the provider still honours this refresh token (false once revoked, rotated or expired). */
  refreshTokenActive(token: string): Promise<boolean>;
  /** Log in as `accountId` at an authorization URL; returns the redirect URL carrying code and state. */
  loginAt(authorizationUrl: string, accountId: string): Promise<URL>;
  /** Enter a device grant's user code and log in as `accountId`, as the person at a browser would. */
  approveDevice(userCode: string, accountId: string): Promise<void>;
  close(): Promise<void>;
}

export async function startTestIdentityProvider(
  options: TestProviderOptions = {},
): Promise<TestIdentityProvider> {
  const accounts = new Map(DEMO_ACCOUNTS.map((a) => [a.id, { ...a, groups: [...a.groups] }]));
  const ttl: TestTtls = { ...DEFAULT_TTLS, ...options.ttl };
  let slowDownPending = false;
  const devicePolls: number[] = [];

  const listener = await listenOnLoopback();
  const { issuer } = listener;
  const provider = await demoProvider(issuer, {
    accounts,
    ttl,
    deviceInterval: options.deviceInterval ?? 1,
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.oidc?.params?.grant_type === DEVICE_CODE_GRANT) {
      devicePolls.push(Date.now());
      // Only a pending poll is turned into slow_down, so no issued token is thrown away.
      if (slowDownPending && isRecord(ctx.body) && ctx.body.error === 'authorization_pending') {
        slowDownPending = false;
        ctx.body = { error: 'slow_down', error_description: 'polling too fast' };
      }
    }
  });
  listener.serve(provider.callback());

  const group = (accountId: string): TestAccount => {
    const account = accounts.get(accountId);
    if (!account) throw new Error(`no test account ${accountId}`);
    return account;
  };

  return {
    issuer,
    clientId: TEST_CLIENT_ID,
    audience: TEST_AUDIENCE,
    jwksUri: `${issuer}/jwks`,
    accounts,
    ttl,
    addToGroup: (accountId, name) => {
      const account = group(accountId);
      if (!account.groups.includes(name)) account.groups.push(name);
    },
    removeFromGroup: (accountId, name) => {
      const account = group(accountId);
      account.groups = account.groups.filter((g) => g !== name);
    },
    slowDownNextPoll: () => {
      slowDownPending = true;
    },
    devicePolls,
    refreshTokenActive: async (token) => {
      const found = await provider.RefreshToken.find(token);
      return found?.isValid === true;
    },
    loginAt: (authorizationUrl, accountId) => loginAt(issuer, authorizationUrl, accountId),
    approveDevice: (userCode, accountId) => approveDevice(issuer, userCode, accountId),
    close: () => listener.close(),
  };
}

/**
 * Logs in as `accountId` at an authorization URL of the provider at `issuer` (also one running in
 * another process, such as `airlock demo`'s); returns the redirect URL carrying code and state.
 */
export async function loginAt(issuer: string, authorizationUrl: string, accountId: string): Promise<URL> {
  return new HeadlessBrowser().interact(new URL(authorizationUrl), accountId, (url) => url.origin !== issuer);
}

/**
 * Enters a device grant's user code at the provider at `issuer` and logs in as `accountId`, as the
 * person at a browser would.
 */
export async function approveDevice(issuer: string, userCode: string, accountId: string): Promise<void> {
  const browser = new HeadlessBrowser();
  const entry = await browser.get(new URL('/device', issuer));
  const xsrf = hiddenInput(await entry.text(), 'xsrf');
  const confirm = await browser.post(new URL('/device', issuer), { xsrf, user_code: userCode });
  const confirmPage = await confirm.text();
  if (!confirmPage.includes('op.deviceConfirmForm')) {
    throw new Error(`the provider did not accept user code ${userCode}`);
  }
  const confirmed = await browser.post(new URL('/device', issuer), {
    xsrf: hiddenInput(confirmPage, 'xsrf'),
    user_code: hiddenInput(confirmPage, 'user_code'),
    confirm: 'yes',
  });
  const done = await browser.interact(redirectOf(confirmed, issuer), accountId, () => false);
  if (!done.pathname.startsWith('/device')) throw new Error(`device approval ended at ${done}`);
}

function hiddenInput(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no ${name} field on the provider's page`);
  return match[1];
}

function redirectOf(res: Response, base: string): URL {
  const location = res.headers.get('location');
  if (res.status < 300 || res.status >= 400 || !location) {
    throw new Error(`expected a redirect, got HTTP ${res.status}`);
  }
  return new URL(location, base);
}

/** fetch with a cookie jar and manual redirects: the provider's pages as a browser walks them. */
class HeadlessBrowser {
  private readonly cookies = new Map<string, string>();

  async get(url: URL): Promise<Response> {
    return this.request(url, { method: 'GET' });
  }

  async post(url: URL, form: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }

  /**
   * Follow redirects from `start`, answering the login and consent prompts as `accountId`, until a
   * redirect leaves the provider (`isExit`) or a page needs nothing more; returns that last URL.
   */
  async interact(start: URL, accountId: string, isExit: (url: URL) => boolean): Promise<URL> {
    let url = start;
    for (let step = 0; step < 20; step++) {
      if (isExit(url)) return url;
      const res = await this.get(url);
      if (res.status >= 300 && res.status < 400) {
        url = redirectOf(res, url.origin);
        continue;
      }
      const page = await res.text();
      if (!url.pathname.startsWith('/interaction/')) {
        if (res.status !== 200) throw new Error(`HTTP ${res.status} at ${url.pathname}: ${page}`);
        return url;
      }
      const prompt = hiddenInput(page, 'prompt');
      const form: Record<string, string> =
        prompt === 'login' ? { prompt, login: accountId, password: 'any' } : { prompt: 'consent' };
      const submitted = await this.post(url, form);
      url = redirectOf(submitted, url.origin);
    }
    throw new Error('the provider redirected too often');
  }

  private async request(url: URL, init: RequestInit): Promise<Response> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}
