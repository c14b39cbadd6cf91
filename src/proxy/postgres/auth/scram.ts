import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { PgError, SqlState, fatal } from '../protocol/errors';

/**
 * SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL uses it: no channel binding, the user name in the
 * client-first-message is ignored (the startup packet names the user). Both sides are here because the
 * proxy is a SCRAM server to its clients and a SCRAM client to the upstream; no npm package offers the
 * server side.
 */

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
const ITERATIONS = 4096;

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();
const xor = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((v, i) => v ^ b[i]));
const nonce = (): string => randomBytes(18).toString('base64');

function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  // Normalisation stands in for SASLprep, which PostgreSQL applies to non-ASCII passwords.
  return pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
}

function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) map.set(part[0], part.slice(2));
  }
  return map;
}

/**
 * What a SCRAM server keeps of its passwords: never the passwords themselves. It may accept several
 * (one per channel of a listener); they share the salt and iteration count, so the server-first-message
 * is the same whichever one a client holds, and the client's proof alone tells which it was.
 */
export interface ScramVerifier<S extends string = string> {
  salt: Buffer;
  iterations: number;
  keys: ReadonlyArray<{ secret: S; storedKey: Buffer; serverKey: Buffer }>;
}

export function makeVerifier<S extends string>(
  passwords: Record<S, string>,
  iterations = ITERATIONS,
): ScramVerifier<S> {
  const salt = randomBytes(16);
  const keys = (Object.entries(passwords) as Array<[S, string]>).map(([secret, password]) => {
    const salted = saltedPassword(password, salt, iterations);
    return { secret, storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') };
  });
  return { salt, iterations, keys };
}

const badExchange = (why: string) =>
  new PgError(SqlState.protocolViolation, `malformed SCRAM message: ${why}`, { severity: 'FATAL' });

/** Server side of one exchange: clientFirst → serverFirst, clientFinal → serverFinal or a 28P01 error. */
export class ScramServerExchange<S extends string = string> {
  private clientFirstBare = '';
  private serverFirst = '';
  private gs2Header = '';
  private nonce = '';
  /** Which of the verifier's secrets the client proved it holds (set once serverFinalMessage returned). */
  authenticated: S | undefined;

  constructor(private readonly verifier: ScramVerifier<S>) {}

  serverFirstMessage(clientFirst: string): string {
    const m = /^([ny]|p=[^,]*),([^,]*),(.*)$/.exec(clientFirst);
    if (!m) throw badExchange('client-first-message');
    if (m[1].startsWith('p')) {
      throw fatal(SqlState.protocolViolation, 'channel binding is not offered by this server', {
        hint: 'Connect with channel_binding=disable or prefer.',
      });
    }
    this.gs2Header = `${m[1]},${m[2]},`;
    this.clientFirstBare = m[3];
    const clientNonce = attributes(this.clientFirstBare).get('r');
    if (!clientNonce) throw badExchange('missing client nonce');
    this.nonce = clientNonce + nonce();
    const { salt, iterations } = this.verifier;
    this.serverFirst = `r=${this.nonce},s=${salt.toString('base64')},i=${iterations}`;
    return this.serverFirst;
  }

  /** Returns the server-final-message, or throws 28P01 when the proof is wrong. */
  serverFinalMessage(clientFinal: string, user: string): string {
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) throw badExchange('missing proof');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    if (attrs.get('c') !== Buffer.from(this.gs2Header).toString('base64'))
      throw badExchange('channel binding');
    if (attrs.get('r') !== this.nonce) throw badExchange('nonce mismatch');
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    // ClientKey = proof XOR HMAC(StoredKey, AuthMessage); the proof is valid for the secret whose
    // StoredKey = H(ClientKey). Every candidate is checked (no early exit), in constant time each.
    let match: ScramVerifier<S>['keys'][number] | undefined;
    for (const key of this.verifier.keys) {
      const signature = hmac(key.storedKey, authMessage);
      if (proof.length === signature.length && timingSafeEqual(sha256(xor(proof, signature)), key.storedKey))
        match ??= key;
    }
    if (!match) {
      throw fatal(SqlState.invalidPassword, `password authentication failed for user "${user}"`, {
        hint: 'The local password changes every time Airlock starts or reconnects: take it from the ready file, a terminal opened since (Airlock: Open Terminal), or Airlock: Copy Local Connection String.',
      });
    }
    this.authenticated = match.secret;
    return `v=${hmac(match.serverKey, authMessage).toString('base64')}`;
  }
}

/** Client side of one exchange, for authenticating to the upstream server. */
export class ScramClientExchange {
  private readonly clientNonce = nonce();
  private readonly clientFirstBare = `n=*,r=${this.clientNonce}`;
  private expectedServerSignature: Buffer | null = null;

  constructor(private readonly password: string) {}

  clientFirstMessage(): string {
    return `n,,${this.clientFirstBare}`;
  }

  clientFinalMessage(serverFirst: string): string {
    const attrs = attributes(serverFirst);
    const serverNonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!serverNonce?.startsWith(this.clientNonce) || serverNonce === this.clientNonce || !salt) {
      throw badExchange('server-first-message');
    }
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000) {
      throw badExchange('iteration count');
    }
    const salted = saltedPassword(this.password, Buffer.from(salt, 'base64'), iterations);
    const clientKey = hmac(salted, 'Client Key');
    const withoutProof = `c=biws,r=${serverNonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
    this.expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Verifies the server's signature: a server that does not know the password cannot fake success. */
  verifyServerFinal(serverFinal: string): void {
    const v = attributes(serverFinal).get('v');
    const expected = this.expectedServerSignature;
    if (!v || !expected) throw badExchange('server-final-message');
    const got = Buffer.from(v, 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw fatal(SqlState.invalidAuthorization, 'upstream server signature is invalid', {
        hint: 'The upstream is not the server it claims to be, or the password is wrong.',
      });
    }
  }
}

/** The md5 scheme PostgreSQL still offers: "md5" + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5')
    .update(password + user)
    .digest('hex');
  return (
    'md5' +
    createHash('md5')
      .update(Buffer.concat([Buffer.from(inner), salt]))
      .digest('hex')
  );
}
