import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildApi } from './api';
import { DATABASE_PASSWORD_ENV, type ServerConfig } from './config';
import { embeddedDatabase, postgresDatabase, type Database } from './database';
import { migrate, readMigrations } from './migrations';
import { loadSigningKeys } from './signing-keys';
import { Store } from './store';
import { TokenVerifier } from './tokens';

export interface RunningServer {
  url: string;
  tls: boolean;
  store: 'postgresql' | 'embedded';
  /** Migrations this start applied (empty when the store was current). */
  migrated: number[];
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

async function openDatabase(config: ServerConfig, env: NodeJS.ProcessEnv): Promise<Database> {
  const { url, passwordFile, embedded } = config.database;
  if (!url) return embeddedDatabase(embedded ?? path.join(os.homedir(), '.airlock', 'server-store'));
  const password =
    env[DATABASE_PASSWORD_ENV] ?? (passwordFile ? (await readFile(passwordFile, 'utf8')).trim() : undefined);
  // Split here rather than passed as connectionString, which pg lets override a separately given password.
  const u = new URL(url);
  const sslmode = u.searchParams.get('sslmode');
  return postgresDatabase({
    host: decodeURIComponent(u.hostname.replace(/^\[|\]$/g, '')),
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    database: decodeURIComponent(u.pathname.slice(1)),
    ...(password ? { password } : {}),
    ...(sslmode && sslmode !== 'disable'
      ? { ssl: { rejectUnauthorized: sslmode === 'verify-full' || sslmode === 'verify-ca' } }
      : {}),
  });
}

/**
 * Starts one instance: migrates the store (safe when several start together), then serves the API.
 * Plain http is allowed on loopback only, for the demo and tests; anywhere else TLS is required.
 */
export async function startServer(
  config: ServerConfig,
  options: { env?: NodeJS.ProcessEnv; logStream?: NodeJS.WritableStream } = {},
): Promise<RunningServer> {
  const env = options.env ?? process.env;
  if (!config.tls && !LOOPBACK.has(config.listen.host)) {
    throw new Error(
      `refusing plain http on ${config.listen.host}: set tls.cert and tls.key in the server config (plain http is for loopback only)`,
    );
  }
  const keys = await loadSigningKeys(config.signingKeys.file, env);
  const https = config.tls
    ? { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }
    : undefined;
  const db = await openDatabase(config, env);
  try {
    const migrated = await migrate(db, await readMigrations());
    const app = buildApi({
      store: new Store(db),
      tokens: new TokenVerifier(config.oidc),
      keys,
      adminGroups: config.adminGroups,
      bundleTtlSeconds: config.bundleTtlSeconds,
      ...(options.logStream ? { logStream: options.logStream } : {}),
      ...(https ? { https } : {}),
    });
    await app.listen({ host: config.listen.host, port: config.listen.port });
    const { port } = app.server.address() as { port: number };
    const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
    return {
      url: `${https ? 'https' : 'http'}://${host}:${port}`,
      tls: Boolean(https),
      store: config.database.url ? 'postgresql' : 'embedded',
      migrated,
      close: async () => {
        await app.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
