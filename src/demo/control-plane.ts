import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseUpstreamUrl } from '../config/config';
import { parsePolicy } from '../core/policy/document';
import { generateSigningKey } from '../core/policy/bundle';
import type { ServerConfig } from '../controlplane/server/config';
import { embeddedDatabase } from '../controlplane/server/database';
import { migrate, readMigrations } from '../controlplane/server/migrations';
import { startServer } from '../controlplane/server/server';
import { SIGNING_KEYS_ENV } from '../controlplane/server/signing-keys';
import { Store, type Author } from '../controlplane/server/store';

/** The demo's control plane, serving on loopback until `stop`, which also removes its store. */
export interface DemoControlPlane {
  url: string;
  /** The store's folder (PGlite), for the person to know where the state lives. */
  storeDir: string;
  stop(): Promise<void>;
}

export interface DemoControlPlaneOptions {
  /** Whose access tokens it accepts: the demo identity provider. */
  oidc: { issuer: string; audience: string };
  /** The demo database, as the proxy reaches it (postgres:// URL without password). */
  upstream: string;
  /** The demo policy document (examples/policies/demo.yaml). */
  policyFile: string;
}

export const DEMO_CONNECTION = 'demo';
const SETUP: Author = { subject: 'airlock-demo-setup' };

/**
 * `airlock server` on its embedded store for the demo: PGlite in a temp folder rather than a database in
 * the demo's own cluster, so the demo runs the same way with or without PostgreSQL server binaries, and
 * the store the guarded data lives in never holds the control plane's state. Plain http on 127.0.0.1
 * (the server refuses it anywhere else). The bundle signing key is made for this run and handed over in
 * memory only. The catalog and policies are written before the server starts, as its setup, since the
 * demo has no administrator account to push them with.
 */
export async function startDemoControlPlane(o: DemoControlPlaneOptions): Promise<DemoControlPlane> {
  const storeDir = await mkdtemp(path.join(os.tmpdir(), 'airlock-demo-control-plane-'));
  try {
    await seed(storeDir, o);
    const { privateJwk } = await generateSigningKey('demo-bundles');
    const config: ServerConfig = {
      listen: { host: '127.0.0.1', port: 0 },
      database: { embedded: storeDir },
      oidc: { issuer: o.oidc.issuer, audience: o.oidc.audience, groupsClaim: 'groups' },
      // Nobody in the demo administers it: the setup above is the only change.
      adminGroups: ['airlock-admins'],
      signingKeys: {},
      bundleTtlSeconds: 3600,
    };
    const server = await startServer(config, {
      env: { [SIGNING_KEYS_ENV]: JSON.stringify({ keys: [privateJwk] }) },
      // The request log would bury the demo's instructions; the server's own tests cover it.
      logStream: new Writable({ write: (_chunk, _encoding, done) => done() }),
    });
    return {
      url: server.url,
      storeDir,
      stop: async () => {
        try {
          await server.close();
        } finally {
          await rm(storeDir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await rm(storeDir, { recursive: true, force: true });
    throw err;
  }
}

/** The catalog (the demo connection, for both groups) and one policy per group, each with its comment. */
async function seed(storeDir: string, o: DemoControlPlaneOptions): Promise<void> {
  const db = await embeddedDatabase(storeDir);
  try {
    await migrate(db, await readMigrations());
    const store = new Store(db);
    const u = parseUpstreamUrl(o.upstream);
    await store.putConnection(
      {
        name: DEMO_CONNECTION,
        kind: 'postgres',
        // The demo database's own modes are disable (PGlite) and verify-full: both in the catalog's set.
        upstream: {
          host: u.host,
          port: u.port,
          database: u.database,
          ...(u.sslmode === 'prefer' ? {} : { sslmode: u.sslmode }),
        },
        groups: ['developers', 'reviewers'],
      },
      SETUP,
    );
    // One document for both groups: its rules already tell developers from reviewers, which is what the
    // proxy enforces while it reads the same file locally.
    const document = parsePolicy(await readFile(o.policyFile, 'utf8'), o.policyFile);
    await store.pushPolicy({
      name: 'demo-developers',
      document,
      groups: ['developers'],
      connections: [DEMO_CONNECTION],
      priority: 100,
      author: SETUP,
      comment:
        'Developers: reads with personal data masked, writes need approval, support tickets not readable.',
    });
    await store.pushPolicy({
      name: 'demo-reviewers',
      document,
      groups: ['reviewers'],
      connections: [DEMO_CONNECTION],
      priority: 100,
      author: SETUP,
      comment:
        'Reviewers: as developers, but they read support tickets (masked), which is what reviewing needs.',
    });
  } finally {
    await db.close();
  }
}
