import { readFile } from 'node:fs/promises';
import { parsePolicy } from '../core/policy/document';
import { ServerClient } from '../controlplane/client/api-client';
import { lineDiff } from '../controlplane/client/line-diff';
import { loadServerConfig } from '../controlplane/server/config';
import { startServer } from '../controlplane/server/server';
import type { PolicyRecord, PolicyVersion } from '../controlplane/server/store';
import { untilSignal } from './run-until-signal';
import { UsageError } from './usage-error';
import { writeText } from './human-output';

export const serverUsage = `airlock server start [--config server.yaml] [--database-url postgres://user@host:port/db]
airlock server policy push NAME FILE --groups G1,G2 --connections C1,C2|* --comment TEXT [--priority N] [--server URL]
airlock server policy list|history NAME|diff NAME FILE [--server URL]
airlock server connection put NAME --upstream host:port/database --groups G1,G2 [--server URL]

start:      runs the control plane (docs/server.md) from --config (default ./server.yaml). Its store is the PostgreSQL of --database-url or
            database.url (the password from AIRLOCK_SERVER_DATABASE_PASSWORD or database.passwordFile),
            else the embedded one (PGlite, one instance). Prints where it listens and whether with TLS.
policy:     push adds the next version of a policy (checked as the proxy checks it) for identities in
            the groups, on the connections; lower priority wins (default 100). diff compares FILE with
            the version in force; history shows who changed what, when, and why.
connection: adds or changes a connection of the catalog (never a password).
The admin commands call the server at --server or AIRLOCK_SERVER with the access token in
AIRLOCK_ACCESS_TOKEN; their account must be in one of the server's adminGroups.`;

export interface ServerOptions {
  config?: string;
  'database-url'?: string;
  server?: string;
  groups?: string;
  connections?: string;
  comment?: string;
  priority?: string;
  upstream?: string;
}

const list = (s: string | undefined, flag: string): string[] => {
  const items = (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`${flag} is required`, serverUsage);
  return items;
};

function client(o: ServerOptions): ServerClient {
  const server = o.server ?? process.env.AIRLOCK_SERVER;
  if (!server) throw new UsageError('name the server: --server URL or AIRLOCK_SERVER', serverUsage);
  return new ServerClient({
    server,
    accessToken: async () => {
      const token = process.env.AIRLOCK_ACCESS_TOKEN;
      if (!token) throw new Error('no access token: sign in (airlock login) or set AIRLOCK_ACCESS_TOKEN');
      return token;
    },
  });
}

// Keys sorted: the store (jsonb) keeps its own key order, which is not the file's.
const sortKeys = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(sortKeys)
    : v && typeof v === 'object'
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
        )
      : v;
const canonical = (doc: unknown) => JSON.stringify(sortKeys(doc), null, 2);

function describeVersion(v: PolicyVersion): string {
  const who = v.author.email ?? v.author.subject;
  return `${v.name} v${v.version}  ${v.createdAt}  ${who}  groups ${v.groups.join(',')}  connections ${v.connections.join(',')}  priority ${v.priority}\n    ${v.comment}`;
}

export async function serverCommand(
  sub: string | undefined,
  args: string[],
  o: ServerOptions,
): Promise<number> {
  switch (sub) {
    case 'start':
      return start(o);
    case 'policy':
      return policy(args[0], args.slice(1), o);
    case 'connection': {
      const [verb, name] = args;
      if (verb !== 'put' || !name) throw new UsageError('connection put NAME …', serverUsage);
      const m = /^([^:/]+):(\d+)\/(.+)$/.exec(o.upstream ?? '');
      if (!m) throw new UsageError('--upstream is host:port/database', serverUsage);
      await client(o).json('PUT', `/v1/connections/${encodeURIComponent(name)}`, {
        kind: 'postgres',
        upstream: { host: m[1], port: Number(m[2]), database: m[3] },
        groups: list(o.groups, '--groups'),
      });
      writeText(process.stdout, `connection ${name} saved\n`);
      return 0;
    }
    default:
      throw new UsageError(sub ? `unknown server command "${sub}"` : 'name a server command', serverUsage);
  }
}

async function start(o: ServerOptions): Promise<number> {
  const config = await loadServerConfig(o.config ?? 'server.yaml');
  if (o['database-url']) {
    if (new URL(o['database-url']).password)
      throw new UsageError(
        '--database-url must not hold a password (use AIRLOCK_SERVER_DATABASE_PASSWORD)',
        serverUsage,
      );
    config.database = { ...config.database, url: o['database-url'] };
    delete config.database.embedded;
  }
  const server = await startServer(config);
  const how = server.tls
    ? 'with TLS'
    : 'in plain http on loopback only, without TLS: for the demo and tests; production needs tls.cert and tls.key';
  const store =
    server.store === 'postgresql' ? 'PostgreSQL' : 'the embedded store (PGlite, one instance only)';
  writeText(
    process.stdout,
    `airlock server listening on ${server.url} ${how}; store: ${store}${server.migrated.length ? `, migrations ${server.migrated.join(', ')} applied` : ''}\n`,
  );
  await untilSignal();
  await server.close();
  return 0;
}

async function policy(verb: string | undefined, args: string[], o: ServerOptions): Promise<number> {
  const api = client(o);
  switch (verb) {
    case 'push': {
      const [name, file] = args;
      if (!name || !file) throw new UsageError('policy push NAME FILE', serverUsage);
      const document = parsePolicy(await readFile(file, 'utf8'), file);
      const priority = o.priority === undefined ? undefined : Number(o.priority);
      if (priority !== undefined && !Number.isInteger(priority))
        throw new UsageError('--priority is an integer', serverUsage);
      if (!o.comment) throw new UsageError('--comment is required: say why', serverUsage);
      const v = await api.json<PolicyVersion>('PUT', `/v1/policies/${encodeURIComponent(name)}`, {
        document,
        groups: list(o.groups, '--groups'),
        connections: list(o.connections, '--connections'),
        comment: o.comment,
        ...(priority !== undefined ? { priority } : {}),
      });
      writeText(process.stdout, `pushed ${v.name} v${v.version}\n`);
      return 0;
    }
    case 'list':
      for (const v of await api.json<PolicyVersion[]>('GET', '/v1/policies'))
        writeText(process.stdout, describeVersion(v) + '\n');
      return 0;
    case 'history': {
      const [name] = args;
      if (!name) throw new UsageError('policy history NAME', serverUsage);
      for (const v of await api.json<PolicyVersion[]>(
        'GET',
        `/v1/policies/${encodeURIComponent(name)}/history`,
      ))
        writeText(process.stdout, describeVersion(v) + '\n');
      return 0;
    }
    case 'diff': {
      const [name, file] = args;
      if (!name || !file) throw new UsageError('policy diff NAME FILE', serverUsage);
      const local = parsePolicy(await readFile(file, 'utf8'), file);
      const current = await api.json<PolicyRecord>('GET', `/v1/policies/${encodeURIComponent(name)}`);
      const lines = lineDiff(canonical(current.document), canonical(local));
      if (lines.every((l) => l.startsWith(' '))) {
        writeText(process.stdout, `${file} is the same as ${name} v${current.version}\n`);
        return 0;
      }
      writeText(
        process.stdout,
        `--- ${name} v${current.version} (server)\n+++ ${file}\n${lines.join('\n')}\n`,
      );
      // Like diff(1): 1 when they differ, so scripts can tell.
      return 1;
    }
    default:
      throw new UsageError(verb ? `unknown policy command "${verb}"` : 'name a policy command', serverUsage);
  }
}
