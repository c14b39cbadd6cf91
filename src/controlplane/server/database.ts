import pg from 'pg';

/** What the store needs of a PostgreSQL: parameterised queries and transactions. */
export interface SqlExecutor {
  query<R extends object>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Runs a script of several statements without parameters (a migration). */
  exec(script: string): Promise<void>;
}

export interface Database extends SqlExecutor {
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The production store: a pool on a real PostgreSQL, shared by every instance of the server. */
export function postgresDatabase(config: pg.PoolConfig): Database {
  const pool = new pg.Pool({ max: 10, ...config });
  // An idle client that loses its server must not crash the process; the next query reports the error.
  pool.on('error', () => undefined);
  return {
    query: async (text, params) => pool.query(text, params),
    exec: async (script) => void (await pool.query(script)),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async (text, params) => client.query(text, params),
          exec: async (script) => void (await client.query(script)),
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/**
 * The embedded default: PGlite (PostgreSQL compiled to WASM, in this process) in a data folder. Same SQL
 * and migrations as production, no server binaries needed; one process owns it, so one instance only.
 */
export async function embeddedDatabase(dataDir: string): Promise<Database> {
  // Loaded only when used: PGlite is large and production runs on a real PostgreSQL.
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dataDir);
  return {
    query: async <R extends object>(text: string, params?: unknown[]) => db.query<R>(text, params),
    exec: async (script) => void (await db.exec(script)),
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: async <R extends object>(text: string, params?: unknown[]) => tx.query<R>(text, params),
          exec: async (script) => void (await tx.exec(script)),
        }),
      ),
    close: () => db.close(),
  };
}
