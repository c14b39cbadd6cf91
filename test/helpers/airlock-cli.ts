import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './policy-fixtures';

/** The bundled CLI, built by `npm test` before the tests run. */
export const CLI = path.join(repoRoot, 'dist', 'cli.js');

export interface CliResult {
  /** The exit code (1 when the process died of a signal or the timeout). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `airlock ARGS` (dist/cli.js) to its end. */
export function runAirlock(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: repoRoot, env: options.env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ code: err ? (typeof code === 'number' ? code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * Resolves once `airlock proxy --ready-file FILE` has written FILE, or when the proxy exits first (the
 * caller's check of the file then says why). No count of polls of its own: a busy machine may need
 * longer than any fixed budget, and the test's timeout bounds the wait.
 */
export async function untilReady(file: string, proxy: ChildProcess): Promise<void> {
  while (!existsSync(file) && proxy.exitCode === null && proxy.signalCode === null)
    await new Promise((r) => setTimeout(r, 50));
}
