import type { JSONWebKeySet } from 'jose';

/**
 * What a workstation calls on the control plane. The access token travels in the Authorization header
 * only, never in a URL; errors carry the server's message, which says what to do.
 */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ServerError';
  }
}

export type AccessToken = () => Promise<string>;

export interface ServerClientOptions {
  /** The server's base URL (https, or http on loopback for the demo). */
  server: string;
  accessToken: AccessToken;
  timeoutMs?: number;
}

export class ServerClient {
  readonly base: string;

  constructor(private readonly o: ServerClientOptions) {
    this.base = o.server.replace(/\/+$/, '');
  }

  /** A raw request with the token; the caller reads the response (conditional requests need it whole). */
  async request(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${await this.o.accessToken()}`,
      ...init.headers,
    };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    return fetch(this.base + path, {
      method,
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
    });
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body === undefined ? {} : { body });
    if (!res.ok) throw await serverError(res);
    return (await res.json()) as T;
  }
}

export async function serverError(res: Response): Promise<ServerError> {
  let message = `the server answered ${res.status}`;
  try {
    const body = (await res.json()) as { message?: unknown };
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // Not our JSON (a proxy's error page): the status is all there is.
  }
  return new ServerError(res.status, message);
}

/** The server's public bundle keys (GET /v1/keys needs no token). */
export async function fetchServerKeys(server: string, timeoutMs = 10_000): Promise<JSONWebKeySet> {
  const res = await fetch(server.replace(/\/+$/, '') + '/v1/keys', {
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw await serverError(res);
  return (await res.json()) as JSONWebKeySet;
}
