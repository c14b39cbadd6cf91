import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import type Provider from 'oidc-provider';
import type { KoaContext, ProviderClient, Token } from 'oidc-provider';

/**
 * The demo's own OpenID provider (oidc-provider 9) on 127.0.0.1, shared by `airlock demo` and the tests:
 * two accounts in two groups, one public native client `airlock` (no secret, PKCE required, loopback
 * redirects on any port, code + refresh + device grants), JWT access tokens for one audience carrying
 * `email` and `groups`, so the control plane verifies them with jose against the JWKS as it would any
 * company provider's. People sign in on the provider's own pages (devInteractions: any password).
 */

export const DEMO_CLIENT_ID = 'airlock';
/**
 * The access tokens' audience: not the client id, which is the ID token's audience, so a server that
 * checks the audience cannot take an ID token for an access token.
 */
export const DEMO_AUDIENCE = 'airlock-server';
/** The resource indicator the provider maps to DEMO_AUDIENCE; the default when a client names none. */
export const DEMO_RESOURCE = 'urn:airlock:server';
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface DemoAccount {
  id: string;
  email: string;
  groups: string[];
}

export const DEMO_ACCOUNTS: readonly DemoAccount[] = [
  { id: 'dev', email: 'dev@example.com', groups: ['developers'] },
  { id: 'rev', email: 'rev@example.com', groups: ['reviewers'] },
];

/** Lifetimes in seconds, read at each issuance (tests change them while the provider runs). */
export interface ProviderTtls {
  accessToken: number;
  idToken: number;
  refreshToken: number;
  deviceCode: number;
}

export const DEFAULT_TTLS: Readonly<ProviderTtls> = {
  accessToken: 300,
  idToken: 300,
  refreshToken: 3600,
  deviceCode: 300,
};

/** A plain http listener on 127.0.0.1 whose address is known before the provider that serves it exists. */
export interface LoopbackListener {
  /** http://127.0.0.1:<port> — the issuer identifier and base URL. */
  issuer: string;
  serve(handler: http.RequestListener): void;
  close(): Promise<void>;
}

/** Listens first, so the issuer can name its port; requests wait for `serve` (503 until then). */
export async function listenOnLoopback(): Promise<LoopbackListener> {
  let handle: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve: (handler) => {
      handle = handler;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface DemoProviderSettings {
  /** Looked up at each sign-in and issuance, so a group change shows in the next token. */
  accounts: ReadonlyMap<string, DemoAccount>;
  ttl: ProviderTtls;
  /** The device grant's polling interval announced to clients, in seconds (the RFC's default is 5). */
  deviceInterval: number;
}

/** The provider itself, not yet serving: the caller may add middleware before taking its callback. */
export async function demoProvider(issuer: string, s: DemoProviderSettings): Promise<Provider> {
  // Loaded only here: the module warns on load (Node 20 is not its supported runtime), which no other
  // command of the CLI bundle should print.
  const { default: OidcProvider } = await import('oidc-provider');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'demo-rs256', alg: 'RS256', use: 'sig' };
  const { accounts, ttl } = s;

  const provider = new OidcProvider(issuer, {
    clients: [
      {
        client_id: DEMO_CLIENT_ID,
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
      return {
        accountId: sub,
        claims: () => ({
          sub: account.id,
          email: account.email,
          email_verified: true,
          groups: [...account.groups],
        }),
      };
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
        defaultResource: () => DEMO_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== DEMO_RESOURCE) throw new Error(`unknown resource ${indicator}`);
          return {
            scope: 'airlock',
            audience: DEMO_AUDIENCE,
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
  // Quiet: the provider logs its own warnings and errors otherwise (a refused request is not news).
  provider.on('server_error', () => undefined);
  provider.use(async (ctx: KoaContext, next) => {
    await next();
    if (ctx.path === '/device/auth' && ctx.status === 200 && isRecord(ctx.body)) {
      ctx.body = { ...ctx.body, interval: s.deviceInterval };
    }
  });
  return provider;
}

/** The demo's provider, serving: its two accounts, default lifetimes. */
export interface DemoIdentityProvider {
  issuer: string;
  clientId: string;
  audience: string;
  resource: string;
  accounts: readonly DemoAccount[];
  close(): Promise<void>;
}

export async function startDemoIdentityProvider(): Promise<DemoIdentityProvider> {
  const listener = await listenOnLoopback();
  try {
    const provider = await demoProvider(listener.issuer, {
      accounts: new Map(DEMO_ACCOUNTS.map((a) => [a.id, a])),
      ttl: { ...DEFAULT_TTLS },
      deviceInterval: 1,
    });
    listener.serve(provider.callback());
  } catch (err) {
    await listener.close();
    throw err;
  }
  return {
    issuer: listener.issuer,
    clientId: DEMO_CLIENT_ID,
    audience: DEMO_AUDIENCE,
    resource: DEMO_RESOURCE,
    accounts: DEMO_ACCOUNTS,
    close: () => listener.close(),
  };
}

function page(body: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign-in</title></head><body>${body}</body></html>`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
