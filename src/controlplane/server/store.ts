import type { PolicyDocument } from '../../core/policy/document';
import type { Database } from './database';

/** Who made a change, as the verified token says. */
export interface Author {
  subject: string;
  email?: string;
}

export interface PolicyVersion {
  name: string;
  version: number;
  groups: string[];
  connections: string[];
  priority: number;
  author: Author;
  comment: string;
  createdAt: string;
}

export interface PolicyRecord extends PolicyVersion {
  document: PolicyDocument;
}

export interface Upstream {
  host: string;
  port: number;
  database: string;
  sslmode?: 'disable' | 'require' | 'verify-ca' | 'verify-full';
}

export interface Connection {
  name: string;
  kind: 'postgres';
  upstream: Upstream;
  groups: string[];
}

export class ConflictError extends Error {}

interface PolicyRow {
  name: string;
  version: number;
  groups: string[];
  connections: string[];
  priority: number;
  author_subject: string;
  author_email: string | null;
  comment: string;
  created_at: Date | string;
  document?: PolicyDocument;
}

const VERSION_COLUMNS = `name, version, groups, connections, priority, author_subject, author_email, comment, created_at`;
// The newest version of each policy is the one in force.
const CURRENT = `SELECT DISTINCT ON (name) * FROM policy_versions ORDER BY name, version DESC`;

function toVersion(r: PolicyRow): PolicyVersion {
  return {
    name: r.name,
    version: r.version,
    groups: r.groups,
    connections: r.connections,
    priority: r.priority,
    author: r.author_email
      ? { subject: r.author_subject, email: r.author_email }
      : { subject: r.author_subject },
    comment: r.comment,
    createdAt: new Date(r.created_at).toISOString(),
  };
}

/** The server's state, read on every request: no instance keeps any of it, so any instance can answer. */
export class Store {
  constructor(private readonly db: Database) {}

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  /** Adds the next version of a policy; `baseVersion`, when given, must be the current one. */
  async pushPolicy(
    p: Omit<PolicyRecord, 'version' | 'createdAt'> & { baseVersion?: number },
  ): Promise<PolicyVersion> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ version: number | null }>(
        'SELECT max(version) AS version FROM policy_versions WHERE name = $1',
        [p.name],
      );
      const current = rows[0]?.version ?? 0;
      if (p.baseVersion !== undefined && p.baseVersion !== current) {
        throw new ConflictError(
          `policy "${p.name}" is at version ${current}, not ${p.baseVersion}: someone pushed meanwhile; diff and push again`,
        );
      }
      try {
        const inserted = await tx.query<PolicyRow>(
          `INSERT INTO policy_versions (name, version, document, groups, connections, priority, author_subject, author_email, comment)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${VERSION_COLUMNS}`,
          [
            p.name,
            current + 1,
            JSON.stringify(p.document),
            p.groups,
            p.connections,
            p.priority,
            p.author.subject,
            p.author.email ?? null,
            p.comment,
          ],
        );
        return toVersion(inserted.rows[0]);
      } catch (err) {
        if ((err as { code?: string }).code === '23505')
          throw new ConflictError(`policy "${p.name}" was pushed concurrently; push again`);
        throw err;
      }
    });
  }

  async currentPolicies(): Promise<PolicyVersion[]> {
    const { rows } = await this.db.query<PolicyRow>(
      `SELECT ${VERSION_COLUMNS} FROM (${CURRENT}) c ORDER BY name`,
    );
    return rows.map(toVersion);
  }

  async policyHistory(name: string): Promise<PolicyVersion[]> {
    const { rows } = await this.db.query<PolicyRow>(
      `SELECT ${VERSION_COLUMNS} FROM policy_versions WHERE name = $1 ORDER BY version DESC`,
      [name],
    );
    return rows.map(toVersion);
  }

  /** One version of a policy (the newest when `version` is absent), or null. */
  async policy(name: string, version?: number): Promise<PolicyRecord | null> {
    const { rows } = await this.db.query<PolicyRow>(
      `SELECT ${VERSION_COLUMNS}, document FROM policy_versions WHERE name = $1 AND ($2::int IS NULL OR version = $2)
       ORDER BY version DESC LIMIT 1`,
      [name, version ?? null],
    );
    return rows[0] ? { ...toVersion(rows[0]), document: rows[0].document as PolicyDocument } : null;
  }

  /**
   * The policy in force for an identity on a connection: among the current versions that name one of
   * its groups and the connection (or '*'), the lowest priority, then the name, decides.
   */
  async resolvePolicy(groups: string[], connection: string): Promise<PolicyRecord | null> {
    const { rows } = await this.db.query<PolicyRow>(
      `SELECT ${VERSION_COLUMNS}, document FROM (${CURRENT}) c
       WHERE groups && $1::text[] AND (connections @> ARRAY[$2] OR connections @> ARRAY['*'])
       ORDER BY priority, name LIMIT 1`,
      [groups, connection],
    );
    return rows[0] ? { ...toVersion(rows[0]), document: rows[0].document as PolicyDocument } : null;
  }

  async putConnection(c: Connection, by: Author): Promise<void> {
    await this.db.query(
      `INSERT INTO connections (name, kind, upstream, groups, updated_by) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO UPDATE SET kind = $2, upstream = $3, groups = $4, updated_by = $5, updated_at = now()`,
      [c.name, c.kind, JSON.stringify(c.upstream), c.groups, by.email ?? by.subject],
    );
  }

  async connection(name: string): Promise<Connection | null> {
    const { rows } = await this.db.query<Connection>(
      'SELECT name, kind, upstream, groups FROM connections WHERE name = $1',
      [name],
    );
    return rows[0] ?? null;
  }

  /** The connections any of these groups may use. */
  async connectionsFor(groups: string[]): Promise<Connection[]> {
    const { rows } = await this.db.query<Connection>(
      'SELECT name, kind, upstream, groups FROM connections WHERE groups && $1::text[] ORDER BY name',
      [groups],
    );
    return rows;
  }
}
