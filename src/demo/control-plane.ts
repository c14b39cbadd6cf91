import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseUpstreamUrl } from '../config/config';
import { parsePolicy } from '../core/policy/document';
import { generateSigningKey } from '../core/policy/bundle';
import { DATABASE_PASSWORD_ENV, type ServerConfig } from '../controlplane/server/config';
import { embeddedDatabase, postgresDatabase, type Database } from '../controlplane/server/database';
import { migrate, readMigrations } from '../controlplane/server/migrations';
import { startServer } from '../controlplane/server/server';
import { SIGNING_KEYS_ENV } from '../controlplane/server/signing-keys';
import { Store, type Author } from '../controlplane/server/store';
import type { OwnDatabase } from './demo-database';

/** The demo's control plane, serving on loopback until `stop`, which also removes its store. */
export interface DemoControlPlane {
  url: string;
  /** Where its state lives, for a person. */
  store: string;
  stop(): Promise<void>;
}

export interface DemoControlPlaneOptions {
  /** Whose access tokens it accepts: the demo identity provider. */
  oidc: { issuer: string; audience: string };
  /** The demo database, as the proxy reaches it (postgres:// URL without password). */
  upstream: string;
  /** The demo policy document (examples/policies/demo.yaml). */
  policyFile: string;
  /** A database of the demo's own cluster for the store; absent (no server binaries): PGlite. */
  database?: OwnDatabase;
}

export const DEMO_CONNECTION = 'demo';
const SETUP: Author = { subject: 'airlock-demo-setup' };

/**
 * `airlock server` for the demo, on plain http on 127.0.0.1 (the server refuses it anywhere else). Its
 * store is a database of the demo's own PostgreSQL when there is one — the production store, ready in
 * a fraction of a second, removed with the cluster — else PGlite in a temp folder, whose first start
 * (an initdb in WebAssembly) takes seconds. The bundle signing key is made for this run and handed over
 * in memory only, as is the store's password. The catalog and policies are written before the server
 * starts, as its setup: the demo has no administrator account to push them with.
 */
export async function startDemoControlPlane(o: DemoControlPlaneOptions): Promise<DemoControlPlane> {
  const own = o.database;
  const storeDir = own ? undefined : await mkdtemp(path.join(os.tmpdir(), 'airlock-demo-control-plane-'));
  const removeStore = () => (storeDir ? rm(storeDir, { recursive: true, force: true }) : undefined);
  try {
    const db = own
      ? postgresDatabase({
          host: own.host,
          port: own.port,
          user: own.user,
          password: own.password,
          database: own.database,
        })
      : await embeddedDatabase(storeDir as string);
    try {
      await seed(db, o);
    } finally {
      await db.close();
    }
    const { privateJwk } = await generateSigningKey('demo-bundles');
    const config: ServerConfig = {
      listen: { host: '127.0.0.1', port: 0 },
      // Loopback to the demo's own cluster: nothing on the way to encrypt against.
      database: own
        ? { url: `postgres://${own.user}@${own.host}:${own.port}/${own.database}?sslmode=disable` }
        : { embedded: storeDir },
      oidc: { issuer: o.oidc.issuer, audience: o.oidc.audience, groupsClaim: 'groups' },
      // Nobody in the demo administers it: the setup above is the only change.
      adminGroups: ['airlock-admins'],
      signingKeys: {},
      bundleTtlSeconds: 3600,
    };
    const server = await startServer(config, {
      env: {
        [SIGNING_KEYS_ENV]: JSON.stringify({ keys: [privateJwk] }),
        ...(own ? { [DATABASE_PASSWORD_ENV]: own.password } : {}),
      },
      // The request log would bury the demo's instructions; the server's own tests cover it.
      logStream: new Writable({ write: (_chunk, _encoding, done) => done() }),
    });
    return {
      url: server.url,
      store: own
        ? `database ${own.database} in the demo's PostgreSQL`
        : `PGlite in ${storeDir}, removed at the end`,
      stop: async () => {
        try {
          await server.close();
        } finally {
          await removeStore();
        }
      },
    };
  } catch (err) {
    await removeStore();
    throw err;
  }
}

/** The catalog (the demo connection, for both groups) and one policy per group, each with its comment. */
async function seed(db: Database, o: DemoControlPlaneOptions): Promise<void> {
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
}
