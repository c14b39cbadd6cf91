import { rename, writeFile } from 'node:fs/promises';
import type { LocalEndpoint } from '../proxy/listeners';

/** What the ready file holds: how local clients reach each listener. */
export interface ReadyFile {
  connections: LocalEndpoint[];
}

/**
 * Writes the ready file atomically with mode 0600: it holds this run's local secrets, so only the user
 * who started Airlock may read it, and a reader never sees half a file.
 */
export async function writeReadyFile(file: string, endpoints: LocalEndpoint[]): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const connections: ReadyFile['connections'] = endpoints.map(
    ({ name, kind, host, port, user, password, database }) => ({
      name,
      kind,
      host,
      port,
      user,
      password,
      database,
    }),
  );
  await writeFile(tmp, JSON.stringify({ connections }, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}
