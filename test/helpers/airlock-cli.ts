import { execFile } from 'node:child_process';
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
