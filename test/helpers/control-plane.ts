import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type JWTPayload } from 'jose';
import { generateSigningKey } from '../../src/core/policy/bundle';
import type { ServerConfig } from '../../src/controlplane/server/config';
import { startServer, type RunningServer } from '../../src/controlplane/server/server';
import { freshDatabase } from './policy-fixtures';
import { sharedCluster } from './global-fixtures';

/** An issuer of our own: a key pair whose public half is served as a JWKS on loopback. */
export interface TestIssuer {
  issuer: string;
  jwksUri: string;
  /** An access token for this issuer; claims override the defaults (aud "airlock", 5 min). */
  token(
    claims: JWTPayload & { groups?: string[]; email?: string },
    options?: { expiresIn?: string | number },
  ): Promise<string>;
  close(): Promise<void>;
}

export const AUDIENCE = 'airlock';

export async function startTestIssuer(): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-issuer-1', alg: 'ES256', use: 'sig' };
  const server = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration')
      res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
    else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    token: (claims, options = {}) =>
      new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
        .setIssuer(claims.iss ?? issuer)
        .setAudience(claims.aud ?? AUDIENCE)
        .setSubject(claims.sub ?? 'user-1')
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '5m')
        .sign(privateKey),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A signing key file (0600) in a temp folder of its own, removed by `remove()`. */
export async function signingKeyFile(
  kid = 'bundle-key-1',
): Promise<{ file: string; jwks: { keys: JWK[] }; remove(): void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-server-keys-'));
  const { privateJwk, jwks } = await generateSigningKey(kid);
  const file = path.join(dir, 'signing.jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [privateJwk] }));
  chmodSync(file, 0o600);
  return { file, jwks: jwks as { keys: JWK[] }, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A server config on a fresh database of the shared cluster (the password through the environment). */
export async function serverConfigFor(
  database: string,
  issuer: Pick<TestIssuer, 'issuer'>,
  keyFile: string,
  overrides: Partial<ServerConfig> = {},
): Promise<ServerConfig> {
  const c = sharedCluster();
  await freshDatabase(c, database, 'select 1');
  return {
    listen: { host: '127.0.0.1', port: 0 },
    database: { url: `postgres://${c.user}@${c.host}:${c.port}/${database}` },
    oidc: { issuer: issuer.issuer, audience: AUDIENCE, groupsClaim: 'groups' },
    adminGroups: ['airlock-admins'],
    signingKeys: { file: keyFile },
    bundleTtlSeconds: 3600,
    ...overrides,
  };
}

/** A log sink that keeps nothing: the test output stays readable. */
export const discardLog = () => new Writable({ write: (_chunk, _encoding, done) => done() });

/** Its request log goes to `logStream`, or nowhere. */
export function startTestServer(
  config: ServerConfig,
  logStream?: NodeJS.WritableStream,
): Promise<RunningServer> {
  return startServer(config, {
    env: { AIRLOCK_SERVER_DATABASE_PASSWORD: sharedCluster().password },
    logStream: logStream ?? discardLog(),
  });
}
