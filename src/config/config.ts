import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAndValidate, DocumentError } from '../core/validate';
import { PRESETS, isPreset } from '../core/policy/presets';
import type { PolicySpec } from '../core/policy/source';

/** The Airlock config file (`airlock proxy --config FILE`, or the workspace `airlock.yaml`). */
export interface AirlockConfig {
  connections: ConnectionConfig[];
  /** A preset (read-only, allow-all), a signed bundle (.jws file or http(s) URL), or an unsigned file. */
  policy: string;
  /** Accept an unsigned policy file (development; signed bundles otherwise). */
  allowUnsignedPolicy?: boolean;
  /** JWKS file pinning the keys that may sign policy bundles. */
  policyKeys?: string;
  policyRefreshSeconds?: number;
  recordings?: string;
  /** `batch` (default): events on disk within a few ms (survives a killed proxy); `strict`: synced before release (survives power loss). */
  recordingSync?: 'batch' | 'strict';
  /** Group-commit window for `batch` sync, in milliseconds (default 100). */
  recordingSyncWindowMs?: number;
  /** Ended sessions older than this are removed when the proxy starts (default 365). */
  recordingRetentionDays?: number;
  /** Largest single protocol message the proxy buffers (bytes). */
  maxMessageBytes?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Sign-in at the company's OpenID provider (`airlock login`); absent: the OS user, unverified. */
  identity?: IdentityConfig;
}

export interface IdentityConfig {
  /** The OpenID provider's issuer identifier: https, or http on a loopback address (demo). */
  issuer: string;
  /** The public client registered for Airlock at the provider (no secret). */
  clientId: string;
  scopes?: string[];
  /** The ID token claim holding the person's groups (default `groups`). */
  groupsClaim?: string;
  /** RFC 8707 resource indicator naming the Airlock server, for providers that use one. */
  resource?: string;
}

export interface ConnectionConfig {
  name: string;
  kind: 'postgres';
  upstream: string;
  passwordEnv?: string;
  passwordFile?: string;
  listen?: string;
  /** TLS towards local clients (optional; loopback traffic is usually left plain). */
  tls?: { cert: string; key: string };
}

export const configSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Airlock configuration',
  type: 'object',
  additionalProperties: false,
  required: ['connections', 'policy'],
  properties: {
    connections: {
      type: 'array',
      minItems: 1,
      description: 'The upstreams Airlock fronts; each gets a local listener.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'kind', 'upstream'],
        properties: {
          name: {
            type: 'string',
            pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
            description: 'Unique name of the connection.',
          },
          kind: { enum: ['postgres'] },
          upstream: {
            type: 'string',
            pattern: '^postgres(ql)?://',
            description: 'postgres://user@host:port/database?sslmode=… (no password here).',
          },
          passwordEnv: {
            type: 'string',
            minLength: 1,
            description: 'Environment variable holding the upstream password.',
          },
          passwordFile: { type: 'string', minLength: 1, description: 'File holding the upstream password.' },
          listen: {
            type: 'string',
            pattern: '^(127\\.\\d+\\.\\d+\\.\\d+|localhost|\\[::1\\]):\\d+$',
            description: 'Loopback address and port of the local listener; port 0 picks a free one.',
          },
          tls: {
            type: 'object',
            additionalProperties: false,
            required: ['cert', 'key'],
            properties: { cert: { type: 'string' }, key: { type: 'string' } },
          },
        },
      },
    },
    policy: {
      type: 'string',
      minLength: 1,
      description:
        'The policy: a preset (read-only, allow-all), a signed bundle (a .jws file or an http(s) URL, verified with policyKeys), or a .yaml/.json file when allowUnsignedPolicy is true.',
    },
    allowUnsignedPolicy: { type: 'boolean', description: 'Accept an unsigned policy file. For development.' },
    policyKeys: {
      type: 'string',
      description: 'JWKS file with the public keys that may sign policy bundles.',
    },
    policyRefreshSeconds: {
      type: 'integer',
      minimum: 5,
      description: 'How often a policy bundle is re-read (default 60).',
    },
    recordings: { type: 'string', description: 'Folder for session recordings.' },
    recordingSync: {
      enum: ['batch', 'strict'],
      description:
        'batch (default): group commit; strict: every event synced to disk before the client gets its result.',
    },
    recordingSyncWindowMs: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      description: 'Group-commit window of batch sync in milliseconds (default 100).',
    },
    recordingRetentionDays: {
      type: 'integer',
      minimum: 1,
      description: 'Ended sessions older than this many days are removed at start (default 365).',
    },
    maxMessageBytes: { type: 'integer', minimum: 65536, maximum: 1073741824 },
    logLevel: { enum: ['debug', 'info', 'warn', 'error'] },
    identity: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer', 'clientId'],
      description: 'Sign-in at an OpenID provider (airlock login); see docs/identity.md.',
      properties: {
        issuer: {
          type: 'string',
          pattern: '^(https://|http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:\\d+)?(/|$))',
          description:
            'Issuer identifier of the OpenID provider: https (http only on loopback, for the demo).',
        },
        clientId: { type: 'string', minLength: 1, description: 'The public client registered for Airlock.' },
        scopes: {
          type: 'array',
          items: { type: 'string', pattern: '^[!#-\\[\\]-~]+$' },
          description: 'Scopes to request (default: openid email profile offline_access).',
        },
        groupsClaim: {
          type: 'string',
          minLength: 1,
          description: 'ID token claim with the groups (default groups).',
        },
        resource: {
          type: 'string',
          pattern: '^[a-z][a-z0-9+.-]*:',
          description: 'RFC 8707 resource indicator of the Airlock server.',
        },
      },
    },
  },
} as const;

/** libpq's sslmode values: configuration the Postgres adapter obeys, so declared here. */
export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface UpstreamUrl {
  host: string;
  port: number;
  user: string;
  database: string;
  sslmode: SslMode;
  sslrootcert?: string;
}

/** Hides the password of a URL that has one, for messages. */
const redact = (raw: string) => raw.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');

/** Parses an upstream URL with libpq's defaults (port 5432, sslmode prefer, database = user). */
export function parseUpstreamUrl(raw: string): UpstreamUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`"${redact(raw)}" is not a valid URL`);
  }
  if (url.password) {
    throw new Error(
      'the URL contains a password; put it in passwordEnv or passwordFile, never in the config',
    );
  }
  const user = decodeURIComponent(url.username);
  if (!user) throw new Error('the URL names no user (postgres://USER@host/db)');
  const sslmode = (url.searchParams.get('sslmode') ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode)) {
    throw new Error(`sslmode must be one of ${SSL_MODES.join(', ')}, not "${sslmode}"`);
  }
  for (const key of url.searchParams.keys()) {
    if (key !== 'sslmode' && key !== 'sslrootcert') {
      throw new Error(`unsupported URL parameter "${key}" (supported: sslmode, sslrootcert)`);
    }
  }
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: url.port ? Number(url.port) : 5432,
    user,
    database: decodeURIComponent(url.pathname.slice(1)) || user,
    sslmode,
    sslrootcert: url.searchParams.get('sslrootcert') ?? undefined,
  };
}

/** Splits `host:port` of a listen address. */
export function parseListen(listen: string | undefined): { host: string; port: number } {
  const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(listen ?? '127.0.0.1:0');
  if (!m) throw new Error(`invalid listen address ${listen}`);
  return { host: m[1] === 'localhost' ? '127.0.0.1' : m[1], port: Number(m[2]) };
}

/** Reads, validates and normalises a config file; relative paths resolve against its folder. */
export function loadConfig(file: string): AirlockConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DocumentError(file, [`cannot read: ${(err as Error).message}`]);
  }
  const doc = parseAndValidate<AirlockConfig>(text, file, configSchema);
  const config = doc.value;
  const names = new Set<string>();
  const dir = path.dirname(path.resolve(file));
  for (const [i, c] of config.connections.entries()) {
    if (names.has(c.name)) doc.fail(['connections', i, 'name'], `"${c.name}" is used twice`);
    names.add(c.name);
    if (c.passwordEnv && c.passwordFile)
      doc.fail(['connections', i], 'give passwordEnv or passwordFile, not both');
    try {
      parseUpstreamUrl(c.upstream);
    } catch (err) {
      doc.fail(['connections', i, 'upstream'], (err as Error).message);
    }
    if (c.passwordFile) c.passwordFile = path.resolve(dir, c.passwordFile);
    if (c.tls) c.tls = { cert: path.resolve(dir, c.tls.cert), key: path.resolve(dir, c.tls.key) };
  }
  if (config.recordings) config.recordings = path.resolve(dir, config.recordings);
  config.policy = resolvePolicyPath(config.policy, dir);
  if (config.policyKeys) config.policyKeys = path.resolve(dir, config.policyKeys);
  try {
    policySpec(config);
  } catch (err) {
    doc.fail(['policy'], (err as Error).message);
  }
  return config;
}

const isUrl = (s: string) => /^https?:\/\//.test(s);

function resolvePolicyPath(policy: string, dir: string): string {
  return isPreset(policy) || isUrl(policy) ? policy : path.resolve(dir, policy);
}

/** What the config's `policy` names, checked: signed unless the config explicitly accepts unsigned. */
export function policySpec(config: AirlockConfig): PolicySpec {
  const p = config.policy;
  if (isPreset(p)) return { kind: 'preset', name: p };
  const refreshMs = (config.policyRefreshSeconds ?? 60) * 1000;
  if (isUrl(p) || /\.(jws|jwt)$/.test(p)) {
    if (!config.policyKeys)
      throw new Error('a signed bundle needs policyKeys (a JWKS file pinning the signing keys)');
    return { kind: 'bundle', location: p, jwksFile: config.policyKeys, refreshMs };
  }
  if (/\.(ya?ml|json)$/.test(p)) {
    if (!config.allowUnsignedPolicy) {
      throw new Error(
        `${p} is an unsigned policy file; set allowUnsignedPolicy: true to accept it (development), or sign it with \`airlock policy sign\``,
      );
    }
    return { kind: 'file', path: p };
  }
  throw new Error(
    `"${p}" is not a preset (${Object.keys(PRESETS).join(', ')}), a .jws bundle, a URL or a .yaml/.json file`,
  );
}
