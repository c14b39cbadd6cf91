import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Checkpoint } from './events';

/**
 * Signed session checkpoints. A hash chain shows edits, removals and reordering inside a session, but
 * not events cut off its end: the checkpoint, signed with the installation's Ed25519 key when the
 * session ends, states how many events the session has and the hash of the last one.
 */

const KEY_DIR = 'keys';
const PRIVATE = 'installation-ed25519.pem';
const PUBLIC = 'installation-ed25519.pub.pem';

export interface InstallationKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  id: string;
}

export function keyId(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/** The recordings folder's signing key, created (owner-only) on first use. */
export function installationKey(recordings: string): InstallationKey {
  const dir = path.join(recordings, KEY_DIR);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(path.join(dir, PRIVATE)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = generateKeyPairSync('ed25519');
    // 'wx': two processes starting at once must not overwrite each other's key.
    writeFileSync(path.join(dir, PRIVATE), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
      flag: 'wx',
    });
    writeFileSync(path.join(dir, PUBLIC), pair.publicKey.export({ type: 'spki', format: 'pem' }), {
      mode: 0o644,
    });
    privateKey = pair.privateKey;
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, id: keyId(publicKey) };
}

/** The public key to verify with: a pinned copy when given (a key replaced in the folder then shows). */
export function verificationKey(recordings: string, pinned?: string): KeyObject | null {
  try {
    return createPublicKey(readFileSync(pinned ?? path.join(recordings, KEY_DIR, PUBLIC)));
  } catch (err) {
    if (!pinned && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read the public key ${pinned}: ${(err as Error).message}`);
  }
}

const signedText = (sessionId: string, seq: number, hash: string) =>
  Buffer.from(`airlock-checkpoint\n${sessionId}\n${seq}\n${hash}`);

export function signCheckpoint(
  key: InstallationKey,
  sessionId: string,
  seq: number,
  hash: string,
): Checkpoint {
  return {
    seq,
    hash,
    key: key.id,
    signature: sign(null, signedText(sessionId, seq, hash), key.privateKey).toString('base64'),
  };
}

/** Null when the checkpoint is good; otherwise what is wrong with it. */
export function checkpointProblem(
  publicKey: KeyObject,
  sessionId: string,
  data: Partial<Checkpoint>,
): string | null {
  if (typeof data.seq !== 'number' || typeof data.hash !== 'string' || typeof data.signature !== 'string') {
    return 'checkpoint is malformed';
  }
  if (data.key !== keyId(publicKey)) return `checkpoint is signed by another key (${String(data.key)})`;
  const ok = verify(
    null,
    signedText(sessionId, data.seq, data.hash),
    publicKey,
    Buffer.from(data.signature, 'base64'),
  );
  return ok ? null : 'checkpoint signature does not verify';
}
