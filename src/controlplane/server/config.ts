import { readFile } from 'node:fs/promises';
import { parseAndValidate } from '../../core/validate';
import type { TokenSettings } from './tokens';

/** server.yaml: where the control plane listens, its store, whom it trusts, and who administers it. */
export interface ServerConfig {
  listen: { host: string; port: number };
  /** Certificate and key files; without them the server listens on loopback only, in plain http. */
  tls?: { cert: string; key: string };
  database: {
    /** A real PostgreSQL (production, several instances): postgres://user@host:port/db, no password. */
    url?: string;
    /** File holding nothing but the database password (else AIRLOCK_SERVER_DATABASE_PASSWORD). */
    passwordFile?: string;
    /** Folder of the embedded store (PGlite) used when no url is given: one instance only. */
    embedded?: string;
  };
  oidc: TokenSettings;
  /** Members of any of these groups may push policies and edit the connections catalog. */
  adminGroups: string[];
  signingKeys: { file?: string };
  bundleTtlSeconds: number;
}

export const DATABASE_PASSWORD_ENV = 'AIRLOCK_SERVER_DATABASE_PASSWORD';

const serverConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['oidc'],
  properties: {
    listen: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['cert', 'key'],
      properties: { cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } },
    },
    database: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', pattern: '^postgres(ql)?://' },
        passwordFile: { type: 'string', minLength: 1 },
        embedded: { type: 'string', minLength: 1 },
      },
    },
    oidc: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer', 'audience'],
      properties: {
        issuer: { type: 'string', pattern: '^https?://' },
        audience: { type: 'string', minLength: 1 },
        groupsClaim: { type: 'string', minLength: 1 },
        jwksUri: { type: 'string', pattern: '^https?://' },
      },
    },
    adminGroups: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    signingKeys: {
      type: 'object',
      additionalProperties: false,
      properties: { file: { type: 'string', minLength: 1 } },
    },
    bundleTtlSeconds: { type: 'integer', minimum: 4, maximum: 604800 },
  },
} as const;

export function parseServerConfig(text: string, file: string): ServerConfig {
  const doc = parseAndValidate<Partial<ServerConfig> & Pick<ServerConfig, 'oidc'>>(
    text,
    file,
    serverConfigSchema,
  );
  const v = doc.value;
  if (v.database?.url && new URL(v.database.url).password) {
    doc.fail(
      ['database', 'url'],
      `holds a password: put it in ${DATABASE_PASSWORD_ENV} or in database.passwordFile, never in the config`,
    );
  }
  if (v.database?.url && v.database.embedded) doc.fail(['database'], 'name either url or embedded, not both');
  return {
    listen: { host: v.listen?.host ?? '127.0.0.1', port: v.listen?.port ?? 8443 },
    ...(v.tls ? { tls: v.tls } : {}),
    database: v.database ?? {},
    oidc: { ...v.oidc, groupsClaim: v.oidc.groupsClaim ?? 'groups' },
    adminGroups: v.adminGroups ?? ['airlock-admins'],
    signingKeys: v.signingKeys ?? {},
    bundleTtlSeconds: v.bundleTtlSeconds ?? 3600,
  };
}

export async function loadServerConfig(file: string): Promise<ServerConfig> {
  return parseServerConfig(await readFile(file, 'utf8'), file);
}
