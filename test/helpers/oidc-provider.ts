import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContext, type ProviderClient, type Token } from 'oidc-provider';

/**
 * A real OpenID provider (oidc-provider 9) on 127.0.0.1 for tests: two demo accounts in two groups, one
 * public native client `airlock` (no secret, PKCE required, loopback redirects on any port, code +
 * refresh + device grants), JWT access tokens for one audience carrying `email` and `groups`, so a server
 * can verify them with jose against the JWKS. Headless drivers log an account in through the provider's
 * own pages (devInteractions), as a browser would.
 */

export const TEST_CLIENT_ID = 'airlock';
/**
 * The access tokens' audience: not the client id, which is the ID token's audience, so a server that
 * checks the audience cannot take an ID token for an access token.
 */
export const TEST_AUDIENCE = 'airlock-server';
/** The resource indicator the provider maps to TEST_AUDIENCE; the default when a client names none. */
export const TEST_RESOURCE = 'urn:airlock:server';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface TestAccount {
  id: string;
  email: string;
  groups: string[];
}

/** Lifetimes in seconds; changeable while the provider runs (read at each issuance). */
export interface TestTtls {
  accessToken: number;
  idToken: number;
  refreshToken: number;
  deviceCode: number;
}

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

const DEMO_ACCOUNTS: TestAccount[] = [
  { id: 'dev', email: 'dev@example.com', groups: ['developers'] },
  { id: 'rev', email: 'rev@example.com', groups: ['reviewers'] },
];

export async function startTestIdentityProvider(
  options: TestProviderOptions = {},
): Promise<TestIdentityProvider> {
  const accounts = new Map(DEMO_ACCOUNTS.map((a) => [a.id, { ...a, groups: [...a.groups] }]));
  const ttl: TestTtls = {
    accessToken: 300,
    idToken: 300,
    refreshToken: 3600,
    deviceCode: 300,
    ...options.ttl,
  };
  const deviceInterval = options.deviceInterval ?? 1;
  let slowDownPending = false;
  const devicePolls: number[] = [];

  // Listen first so the issuer can name its port; requests are served once the provider exists.
  let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

  const claimsOf = (account: TestAccount) => ({
    sub: account.id,
    email: account.email,
    email_verified: true,
    groups: [...account.groups],
  });

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: TEST_CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        // Native clients' loopback redirects match on any port (RFC 8252 §7.3).
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['openid', 'offline_access', 'email', 'groups'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
    // Put email and groups in the ID token too, as the identity providers Airlock targets do.
    conformIdTokenClaims: false,
    findAccount: (_ctx: unknown, sub: string) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: () => claimsOf(account) };
    },
    // Like Keycloak: a refresh token to every client allowed the grant, bound to the session unless
    // offline_access was granted.
    issueRefreshToken: (_ctx: unknown, client: ProviderClient) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: () => ttl.accessToken,
      IdToken: () => ttl.idToken,
      RefreshToken: () => ttl.refreshToken,
      DeviceCode: () => ttl.deviceCode,
      Session: () => 24 * 3600,
      Grant: () => 24 * 3600,
      Interaction: () => 600,
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: {
        enabled: true,
        // Plain pages (the defaults log a notice each time): the forms are the provider's own.
        userCodeInputSource: (ctx: KoaContext, form: string) => {
          ctx.body = page(`${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        userCodeConfirmSource: (ctx: KoaContext, form: string) => {
          ctx.body = page(`${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>`);
        },
        successSource: (ctx: KoaContext) => {
          ctx.body = page('<p>Signed in. You can close this window.</p>');
        },
      },
      revocation: {
        enabled: true,
        // A public client may revoke its own tokens, nobody else's.
        allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: Token) =>
          token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => TEST_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== TEST_RESOURCE) throw new Error(`unknown resource ${indicator}`);
          return {
            scope: 'airlock',
            audience: TEST_AUDIENCE,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ttl.accessToken,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // Read at each issuance, so an access token (also a refreshed one) carries the groups of that moment.
    extraTokenClaims: (_ctx: unknown, token: Token) => {
      const account = token.kind === 'AccessToken' && token.accountId && accounts.get(token.accountId);
      return account ? { email: account.email, groups: [...account.groups] } : undefined;
    },
    pkce: { required: () => true },
  });
  // Quiet: the provider logs its own warnings and errors otherwise, which tests provoke on purpose.
  provider.on('server_error', () => undefined);

  provider.use(async (ctx: KoaContext, next) => {
    await next();
    if (ctx.path === '/device/auth' && ctx.status === 200 && isRecord(ctx.body)) {
      ctx.body = { ...ctx.body, interval: deviceInterval };
    }
    if (ctx.path === '/token' && ctx.oidc?.params?.grant_type === DEVICE_CODE_GRANT) {
      devicePolls.push(Date.now());
      // Only a pending poll is turned into slow_down, so no issued token is thrown away.
      if (slowDownPending && isRecord(ctx.body) && ctx.body.error === 'authorization_pending') {
        slowDownPending = false;
        ctx.body = { error: 'slow_down', error_description: 'polling too fast' };
      }
    }
  });
  handle = provider.callback();

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
    loginAt: async (authorizationUrl, accountId) => {
      const browser = new HeadlessBrowser();
      const final = await browser.interact(
        new URL(authorizationUrl),
        accountId,
        (url) => url.origin !== issuer,
      );
      return final;
    },
    approveDevice: async (userCode, accountId) => {
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
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function page(body: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign-in</title></head><body>${body}</body></html>`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
