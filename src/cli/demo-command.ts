import path from 'node:path';
import type { AirlockConfig } from '../config/config';
import { streamLogger } from '../core/log';
import { DEMO_CONNECTION, startDemoControlPlane } from '../demo/control-plane';
import { startDemoDatabase, type DemoDatabase } from '../demo/demo-database';
import { startDemoIdentityProvider } from '../demo/identity-provider';
import { Airlock } from '../engine/airlock';
import { connectIssuer } from '../identity/issuer';
import { OidcSession } from '../identity/oidc-session';
import type { RefreshTokenStore } from '../identity/refresh-token-store';
import { oidcSettings } from '../identity/settings';
import { writeText } from './human-output';
import { hasDesktop, startInteractiveSignIn, type SignInMode } from './interactive-sign-in';
import { describe, reachable } from './login-command';
import { writeReadyFile } from './ready-file';
import { untilSignal } from './run-until-signal';

export const demoUsage = `airlock demo [--device] [--ready-file PATH]

Starts, for this run only: an OpenID provider with two demo accounts (dev, in group developers; rev,
in group reviewers; any password), the Airlock control plane on its embedded store (plain http on
127.0.0.1), a demo PostgreSQL with sample (fake) personal data, and the Airlock proxy in front of it.
You sign in for real on the provider's page (a browser opens where there is a desktop; the address is
always printed; without a desktop, or with --device, a code to enter on any device), then psql
through the printed line is decided for the person signed in. Ctrl-C stops all of it and removes it.`;

const DEMO_PASSWORD_ENV = 'AIRLOCK_DEMO_UPSTREAM_PASSWORD';
/**
 * Reads with personal data masked, writes only on a person's approval (here, headless: denied),
 * support tickets for reviewers only; shipped beside the bundle (dist/ → examples/).
 */
const DEMO_POLICY = path.resolve(__dirname, '..', 'examples', 'policies', 'demo.yaml');

/**
 * The proxy's configuration: the one place that changes when workstations take policy and connections
 * from the control plane (`server: { url }`, connections by name only). Until then the proxy reads the
 * demo policy file, whose rules already tell the signed-in groups apart.
 */
export function demoProxyConfig(db: DemoDatabase): AirlockConfig {
  return {
    connections: [
      {
        name: DEMO_CONNECTION,
        kind: 'postgres',
        upstream: db.upstream,
        passwordEnv: DEMO_PASSWORD_ENV,
        listen: '127.0.0.1:0',
      },
    ],
    policy: DEMO_POLICY,
    allowUnsignedPolicy: true,
  };
}

/** The demo's sign-in lives as long as the process: nothing of it is written to disk. */
function inMemoryRefreshToken(): RefreshTokenStore {
  let token: string | undefined;
  return {
    location: 'memory (this demo run only)',
    load: async () => token,
    save: async (t) => {
      token = t;
    },
    clear: async () => {
      token = undefined;
    },
  };
}

export async function demoCommand(options: { 'ready-file'?: string; device?: boolean }): Promise<number> {
  const log = streamLogger('info');
  // Ctrl-C from the first moment: whatever has started by then is stopped and removed, in reverse.
  let stopRequested = false;
  const stopping = untilSignal().then(() => {
    stopRequested = true;
  });
  const started: Array<() => unknown> = [];
  try {
    const idp = await startDemoIdentityProvider();
    started.push(() => idp.close());
    const db = await startDemoDatabase(log);
    started.push(() => db.stop());
    if (stopRequested) return 0;
    const controlPlane = await startDemoControlPlane({
      oidc: { issuer: idp.issuer, audience: idp.audience },
      upstream: db.upstream,
      policyFile: DEMO_POLICY,
      ...(db.addDatabase ? { database: await db.addDatabase('airlock_control_plane') } : {}),
    });
    started.push(() => controlPlane.stop());
    writeText(
      process.stdout,
      [
        '',
        `Identity provider: ${idp.issuer} (the demo's own)`,
        `Control plane:     ${controlPlane.url} — plain http on loopback, for this demo only (production runs TLS);`,
        `                   store: ${controlPlane.store}`,
        `Demo database:     ${db.engine}`,
        '',
        `Sign in as ${idp.accounts.map((a) => `${a.id} (group ${a.groups.join(', ')})`).join(' or ')}, with any password.`,
        '',
      ].join('\n'),
    );
    if (stopRequested) return 0;

    const issuer = await connectIssuer(
      oidcSettings({
        issuer: idp.issuer,
        clientId: idp.clientId,
        scopes: ['openid', 'email', 'groups', 'offline_access'],
        resource: idp.resource,
      }),
    );
    const mode: SignInMode = options.device ? 'device' : hasDesktop() ? 'browser' : 'either';
    const pending = await startInteractiveSignIn(issuer, mode, process.stdout);
    started.push(() => pending.cancel());
    const tokens = await Promise.race([pending.completed, stopping.then(() => undefined)]);
    if (!tokens) return 0;
    const session = await OidcSession.start(issuer, tokens, inMemoryRefreshToken());
    started.push(() => session.close());
    const human = session.current();
    // The control plane verifies the same access token the proxy will present to it.
    const fromServer = await reachable(controlPlane.url, session.accessToken());

    // The upstream password lives only in this process's memory and environment.
    if (db.password) process.env[DEMO_PASSWORD_ENV] = db.password;
    // Headless, nobody can approve: a statement that needs review is denied at once.
    const airlock = await Airlock.start(demoProxyConfig(db), { log, approvals: null, identity: session });
    started.push(() => airlock.close());
    await airlock.connect();
    if (options['ready-file']) await writeReadyFile(options['ready-file'], airlock.endpoints);
    const e = airlock.endpoints[0];
    const developer = human.groups.includes('developers');
    writeText(
      process.stdout,
      [
        '',
        `Signed in as ${describe(human)}, verified by ${human.issuer}.`,
        fromServer.trimEnd(),
        '',
        `Airlock demo is running (${db.engine} behind the Airlock proxy, deciding for ${human.user}). Connect with:`,
        '',
        `  PGPASSWORD='${e.password}' psql "host=${e.host} port=${e.port} user=${e.user} dbname=${e.database}"`,
        '',
        'Try:  \\dt',
        '      SELECT * FROM customers LIMIT 5;            -- personal data arrives masked',
        developer
          ? '      SELECT body FROM support_tickets LIMIT 4;   -- denied for developers: sign in as rev to read them'
          : '      SELECT body FROM support_tickets LIMIT 4;   -- reviewers read them; cards, e-mails, keys masked',
        '      SELECT upper(email) FROM customers;         -- denied: it computes on a masked column',
        '      DELETE FROM customers;                      -- needs approval: denied here, asked in VS Code',
        'Press Ctrl-C to stop; the demo database, control plane and identity provider are removed.',
        '',
      ].join('\n'),
    );
    await stopping;
  } finally {
    for (const stop of started.reverse()) {
      try {
        await stop();
      } catch (err) {
        log.warn(`while stopping the demo: ${(err as Error).message}`);
      }
    }
  }
  return 0;
}
