import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { DocumentError } from '../../core/validate';
import { parsePolicy } from '../../core/policy/document';
import { issueBundle, matchesEtag } from './bundles';
import type { SigningKeys } from './signing-keys';
import { ConflictError, type Connection, type Store } from './store';
import { IssuerUnavailableError, TokenError, type TokenVerifier, type VerifiedIdentity } from './tokens';

export interface ApiOptions {
  store: Store;
  tokens: TokenVerifier;
  keys: SigningKeys;
  adminGroups: string[];
  bundleTtlSeconds: number;
  /** Where the structured (JSON) log goes; fastify's pino logger. */
  logStream?: NodeJS.WritableStream;
  https?: { cert: Buffer; key: Buffer };
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

const NAME = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' } as const;
const GROUPS = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 } as const;
const nameParams = { type: 'object', required: ['name'], properties: { name: NAME } } as const;

const pushBody = {
  type: 'object',
  additionalProperties: false,
  required: ['document', 'groups', 'connections', 'comment'],
  properties: {
    document: { type: 'object' },
    groups: GROUPS,
    connections: { type: 'array', items: { anyOf: [NAME, { const: '*' }] }, minItems: 1 },
    priority: { type: 'integer', minimum: 0, maximum: 1_000_000 },
    comment: { type: 'string', minLength: 1, maxLength: 2000 },
    baseVersion: { type: 'integer', minimum: 0 },
  },
} as const;

const connectionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'upstream', 'groups'],
  properties: {
    kind: { enum: ['postgres'] },
    // No password member: the catalog says where a connection goes, never how to log in.
    upstream: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port', 'database'],
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        database: { type: 'string', minLength: 1 },
        sslmode: { enum: ['disable', 'require', 'verify-ca', 'verify-full'] },
      },
    },
    groups: GROUPS,
  },
} as const;

/**
 * The control plane's HTTP API. Stateless: each request verifies its token and reads the store, so any
 * instance answers any request. Logs are pino JSON lines of method, path and status; the Authorization
 * header is never logged and no token is ever accepted in a URL.
 */
export function buildApi(o: ApiOptions): FastifyInstance {
  const app = Fastify({
    ...(o.https ? { https: o.https } : {}),
    logger: {
      level: 'info',
      ...(o.logStream ? { stream: o.logStream } : {}),
      redact: ['req.headers.authorization'],
    },
    // Policy documents can be long; nothing else is.
    bodyLimit: 1024 * 1024,
    // Unknown members are refused, not silently dropped: a password sent to the catalog is an error.
    ajv: { customOptions: { removeAdditional: false } },
  });

  async function identify(req: FastifyRequest): Promise<VerifiedIdentity> {
    return o.tokens.verify(req.headers.authorization);
  }

  async function admin(req: FastifyRequest): Promise<VerifiedIdentity> {
    const who = await identify(req);
    if (!who.groups.some((g) => o.adminGroups.includes(g))) {
      throw new HttpError(
        403,
        'forbidden',
        `only members of ${o.adminGroups.map((g) => `"${g}"`).join(' or ')} may change policies and connections; your groups: ${who.groups.join(', ') || 'none'}`,
      );
    }
    return who;
  }

  const publicConnection = (c: Connection) => ({ name: c.name, kind: c.kind, upstream: c.upstream });

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, req, reply) => {
    if (err instanceof TokenError) {
      // A header value must be printable ASCII without quotes to break out of.
      const description = err.message.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
      return reply
        .code(401)
        .header(
          'WWW-Authenticate',
          `Bearer realm="airlock", error="${err.reason}", error_description="${description}"`,
        )
        .send({ error: 'unauthorized', message: err.message });
    }
    if (err instanceof IssuerUnavailableError)
      return reply.code(503).send({ error: 'unavailable', message: err.message });
    if (err instanceof HttpError)
      return reply.code(err.statusCode).send({ error: err.error, message: err.message });
    if (err instanceof ConflictError)
      return reply.code(409).send({ error: 'conflict', message: err.message });
    if (err instanceof DocumentError)
      return reply.code(400).send({ error: 'invalid_policy', message: err.message });
    if (err.validation) return reply.code(400).send({ error: 'bad_request', message: err.message });
    if (err.statusCode && err.statusCode < 500)
      return reply.code(err.statusCode).send({ error: 'bad_request', message: err.message });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'the server failed; its log says why' });
  });

  // For load balancers: ready when the store answers.
  app.get('/healthz', async () => {
    await o.store.ping();
    return { ok: true };
  });

  app.get('/v1/keys', async (_req, reply) => {
    void reply.header('Cache-Control', 'public, max-age=300');
    return o.keys.jwks;
  });

  app.get('/v1/whoami', async (req) => {
    const who = await identify(req);
    const connections = await o.store.connectionsFor(who.groups);
    return { ...who, connections: connections.map((c) => ({ name: c.name, kind: c.kind })) };
  });

  app.get('/v1/connections', async (req) => {
    const who = await identify(req);
    return (await o.store.connectionsFor(who.groups)).map(publicConnection);
  });

  app.put('/v1/connections/:name', { schema: { params: nameParams, body: connectionBody } }, async (req) => {
    const who = await admin(req);
    const { name } = req.params as { name: string };
    const body = req.body as Omit<Connection, 'name'>;
    await o.store.putConnection({ name, ...body }, who);
    return { name, ...body };
  });

  app.get(
    '/v1/policy-bundle',
    {
      schema: {
        querystring: { type: 'object', required: ['connection'], properties: { connection: NAME } },
      },
    },
    async (req, reply) => {
      const who = await identify(req);
      const { connection } = req.query as { connection: string };
      const entry = await o.store.connection(connection);
      if (!entry)
        throw new HttpError(404, 'not_found', `there is no connection "${connection}" in the catalog`);
      if (!entry.groups.some((g) => who.groups.includes(g))) {
        throw new HttpError(
          403,
          'forbidden',
          `your account is not in any group that may use \`${connection}\` (allowed: ${entry.groups.join(', ')}; yours: ${who.groups.join(', ') || 'none'})`,
        );
      }
      const policy = await o.store.resolvePolicy(who.groups, connection);
      if (!policy) {
        throw new HttpError(
          403,
          'forbidden',
          `no policy applies to your groups on \`${connection}\`: ask an administrator to push one (airlock server policy push)`,
        );
      }
      const bundle = await issueBundle(policy, connection, o.keys, o.bundleTtlSeconds);
      void reply.header('ETag', bundle.etag).header('Cache-Control', 'private, no-cache');
      if (matchesEtag(req.headers['if-none-match'], bundle.etag)) return reply.code(304).send();
      return reply.type('application/jose').send(bundle.jws);
    },
  );

  app.get('/v1/policies', async (req) => {
    await admin(req);
    return o.store.currentPolicies();
  });

  app.get(
    '/v1/policies/:name',
    {
      schema: {
        params: nameParams,
        querystring: { type: 'object', properties: { version: { type: 'integer', minimum: 1 } } },
      },
    },
    async (req) => {
      await admin(req);
      const { name } = req.params as { name: string };
      const { version } = req.query as { version?: number };
      const found = await o.store.policy(name, version);
      if (!found)
        throw new HttpError(
          404,
          'not_found',
          `there is no policy "${name}"${version ? ` version ${version}` : ''}`,
        );
      return found;
    },
  );

  app.get('/v1/policies/:name/history', { schema: { params: nameParams } }, async (req) => {
    await admin(req);
    const { name } = req.params as { name: string };
    const history = await o.store.policyHistory(name);
    if (history.length === 0) throw new HttpError(404, 'not_found', `there is no policy "${name}"`);
    return history;
  });

  app.put('/v1/policies/:name', { schema: { params: nameParams, body: pushBody } }, async (req, reply) => {
    const who = await admin(req);
    const { name } = req.params as { name: string };
    const body = req.body as {
      document: unknown;
      groups: string[];
      connections: string[];
      priority?: number;
      comment: string;
      baseVersion?: number;
    };
    // The same validation the proxy applies: a document it would refuse is never stored.
    const document = parsePolicy(JSON.stringify(body.document), `policy "${name}"`);
    const version = await o.store.pushPolicy({
      name,
      document,
      groups: body.groups,
      connections: body.connections,
      priority: body.priority ?? 100,
      comment: body.comment,
      author: who.email ? { subject: who.subject, email: who.email } : { subject: who.subject },
      ...(body.baseVersion !== undefined ? { baseVersion: body.baseVersion } : {}),
    });
    return reply.code(201).send(version);
  });

  return app;
}
