import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { PgError, SqlState, fatal } from './protocol/errors';
import { errorResponse } from './protocol/encode';
import { cancelUpstream, UpstreamStartupError } from './upstream';
import type { StatementLog } from './statement-log';
import type { Relay } from './relay';
import type { ListenerSettings, SessionPhase } from './session';

/** What the end of a session touches. */
export interface EndingSession {
  readonly id: string;
  readonly settings: ListenerSettings;
  phase: SessionPhase;
  readonly client: Duplex;
  readonly upstream: net.Socket | null;
  readonly upstreamKey: { processId: number; secretKey: number };
  readonly log: StatementLog | null;
  readonly relay: Relay | null;
  /** Takes the session out of its listener's registry. */
  unregister(): void;
}

/** Cancels what the upstream backend serving this session is running (a client's CancelRequest, a limit). */
export async function cancelStatement(s: EndingSession): Promise<void> {
  if (s.phase !== 'relaying') return;
  await cancelUpstream(s.settings.upstream, s.upstreamKey.processId, s.upstreamKey.secretKey);
}

/**
 * The server did something Airlock did not decide (a parser differential, or a lexical setting changed
 * where nobody could see it): the session ends at once, what is still running is cancelled so that its
 * transaction cannot commit, nothing more reaches the client, and the alarm is recorded.
 */
export function alarm(s: EndingSession, problem: string): void {
  s.settings.log.error(`[${s.settings.connection}] session ${s.id}: ALARM: ${problem}`);
  s.log?.alarm(problem);
  void cancelStatement(s).catch(() => undefined);
  s.relay?.discardOutput();
  failClient(
    s,
    new PgError(SqlState.internalError, `airlock: ${problem}; the session is ended`, {
      severity: 'FATAL',
      detail:
        "The server's reply does not match what Airlock analysed and decided. This is recorded as an alarm.",
      hint: 'Report it to whoever runs Airlock, with the session id from the recording; reconnect to continue.',
    }),
  );
}

export function upstreamLost(s: EndingSession, why: string): void {
  if (s.phase === 'closed') return;
  // After Terminate, or after the server's own FATAL (already forwarded), the client just gets EOF.
  if (s.phase === 'terminating' || s.relay?.upstreamSentFatal) {
    close(s, `upstream ${why}`);
    return;
  }
  failClient(
    s,
    fatal(SqlState.connectionFailure, `upstream connection ${why}`, {
      hint: 'The database server closed the session; reconnect.',
    }),
  );
}

/** Sends the error to the client (when it can still hear it) and ends the session. */
export function failClient(s: EndingSession, err: unknown): void {
  if (s.phase === 'closed') return;
  const pgErr =
    err instanceof PgError
      ? err
      : new PgError(SqlState.internalError, `airlock: ${(err as Error).message}`, { severity: 'FATAL' });
  const raw = err instanceof UpstreamStartupError ? err.raw : errorResponse(pgErr);
  if (!(err instanceof PgError))
    s.settings.log.error(`[${s.settings.connection}] ${String((err as Error).stack ?? err)}`);
  else s.settings.log.info(`[${s.settings.connection}] session ${s.id}: ${pgErr.code} ${pgErr.message}`);
  if (s.client.writable) s.client.end(raw);
  close(s, pgErr.message);
}

export function close(s: EndingSession, why: string): void {
  if (s.phase === 'closed') return;
  s.phase = 'closed';
  s.unregister();
  s.relay?.stop();
  s.settings.gate.endSession?.(s.id);
  s.log?.end(why);
  s.settings.log.debug(`[${s.settings.connection}] session ${s.id} closed: ${why}`);
  const { client, upstream } = s;
  upstream?.end();
  if (client.writable) client.end();
  // A client that stops reading must not keep the socket (and its buffers) alive.
  setTimeout(() => {
    client.destroy();
    upstream?.destroy();
  }, 5000).unref();
}
