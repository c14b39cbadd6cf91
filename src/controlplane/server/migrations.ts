import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from './database';

/** Any constant shared by every instance: they take the same lock, so only one applies migrations. */
const MIGRATION_LOCK = 7_243_100_013;

/**
 * The folder of numbered .sql files: beside the bundle (dist/migrations, copied by the build) or, for
 * the compiled tests, in the sources.
 */
export function migrationsDir(): string {
  const candidates = [
    path.join(__dirname, 'migrations'),
    path.resolve(__dirname, '..', '..', '..', '..', 'src', 'controlplane', 'server', 'migrations'),
  ];
  const found = candidates.find((d) => existsSync(path.join(d, '001_initial.sql')));
  if (!found) throw new Error(`the store migrations are missing (looked in ${candidates.join(', ')})`);
  return found;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function readMigrations(dir = migrationsDir()): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const m = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`${path.join(dir, file)}: a migration is named NNN_name.sql`);
    migrations.push({ version: Number(m[1]), name: m[2], sql: await readFile(path.join(dir, file), 'utf8') });
  }
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.version}_${m.name} is out of sequence`);
  });
  return migrations;
}

/**
 * Brings the store up to date, all in one transaction under an advisory lock: instances that start
 * together wait for the first, then find nothing left to do; a failing migration leaves nothing behind.
 * Returns the versions applied now.
 */
export async function migrate(db: Database, migrations: Migration[]): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(`CREATE TABLE IF NOT EXISTS airlock_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM airlock_migrations');
    const done = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...done);
    if (newest > migrations.length) {
      throw new Error(
        `the store is at migration ${newest}, newer than this airlock server knows (${migrations.length}): upgrade it`,
      );
    }
    const applied: number[] = [];
    for (const m of migrations.filter((m) => !done.has(m.version))) {
      await tx.exec(m.sql);
      await tx.query('INSERT INTO airlock_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
