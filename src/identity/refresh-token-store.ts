import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { OidcSettings } from './settings';

/**
 * Where the refresh token rests between runs: the one long-lived secret of a sign-in. Access and ID
 * tokens never come here; they live in memory only. The extension will keep it in SecretStorage.
 */
export interface RefreshTokenStore {
  load(): Promise<string | undefined>;
  save(refreshToken: string): Promise<void>;
  clear(): Promise<void>;
  /** Where it is kept, for a person (never the token). */
  readonly location: string;
}

/** `$XDG_CONFIG_HOME/airlock`, else `~/.config/airlock`. */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : path.join(os.homedir(), '.config');
  return path.join(base, 'airlock');
}

/**
 * A 0600 file holding nothing but the refresh token, one per issuer and client (the name is a hash of
 * both, so it says nothing and two sign-ins never share a file), in a 0700 folder.
 */
export function refreshTokenFile(
  settings: Pick<OidcSettings, 'issuer' | 'clientId'>,
  dir = userConfigDir(),
): RefreshTokenStore {
  const id = createHash('sha256')
    .update(`${settings.issuer}\n${settings.clientId}`)
    .digest('hex')
    .slice(0, 32);
  const file = path.join(dir, 'sign-in', `${id}.refresh-token`);
  return {
    location: file,
    load: async () => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      return text.trim() || undefined;
    },
    save: async (refreshToken) => {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await chmod(path.dirname(file), 0o700);
      // Created 0600 under a temporary name and renamed over the old one: never readable by others,
      // never half-written.
      const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(refreshToken);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },
    clear: async () => {
      await rm(file, { force: true });
    },
  };
}
