import net from 'node:net';
import { serialize } from 'pg-protocol';
import { ScramClientExchange } from '../../src/proxy/postgres/auth/scram';
import { MessageFramer } from '../../src/proxy/postgres/protocol/framing';
import { decodeErrorFields } from '../../src/proxy/postgres/protocol/decode';
import type { LocalEndpoint } from '../../src/proxy/listeners';

/** A backend message as a test wants to see it. */
export interface Reply {
  type: string;
  /** ErrorResponse/NoticeResponse fields by code (C = SQLSTATE, M = message…). */
  fields?: Record<string, string>;
  /** ReadyForQuery status, CommandComplete tag, or DataRow's first column as text. */
  text?: string;
}

/**
 * A protocol-level client for tests that must control exactly which messages go out together
 * (pipelines, batches without Sync), which no driver lets you do.
 */
export class RawClient {
  private readonly framer = new MessageFramer(1 << 30);
  private replies: Reply[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) =>
      this.framer.push(chunk, (type, m) => {
        this.replies.push(describe(type, m));
        for (const w of this.waiters.splice(0)) w();
      }),
    );
  }

  static async connect(e: LocalEndpoint): Promise<RawClient> {
    const socket = net.connect(e.port, e.host);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const c = new RawClient(socket);
    const scram = new ScramClientExchange(e.password);
    socket.write(serialize.startup({ user: e.user, database: e.database }));
    for (;;) {
      const r = await c.next();
      if (r.type === 'R' && r.text === '10') {
        socket.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.clientFirstMessage()));
      } else if (r.type === 'R' && r.text?.startsWith('11:')) {
        socket.write(serialize.sendSCRAMClientFinalMessage(scram.clientFinalMessage(r.text.slice(3))));
      } else if (r.type === 'E') {
        throw new Error(`startup failed: ${r.fields?.M}`);
      } else if (r.type === 'Z') {
        return c;
      }
    }
  }

  send(...messages: Buffer[]): void {
    this.socket.write(Buffer.concat(messages));
  }

  /** The next reply, in order. */
  async next(timeoutMs = 5000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length === 0) {
      if (Date.now() > deadline) throw new Error('no reply within timeout');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.replies.shift() as Reply;
  }

  /** Replies up to and including the next ReadyForQuery. */
  async untilReady(): Promise<Reply[]> {
    const out: Reply[] = [];
    for (;;) {
      const r = await this.next();
      out.push(r);
      if (r.type === 'Z') return out;
    }
  }

  close(): void {
    this.socket.end(serialize.end());
  }
}

function describe(type: number, m: Buffer): Reply {
  const t = String.fromCharCode(type);
  switch (t) {
    case 'E':
    case 'N':
      return { type: t, fields: decodeErrorFields(m) };
    case 'Z':
      return { type: t, text: String.fromCharCode(m[5]) };
    case 'C':
      return { type: t, text: m.toString('utf8', 5, m.length - 1) };
    case 'D': {
      const len = m.readInt32BE(7);
      return { type: t, text: len < 0 ? undefined : m.toString('utf8', 11, 11 + len) };
    }
    case 'R': {
      const code = m.readInt32BE(5);
      return { type: t, text: code === 11 ? `11:${m.toString('utf8', 9)}` : String(code) };
    }
    default:
      return { type: t };
  }
}
