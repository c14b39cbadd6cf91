import { loadConfig } from '../config/config';
import { connectIssuer, isLoopbackHttp, type Issuer } from '../identity/issuer';
import { OidcSession, signOut, type VerifiedHuman } from '../identity/oidc-session';
import { refreshTokenFile } from '../identity/refresh-token-store';
import { oidcSettings } from '../identity/settings';
import { writeText } from './human-output';
import { startInteractiveSignIn } from './interactive-sign-in';

export const loginUsage = `airlock login [--device] [--config FILE]

Signs in at the identity provider named in FILE's identity section (default ./airlock.yaml): in the
browser (authorization code + PKCE, the answer taken on a one-time loopback address), or with --device
by entering a code on any device. The address to open is always printed; it holds no token. The
refresh token is kept in a 0600 file under $XDG_CONFIG_HOME/airlock (or ~/.config/airlock); the other
tokens stay in memory. See docs/identity.md.`;

export const logoutUsage = `airlock logout [--config FILE]

Signs out: revokes the refresh token at the identity provider and deletes it here.`;

export const whoamiUsage = `airlock whoami [--config FILE] [--server URL]

Shows who is signed in (the provider's subject, e-mail, groups), at which provider, and until when
the access is renewed. With --server, also what the Airlock server lets this identity reach.`;

interface CommonOptions {
  config?: string;
}

function issuerFromConfig(options: CommonOptions): Promise<Issuer> {
  const file = options.config ?? 'airlock.yaml';
  const config = loadConfig(file);
  if (!config.identity) {
    throw new Error(
      `${file} has no identity section: add identity.issuer and identity.clientId (see docs/identity.md)`,
    );
  }
  return connectIssuer(oidcSettings(config.identity));
}

export async function loginCommand(options: CommonOptions & { device?: boolean }): Promise<number> {
  const issuer = await issuerFromConfig(options);
  const store = refreshTokenFile(issuer.settings);
  const pending = await startInteractiveSignIn(issuer, options.device ? 'device' : 'browser', process.stdout);
  const tokens = await pending.completed;
  const session = await OidcSession.start(issuer, tokens, store);
  try {
    writeText(
      process.stdout,
      `Signed in as ${describe(session.current())} at ${issuer.settings.issuer}.\nThe refresh token is kept in ${store.location} (mode 0600).\n`,
    );
  } finally {
    session.close();
  }
  return 0;
}

export async function logoutCommand(options: CommonOptions): Promise<number> {
  const issuer = await issuerFromConfig(options);
  const store = refreshTokenFile(issuer.settings);
  if (!(await store.load())) {
    writeText(process.stdout, `Not signed in to ${issuer.settings.issuer}.\n`);
    return 0;
  }
  // No renewal first: the stored refresh token is what is revoked.
  const result = await signOut(issuer, store);
  if (result.revoked) {
    writeText(
      process.stdout,
      `Signed out of ${issuer.settings.issuer}; the sign-in was revoked there and deleted here.\n`,
    );
    return 0;
  }
  writeText(
    process.stderr,
    `Signed out here (the stored token was deleted), but the identity provider did not confirm the revocation: ${result.problem}\nThe sign-in ends there when its refresh token expires.\n`,
  );
  return 1;
}

export async function whoamiCommand(options: CommonOptions & { server?: string }): Promise<number> {
  const issuer = await issuerFromConfig(options);
  const session = await OidcSession.resume(issuer, refreshTokenFile(issuer.settings));
  try {
    const human = session.current();
    writeText(
      process.stdout,
      [
        `${describe(human)}`,
        `  subject:  ${human.subject}`,
        `  issuer:   ${human.issuer}`,
        `  access:   renewed silently until you sign out or the provider ends the sign-in; current token valid until ${session.expiresAt.toISOString()}`,
        '',
      ].join('\n'),
    );
    if (options.server) writeText(process.stdout, await reachable(options.server, session.accessToken()));
  } finally {
    session.close();
  }
  return 0;
}

export function describe(human: VerifiedHuman): string {
  return `${human.user} (groups: ${human.groups.length ? human.groups.join(', ') : 'none'})`;
}

/** What the Airlock server says this identity may reach; an explanation instead when it cannot say. */
export async function reachable(server: string, accessToken: string): Promise<string> {
  let url: URL;
  try {
    url = new URL('/v1/whoami', server);
  } catch {
    return `server ${server}: not a URL\n`;
  }
  // The access token is a bearer secret: it travels only over TLS, or to this machine.
  if (url.protocol !== 'https:' && !isLoopbackHttp(url)) {
    return `server ${server}: not asked — the token is only sent over https (plain http only to a loopback address)\n`;
  }
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    return `server ${url.origin}: cannot reach it (${(err as Error).message})\n`;
  }
  if (res.status === 404) return `server ${url.origin}: it does not offer /v1/whoami (an older server?)\n`;
  if (!res.ok)
    return `server ${url.origin}: refused (HTTP ${res.status}): ${(await res.text()).slice(0, 200)}\n`;
  const body = (await res.json().catch(() => undefined)) as { connections?: unknown } | undefined;
  const connections = Array.isArray(body?.connections)
    ? body.connections.filter(
        (c): c is { name: string; kind: string } =>
          typeof c?.name === 'string' && typeof c?.kind === 'string',
      )
    : undefined;
  if (!connections) return `server ${url.origin}: answered /v1/whoami without a list of connections\n`;
  if (connections.length === 0) return `server ${url.origin}: your groups may reach no connection\n`;
  return `server ${url.origin}: you may reach\n${connections.map((c) => `  ${c.name} (${c.kind})\n`).join('')}`;
}
