import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../core/log';
import { findPostgresBinaries, freePort, startCluster } from './postgres-cluster';
import { sampleDataSql } from './sample-data';

/** A running demo database and how the proxy reaches it. */
export interface DemoDatabase {
  engine: 'postgresql' | 'pglite';
  /** postgres:// URL without the password. */
  upstream: string;
  password: string | undefined;
  /**
   * A database of its own, owned by a role of its own, in the demo's cluster: where `airlock demo` keeps
   * its control plane's store. Absent on PGlite, which serves one database. Removed with the cluster.
   */
  addDatabase?(name: string): Promise<OwnDatabase>;
  stop(): Promise<void>;
}

/** How to reach a database made by `addDatabase` (TCP on 127.0.0.1, password authentication). */
export interface OwnDatabase {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

/**
 * Starts the demo database: a real PostgreSQL from the local binaries when present (role `app`, database
 * `shop`, TLS verified against its own CA), otherwise PGlite served over TCP.
 */
export async function startDemoDatabase(log: Logger): Promise<DemoDatabase> {
  if (findPostgresBinaries()) return startRealDemo(log);
  log.info('no local PostgreSQL server binaries: using PGlite (in-memory) for the demo database');
  return startPgliteDemo();
}

async function startRealDemo(log: Logger): Promise<DemoDatabase> {
  const started = Date.now();
  const cluster = await startCluster();
  try {
    const password = randomBytes(18).toString('base64url');
    const sqlFile = path.join(cluster.dir, 'sample.sql');
    await writeFile(sqlFile, sampleDataSql());
    const socket = ['-h', cluster.dir, '-v', 'ON_ERROR_STOP=1', '-q'];
    await cluster.client('psql', [
      ...socket,
      '-d',
      'postgres',
      '-c',
      `CREATE ROLE app LOGIN PASSWORD '${password}'`,
    ]);
    await cluster.client('psql', [...socket, '-d', 'postgres', '-c', 'CREATE DATABASE shop OWNER app']);
    await cluster.client('psql', [...socket, '-d', 'shop', '-U', 'app', '-f', sqlFile]);
    log.info(`demo PostgreSQL ready on 127.0.0.1:${cluster.port} in ${Date.now() - started} ms`);
    return {
      engine: 'postgresql',
      upstream: `postgres://app@127.0.0.1:${cluster.port}/shop?sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.caFile)}`,
      password,
      addDatabase: async (name) => {
        // A plain identifier: utility statements take no parameters, so nothing else is ever inlined.
        if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
        const secret = randomBytes(18).toString('base64url');
        // Over the cluster's own socket (trust): the new password travels in no process argument.
        const admin = new pg.Client({
          host: cluster.dir,
          port: cluster.port,
          user: cluster.user,
          database: 'postgres',
        });
        await admin.connect();
        try {
          await admin.query(`CREATE ROLE ${name} LOGIN PASSWORD '${secret}'`);
          await admin.query(`CREATE DATABASE ${name} OWNER ${name}`);
          // The demo's other roles (the proxy's `app`) have no business there.
          await admin.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${name} FROM PUBLIC`);
        } finally {
          await admin.end();
        }
        return { host: '127.0.0.1', port: cluster.port, database: name, user: name, password: secret };
      },
      stop: () => cluster.stop(),
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

async function startPgliteDemo(): Promise<DemoDatabase> {
  // Loaded only when needed: PGlite is large and the real server is preferred.
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = new PGlite();
  await db.exec(sampleDataSql());
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 16 });
  await server.start();
  return {
    engine: 'pglite',
    upstream: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    password: undefined,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}
