import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const LOCK = 'writer.pid';
/** Folders this process writes: a second recorder on one of them is refused like another process's. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process writing the recordings folder, if one is running. */
export function liveWriter(dir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dir, LOCK), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (pid === process.pid) return held.has(path.resolve(dir)) ? pid : null;
  return alive(pid) ? pid : null;
}

/**
 * One writer per recordings folder: start-up recovery closes sessions it finds unfinished, which would
 * be wrong for a live writer's sessions. A lock left by a killed process is taken over.
 */
export class WriterLock {
  private constructor(private readonly dir: string) {}

  static acquire(dir: string): WriterLock {
    const key = path.resolve(dir);
    const holder = liveWriter(dir);
    if (holder !== null) {
      throw new Error(
        `the recordings folder ${dir} is in use by ${holder === process.pid ? 'this process' : `process ${holder}`} (another Airlock proxy); give each proxy its own recordings folder`,
      );
    }
    writeFileSync(path.join(dir, LOCK), `${process.pid}\n`, { mode: 0o600 });
    held.add(key);
    return new WriterLock(key);
  }

  release(): void {
    if (!held.delete(this.dir)) return;
    try {
      if (Number(readFileSync(path.join(this.dir, LOCK), 'utf8').trim()) === process.pid)
        unlinkSync(path.join(this.dir, LOCK));
    } catch {
      // Already gone: nothing to release.
    }
  }
}
