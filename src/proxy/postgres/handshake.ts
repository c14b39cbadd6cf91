import type net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { DecisionContext } from '../../core/gate/operation';
import type { AgentChannel } from '../../core/identity/actor';
import { quoteIdent, quoteLiteral } from '../../core/sql/quote';
import { SqlState, fatal } from './protocol/errors';
import { MAX_AUTH_MESSAGE } from './protocol/framing';
import { MessageQueue } from './protocol/message-queue';
import { AuthCode, Msg } from './protocol/messages';
import { decodeSaslInitial, decodeSaslResponse, decodeStartup } from './protocol/decode';
import { authentication, authenticationSasl } from './protocol/encode';
import { SCRAM_MECHANISM, ScramServerExchange } from './auth/scram';
import { agentChannelOf } from './auth/channel-secrets';
import { connectUpstream, queryUpstream, type UpstreamSession } from './upstream';
import { denialError } from './denial';
import { startupSettings } from './startup-settings';
import { pinLexicalEnvironment, type LexicalEnvironment } from './lexical-environment';
import type { ListenerSettings, SessionRegistry } from './session';

/** Who the client proved to be, and what its startup packet asked for. */
export interface ClientHello {
  /** The startup parameters without user and database (the connection's own are used upstream). */
  params: Map<string, string>;
  /** The agent adapter whose secret the client proved it holds (none: the ordinary client's). */
  channel: AgentChannel | undefined;
}

/**
 * The client side of the handshake, as PostgreSQL does it: startup packet(s), SSL/GSS negotiation, the
 * user and database check, SCRAM with the per-session secret. TLS replaces the socket: `client` and
 * `queue` are the current ones.
 */
export class ClientHandshake {
  queue: MessageQueue;

  constructor(
    public client: Duplex,
    private readonly settings: ListenerSettings,
    private readonly registry: SessionRegistry,
  ) {
    this.queue = new MessageQueue(client, 'client', MAX_AUTH_MESSAGE, false);
  }

  /** The client, authenticated; null for a CancelRequest connection (served here, then closed). */
  async run(authenticating: () => void): Promise<ClientHello | null> {
    const wait = (what: string) => this.queue.next(this.settings.authTimeoutMs, what);
    let params: Map<string, string> | null = null;
    // As PostgreSQL: each of SSL and GSS encryption may be requested once, SSL last.
    let askedSsl = false;
    let askedGss = false;
    while (!params) {
      const { message } = await wait('the startup packet');
      const packet = decodeStartup(message);
      switch (packet.kind) {
        case 'cancel':
          await this.registry.cancel(packet.processId, packet.secretKey);
          return null;
        case 'gssenc':
          if (askedGss || askedSsl)
            throw fatal(SqlState.protocolViolation, 'duplicate GSSENC negotiation packet');
          askedGss = true;
          this.client.write(Buffer.from('N'));
          break;
        case 'ssl': {
          if (askedSsl) throw fatal(SqlState.protocolViolation, 'duplicate SSL negotiation packet');
          askedSsl = true;
          // Bytes sent before the answer cannot have been meant for it (CVE-2021-23214).
          if (this.queue.hasPending()) {
            throw fatal(SqlState.protocolViolation, 'received unencrypted data after SSL request', {
              hint: 'This could be evidence of a man-in-the-middle attack.',
            });
          }
          if (!this.settings.tls) {
            this.client.write(Buffer.from('N'));
            break;
          }
          this.queue.release();
          this.client.write(Buffer.from('S'));
          this.client = await this.startClientTls(this.client as net.Socket);
          this.queue = new MessageQueue(this.client, 'client', MAX_AUTH_MESSAGE, false);
          break;
        }
        case 'startup':
          params = packet.params;
      }
    }
    this.queue.setTyped();
    authenticating();
    const user = params.get('user') ?? '';
    const database = params.get('database') || user;
    if (params.has('replication') && params.get('replication') !== 'false') {
      throw fatal(SqlState.featureNotSupported, 'replication connections are not proxied by Airlock');
    }
    if (user !== this.settings.user) {
      throw fatal(SqlState.invalidAuthorization, `role "${user}" is not served by this Airlock listener`, {
        hint: `Connect as "${this.settings.user}" (see the Airlock ready file or terminal environment).`,
      });
    }
    if (database !== this.settings.database) {
      throw fatal(
        SqlState.invalidCatalogName,
        `database "${database}" is not served by this Airlock listener`,
        {
          hint: `Connection "${this.settings.connection}" serves database "${this.settings.database}".`,
        },
      );
    }
    const channel = await this.authenticate(wait, user);
    params.delete('user');
    params.delete('database');
    return { params, channel };
  }

  private startClientTls(socket: net.Socket): Promise<tls.TLSSocket> {
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: this.settings.tls });
    return new Promise((resolve, reject) => {
      secure.once('secure', () => resolve(secure));
      secure.once('error', (err) =>
        reject(fatal(SqlState.protocolViolation, `TLS handshake failed: ${err.message}`)),
      );
    });
  }

  private async authenticate(
    wait: (what: string) => Promise<{ type: number; message: Buffer }>,
    user: string,
  ): Promise<AgentChannel | undefined> {
    this.client.write(authenticationSasl([SCRAM_MECHANISM]));
    const exchange = new ScramServerExchange(this.settings.verifier);
    const initial = await wait('SASLInitialResponse');
    if (initial.type !== Msg.password) {
      throw fatal(
        SqlState.protocolViolation,
        `expected SASL response, got message type "${String.fromCharCode(initial.type)}"`,
      );
    }
    const { mechanism, data } = decodeSaslInitial(initial.message);
    if (mechanism !== SCRAM_MECHANISM) {
      throw fatal(SqlState.protocolViolation, `client selected an invalid SASL authentication mechanism`);
    }
    const serverFirst = exchange.serverFirstMessage(data.toString('utf8'));
    this.client.write(authentication(AuthCode.saslContinue, Buffer.from(serverFirst)));
    const final = await wait('SASLResponse');
    if (final.type !== Msg.password) throw fatal(SqlState.protocolViolation, 'expected SASL response');
    const serverFinal = exchange.serverFinalMessage(decodeSaslResponse(final.message), user);
    const channel = agentChannelOf(exchange.authenticated);
    this.client.write(authentication(AuthCode.saslFinal, Buffer.from(serverFinal)));
    this.client.write(authentication(AuthCode.ok));
    return channel;
  }
}

/** Settings in the startup packet take effect like SET: the gate decides them the same way. */
export async function checkStartupSettings(
  settings: ListenerSettings,
  context: DecisionContext,
  params: Map<string, string>,
): Promise<void> {
  for (const { setting, value } of startupSettings(params)) {
    const text = `SET ${quoteIdent(setting)} = ${quoteLiteral(value)}`;
    const decision = await settings.gate.decide(context, { kind: 'sql', text });
    if (decision.effect === 'deny') {
      const err = denialError(decision);
      throw fatal(err.code, `${err.message} (startup setting ${setting})`, err.options);
    }
  }
}

const LEXICAL_HINT =
  "Airlock lexes SQL with standard_conforming_strings=on and a UTF-8 client encoding: use E'...' strings for backslash escapes and client_encoding UTF8 (PGCLIENTENCODING=UTF8).";

/**
 * The upstream session for a client: read-only when the gate says so, the lexical environment pinned,
 * and the server's reports of it checked before anything is relayed.
 */
export async function openUpstream(
  settings: ListenerSettings,
  params: Map<string, string>,
  lexical: LexicalEnvironment,
): Promise<UpstreamSession> {
  if (settings.services.readOnlyUpstream()) {
    // Defence in depth: the server refuses writes even if a statement slipped past analysis.
    params.set('default_transaction_read_only', 'on');
  }
  pinLexicalEnvironment(params);
  const up = await connectUpstream(settings.upstream, params);
  const deviation = up.startupMessages.map((m) => lexical.report(m)).find((d) => d !== null);
  if (deviation) {
    up.socket.destroy();
    throw fatal(SqlState.featureNotSupported, `airlock: ${deviation}, which Airlock cannot lex`, {
      hint: LEXICAL_HINT,
    });
  }
  return up;
}

/**
 * For a reviewer: the rows a write would affect, from a plain EXPLAIN on a connection of its own (the
 * client's is busy waiting; EXPLAIN without ANALYZE plans the statement and never runs it).
 */
export async function estimateRows(
  settings: ListenerSettings,
  sql: string,
  params: Map<string, string>,
): Promise<number | null> {
  const up = await connectUpstream(settings.upstream, params);
  try {
    const rows = await queryUpstream(up, `EXPLAIN (FORMAT JSON) ${sql}`, settings.upstream);
    return writtenRows(JSON.parse(rows[0]?.[0] ?? 'null'));
  } finally {
    up.socket.destroy();
  }
}

/** A ModifyTable plan writes what its input node produces. */
function writtenRows(plan: unknown): number | null {
  const top = (plan as Array<{ Plan?: Record<string, unknown> }> | null)?.[0]?.Plan;
  if (!top) return null;
  const input =
    top['Node Type'] === 'ModifyTable' ? (top.Plans as Array<Record<string, unknown>> | undefined)?.[0] : top;
  const rows = input?.['Plan Rows'];
  return typeof rows === 'number' ? rows : null;
}
