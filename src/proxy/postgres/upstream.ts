import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { PgError, SqlState, fatal } from './protocol/errors';
import { AuthCode, Msg, type TransactionStatus } from './protocol/messages';
import {
  decodeAuthentication,
  decodeBackendKeyData,
  decodeDataRow,
  decodeErrorFields,
  decodeReadyForQuery,
  decodeSaslMechanisms,
} from './protocol/decode';
import {
  cancelRequest,
  passwordMessage,
  query,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
} from './protocol/encode';
import { MessageQueue } from './protocol/message-queue';
import { SCRAM_MECHANISM, ScramClientExchange, md5Password } from './auth/scram';
import type { SslMode } from '../../config/config';

/** Where and how to reach the real server; the password is the just-in-time credential, memory only. */
export interface UpstreamTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  sslmode: SslMode;
  /** PEM file with the CA(s) for verify-ca / verify-full; the system store when absent. */
  sslrootcert?: string;
  password: () => Promise<string | undefined>;
  connectTimeoutMs: number;
  maxMessageBytes: number;
}

export interface UpstreamSession {
  socket: net.Socket | tls.TLSSocket;
  /** ParameterStatus and NoticeResponse messages of the startup, to replay to the client verbatim. */
  startupMessages: Buffer[];
  processId: number;
  secretKey: number;
  status: TransactionStatus;
  /** Bytes that arrived after ReadyForQuery (none in practice; kept so nothing is lost). */
  leftover: Buffer | null;
  tls: boolean;
}

/** An ErrorResponse the upstream sent during startup: forwarded to the client as it was. */
export class UpstreamStartupError extends PgError {
  constructor(readonly raw: Buffer) {
    const f = decodeErrorFields(raw);
    super(f.C ?? SqlState.connectionFailure, `upstream: ${f.M ?? 'error'}`, {
      severity: 'FATAL',
      detail: f.D,
      hint: f.H,
    });
  }
}

function connectTcp(target: UpstreamTarget): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(unreachable(target, 'timed out'));
    }, target.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(unreachable(target, err.message));
    });
  });
}

function unreachable(target: UpstreamTarget, why: string): PgError {
  return fatal(
    SqlState.sqlclientUnableToEstablish,
    `upstream ${target.host}:${target.port} unreachable: ${why}`,
    {
      hint: 'Check that the database is running and the connection upstream in the Airlock config is right.',
    },
  );
}

function readSslAnswer(socket: net.Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error('timed out waiting for the SSL answer')), timeoutMs);
    const onData = (chunk: Buffer) => {
      // More than one byte before the TLS handshake is a man-in-the-middle injection (CVE-2021-23222).
      if (chunk.length !== 1) done(new Error('unexpected data after the SSL answer'));
      else done(null, String.fromCharCode(chunk[0]));
    };
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error('closed during SSL negotiation'));
    function done(err: Error | null, answer?: string) {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve(answer as string);
    }
    socket.on('data', onData).on('error', onError).on('close', onClose);
    socket.write(sslRequest());
  });
}

function tlsOptions(target: UpstreamTarget, socket: net.Socket): tls.ConnectionOptions {
  const verify = target.sslmode === 'verify-ca' || target.sslmode === 'verify-full';
  const ca = verify && target.sslrootcert ? readFileSync(target.sslrootcert) : undefined;
  return {
    socket,
    servername: net.isIP(target.host) ? undefined : target.host,
    rejectUnauthorized: verify,
    ca,
    // verify-ca checks the chain only; verify-full also that the certificate names the host we dialled
    // (given explicitly: over an existing socket, Node would otherwise check against "localhost").
    checkServerIdentity:
      target.sslmode === 'verify-full'
        ? (_host, cert) => tls.checkServerIdentity(target.host, cert)
        : () => undefined,
  };
}

async function negotiateTls(target: UpstreamTarget, socket: net.Socket): Promise<net.Socket | tls.TLSSocket> {
  if (target.sslmode === 'disable') return socket;
  let answer: string;
  try {
    answer = await readSslAnswer(socket, target.connectTimeoutMs);
  } catch (err) {
    socket.destroy();
    throw fatal(SqlState.connectionFailure, `upstream SSL negotiation failed: ${(err as Error).message}`);
  }
  if (answer === 'N') {
    if (target.sslmode === 'prefer') return socket;
    socket.destroy();
    throw fatal(
      SqlState.sqlclientUnableToEstablish,
      `upstream does not support SSL, but sslmode=${target.sslmode}`,
      {
        hint: 'Enable ssl on the server, or lower sslmode in the connection upstream (not recommended).',
      },
    );
  }
  if (answer !== 'S') {
    socket.destroy();
    throw fatal(SqlState.protocolViolation, `upstream answered the SSL request with "${answer}"`);
  }
  return new Promise((resolve, reject) => {
    const secure = tls.connect(tlsOptions(target, socket));
    const timer = setTimeout(
      () => secure.destroy(new Error('TLS handshake timed out')),
      target.connectTimeoutMs,
    );
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(secure);
    });
    secure.once('error', (err) => {
      clearTimeout(timer);
      secure.destroy();
      reject(
        fatal(
          SqlState.sqlclientUnableToEstablish,
          `upstream TLS failed (sslmode=${target.sslmode}): ${err.message}`,
          {
            hint: target.sslmode.startsWith('verify')
              ? 'Set sslrootcert in the upstream URL to the CA that signed the server certificate.'
              : undefined,
          },
        ),
      );
    });
  });
}

async function requirePassword(target: UpstreamTarget, method: string): Promise<string> {
  const password = await target.password();
  if (password === undefined) {
    throw fatal(
      SqlState.invalidPassword,
      `upstream asks for ${method} authentication but no password is configured`,
      {
        hint: 'Set passwordEnv or passwordFile on the connection.',
      },
    );
  }
  return password;
}

/**
 * Opens an authenticated upstream session: TCP, TLS per sslmode, StartupMessage with the client's
 * parameters (user and database are the connection's), then whichever authentication the server asks for.
 */
export async function connectUpstream(
  target: UpstreamTarget,
  clientParams: Map<string, string>,
): Promise<UpstreamSession> {
  const tcp = await connectTcp(target);
  const socket = await negotiateTls(target, tcp);
  const queue = new MessageQueue(socket, 'upstream', target.maxMessageBytes, true);
  const params = new Map([
    ['user', target.user],
    ['database', target.database],
  ]);
  for (const [k, v] of clientParams) if (k !== 'user' && k !== 'database') params.set(k, v);
  const wait = (what: string) => queue.next(target.connectTimeoutMs, what);
  try {
    socket.write(startupMessage(params));
    let scram: ScramClientExchange | null = null;
    const startupMessages: Buffer[] = [];
    let key = { processId: 0, secretKey: 0 };
    for (;;) {
      const { type, message } = await wait('the startup reply');
      switch (type) {
        case Msg.errorResponse:
          throw new UpstreamStartupError(message);
        case Msg.authentication: {
          const { code, data } = decodeAuthentication(message);
          switch (code) {
            case AuthCode.ok:
              break;
            case AuthCode.cleartext:
              socket.write(passwordMessage(await requirePassword(target, 'password')));
              break;
            case AuthCode.md5:
              socket.write(
                passwordMessage(
                  md5Password(target.user, await requirePassword(target, 'md5'), data.subarray(0, 4)),
                ),
              );
              break;
            case AuthCode.sasl: {
              const mechanisms = decodeSaslMechanisms(data);
              if (!mechanisms.includes(SCRAM_MECHANISM)) {
                throw fatal(SqlState.featureNotSupported, `upstream offers no supported SASL mechanism`, {
                  detail: `offered: ${mechanisms.join(', ')}`,
                });
              }
              scram = new ScramClientExchange(await requirePassword(target, 'SCRAM-SHA-256'));
              socket.write(saslInitialResponse(SCRAM_MECHANISM, scram.clientFirstMessage()));
              break;
            }
            case AuthCode.saslContinue:
              if (!scram) throw fatal(SqlState.protocolViolation, 'upstream sent SASL data out of turn');
              socket.write(saslResponse(scram.clientFinalMessage(data.toString('utf8'))));
              break;
            case AuthCode.saslFinal:
              if (!scram) throw fatal(SqlState.protocolViolation, 'upstream sent SASL data out of turn');
              scram.verifyServerFinal(data.toString('utf8'));
              break;
            default:
              throw fatal(
                SqlState.featureNotSupported,
                `upstream asks for unsupported authentication (code ${code})`,
                {
                  hint: 'Airlock supports trust, password, md5 and SCRAM-SHA-256 towards the upstream.',
                },
              );
          }
          break;
        }
        case Msg.parameterStatus:
        case Msg.noticeResponse:
          startupMessages.push(message);
          break;
        case Msg.backendKeyData:
          key = decodeBackendKeyData(message);
          break;
        case Msg.negotiateProtocolVersion:
          // The server accepted 3.0 but not some of our _pq_ options; we send none, so this is informational.
          break;
        case Msg.readyForQuery:
          return {
            socket,
            startupMessages,
            ...key,
            status: decodeReadyForQuery(message),
            leftover: queue.release(),
            tls: socket instanceof tls.TLSSocket,
          };
        default:
          throw fatal(
            SqlState.protocolViolation,
            `unexpected message "${String.fromCharCode(type)}" from upstream`,
          );
      }
    }
  } catch (err) {
    queue.release();
    socket.destroy();
    throw err;
  }
}

/** Sends a CancelRequest for an upstream backend over a fresh connection, as libpq does. */
export async function cancelUpstream(
  target: UpstreamTarget,
  processId: number,
  secretKey: number,
): Promise<void> {
  const socket = await connectTcp(target);
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
    socket.end(cancelRequest(processId, secretKey));
  });
}

/**
 * Runs one query of the proxy's own on a fresh upstream session, before the client's traffic flows
 * (catalog facts). Returns the rows as text; the session is left as it was found.
 */
export async function queryUpstream(
  up: UpstreamSession,
  sql: string,
  target: UpstreamTarget,
): Promise<string[][]> {
  const queue = new MessageQueue(up.socket, 'upstream', target.maxMessageBytes, true);
  const rows: string[][] = [];
  let failure: PgError | null = null;
  try {
    up.socket.write(query(sql));
    for (;;) {
      const { type, message } = await queue.next(target.connectTimeoutMs, 'the catalog query');
      if (type === Msg.dataRow) {
        rows.push(decodeDataRow(message).map((v) => v ?? ''));
      } else if (type === Msg.errorResponse) {
        const f = decodeErrorFields(message);
        failure = new PgError(
          f.C ?? SqlState.internalError,
          `airlock could not read the upstream catalog: ${f.M}`,
        );
      } else if (type === Msg.readyForQuery) {
        up.status = decodeReadyForQuery(message);
        break;
      }
    }
  } finally {
    const rest = queue.release();
    if (rest) up.leftover = up.leftover ? Buffer.concat([up.leftover, rest]) : rest;
  }
  if (failure) throw failure;
  return rows;
}
