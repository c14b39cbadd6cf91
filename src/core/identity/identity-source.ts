import os from 'node:os';
import type { Human } from './actor';

/**
 * Where the engine learns who the human is. One source per Airlock, read at each connection, so sign-in
 * (an OIDC source, next) replaces the local one in one place and every session, review and record
 * follows it.
 */
export interface IdentitySource {
  current(): Human;
}

/** The OS account Airlock runs as: nobody vouched for it, so it is recorded as `local`. */
export function localIdentity(): IdentitySource {
  const human: Human = { user: os.userInfo().username, groups: [], established: 'local' };
  return { current: () => human };
}
