import net from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { ClientSession, type ListenerSettings, type SessionRegistry } from './session';

/**
 * A local listener for one connection: loopback only, one ClientSession per client, CancelRequest routed
 * by the key the proxy (not the upstream) gave the client.
 */
export class PostgresListener implements SessionRegistry {
  private readonly server: net.Server;
  private readonly sessions = new Map<number, ClientSession>();
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly settings: ListenerSettings) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    if (!isLoopback(host)) {
      return Promise.reject(
        new Error(`listen address ${host} is not a loopback address; Airlock listens locally only`),
      );
    }
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const addr = this.server.address() as net.AddressInfo;
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private accept(socket: net.Socket): void {
    // Defence in depth: the bind address is loopback, but never serve a non-loopback peer.
    if (!socket.remoteAddress || !isLoopback(socket.remoteAddress)) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    void new ClientSession(socket, this.settings, this).run();
  }

  add(session: ClientSession): void {
    this.sessions.set(session.processId, session);
  }

  remove(session: ClientSession): void {
    if (this.sessions.get(session.processId) === session) this.sessions.delete(session.processId);
  }

  async cancel(processId: number, secretKey: number): Promise<void> {
    const session = this.sessions.get(processId);
    const a = Buffer.alloc(4);
    const b = Buffer.alloc(4);
    a.writeInt32BE(secretKey);
    b.writeInt32BE(session?.secretKey ?? ~secretKey);
    if (!session || !timingSafeEqual(a, b)) {
      this.settings.log.debug(`[${this.settings.connection}] CancelRequest with an unknown key ignored`);
      return;
    }
    try {
      await session.cancel();
    } catch (err) {
      this.settings.log.warn(`[${this.settings.connection}] cancel failed: ${(err as Error).message}`);
    }
  }

  /** Stops accepting, ends every session, and resolves once all client sockets are gone. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of [...this.sessions.values()]) session.shutdown();
    for (const socket of this.sockets) socket.end();
    const deadline = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, 2000);
    await closed;
    clearTimeout(deadline);
  }
}

export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/, '');
  return a === '::1' || a === 'localhost' || (net.isIPv4(a) && a.startsWith('127.'));
}
