import pg from 'pg';
import type { AgentBackend } from './backend';
import { applicationName } from './agent-name';

/**
 * Agent sessions: node-postgres connections to Airlock's own local listener, one per (connection,
 * agent), kept open between tool calls (so a reviewer's "approve for the session" and SET carry over,
 * and a recording shows one session per agent) and closed after a while unused. Nothing here can reach
 * an upstream: the only address it connects to is the endpoint the backend gives, the proxy's listener.
 */

/** One result of a statement (a simple Query may hold several statements). */
export interface StatementResultSet {
  /** `SELECT`, `INSERT`, … as the server's command tag names it. */
  command: string;
  /** What the command tag counts (rows returned or affected); null when it counts nothing. */
  rowCount: number | null;
  columns: string[];
  /** The first rows as the proxy sent them (masked), at most the cap; values as the server's text. */
  rows: Array<Array<string | null>>;
  /** Every row the statement returned (rows past the cap are counted, not kept). */
  totalRows: number;
}

export type StatementOutcome =
  | { ok: true; results: StatementResultSet[] }
  /** An ErrorResponse (an Airlock denial starts `airlock: denied`) or a connection failure. */
  | { ok: false; error: { message: string; code?: string; detail?: string; hint?: string } };

const IDLE_MS = 5 * 60_000;

/** Every value as the text the server (after masking) sent: no dates or numbers reinterpreted. */
const RAW_TEXT = {
  getTypeParser: () => (value: string | Buffer) => (Buffer.isBuffer(value) ? value.toString('utf8') : value),
} as unknown as pg.CustomTypesConfig;

interface Session {
  client: Promise<pg.Client>;
  idle: NodeJS.Timeout | null;
  busy: number;
}

export class AgentSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly backend: AgentBackend,
    private readonly idleMs = IDLE_MS,
  ) {}

  /**
   * Runs `sql` (simple protocol: several statements run as one request, decided as a whole) on the
   * agent's session of `connection`. Keeps at most `maxRows` rows per result, counts the rest.
   */
  async run(
    connection: string,
    agent: string,
    sql: string,
    options: { maxRows: number; signal?: AbortSignal },
  ): Promise<StatementOutcome> {
    const key = JSON.stringify([connection, agent]);
    let session = this.sessions.get(key);
    if (!session) {
      session = { client: this.open(key, connection, agent), idle: null, busy: 0 };
      this.sessions.set(key, session);
    }
    if (session.idle) clearTimeout(session.idle);
    session.idle = null;
    session.busy++;
    const current = session;
    let client: pg.Client;
    try {
      client = await current.client;
    } catch (err) {
      this.drop(key, current);
      return { ok: false, error: errorOf(err) };
    }
    const onAbort = () => {
      this.drop(key, current);
      void client.end().catch(() => undefined);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const results = await runQuery(client, sql, options.maxRows);
      return { ok: true, results };
    } catch (err) {
      // A failed connection is not reused; a statement error leaves the session usable (as in psql).
      if (!(err instanceof pg.DatabaseError) || err.code === '57P01') this.drop(key, current);
      return { ok: false, error: errorOf(err) };
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      current.busy--;
      if (current.busy === 0 && this.sessions.get(key) === current) {
        current.idle = setTimeout(() => this.drop(key, current), this.idleMs);
        current.idle.unref();
      }
    }
  }

  private async open(key: string, connection: string, agent: string): Promise<pg.Client> {
    const e = await this.backend.endpoint(connection);
    const client = new pg.Client({
      host: e.host,
      port: e.port,
      user: e.user,
      password: e.password,
      database: e.database,
      ssl: false,
      application_name: applicationName(agent),
      connectionTimeoutMillis: 30_000,
    });
    // A session the proxy ends (shutdown, idle) is forgotten; the next call opens a new one.
    client.on('error', () => {
      const s = this.sessions.get(key);
      if (s) this.drop(key, s);
    });
    client.on('end', () => {
      const s = this.sessions.get(key);
      if (s) void s.client.then((c) => c === client && this.drop(key, s)).catch(() => undefined);
    });
    await client.connect();
    return client;
  }

  private drop(key: string, session: Session): void {
    if (this.sessions.get(key) !== session) return;
    this.sessions.delete(key);
    if (session.idle) clearTimeout(session.idle);
    void session.client.then((c) => c.end()).catch(() => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(
      all.map(async (s) => {
        if (s.idle) clearTimeout(s.idle);
        await s.client.then((c) => c.end()).catch(() => undefined);
      }),
    );
  }
}

/** Streams the rows: at most `maxRows` kept per result set, every row counted (memory stays bounded). */
function runQuery(client: pg.Client, sql: string, maxRows: number): Promise<StatementResultSet[]> {
  return new Promise((resolve, reject) => {
    const query = new pg.Query({ text: sql, rowMode: 'array', types: RAW_TEXT } as pg.QueryArrayConfig);
    const kept = new Map<object, { rows: Array<Array<string | null>>; total: number }>();
    query.on('row', (row: unknown, result?: unknown) => {
      const key = (result ?? query) as object;
      let k = kept.get(key);
      if (!k) kept.set(key, (k = { rows: [], total: 0 }));
      k.total++;
      if (k.rows.length < maxRows) k.rows.push(row as Array<string | null>);
    });
    query.on('error', reject);
    query.on('end', (results: unknown) => {
      const list = (Array.isArray(results) ? results : [results]) as pg.QueryResult[];
      resolve(
        list.map((r) => {
          const k = kept.get(r) ?? { rows: [], total: 0 };
          return {
            command: r.command ?? '',
            rowCount: r.rowCount ?? null,
            columns: (r.fields ?? []).map((f) => f.name),
            rows: k.rows,
            totalRows: k.total,
          };
        }),
      );
    });
    client.query(query);
  });
}

function errorOf(err: unknown): Extract<StatementOutcome, { ok: false }>['error'] {
  if (err instanceof pg.DatabaseError) {
    return { message: err.message, code: err.code, detail: err.detail, hint: err.hint };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

const pools = new WeakMap<AgentBackend, AgentSessions>();

/** The agent sessions of a backend (one set per backend, shared by every tool). */
export function agentSessions(backend: AgentBackend): AgentSessions {
  let s = pools.get(backend);
  if (!s) pools.set(backend, (s = new AgentSessions(backend)));
  return s;
}

/** Closes a backend's agent sessions (when the MCP server or the extension stops). */
export async function closeAgentSessions(backend: AgentBackend): Promise<void> {
  await pools.get(backend)?.close();
  pools.delete(backend);
}
