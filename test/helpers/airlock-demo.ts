import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { CLI } from './airlock-cli';
import { runProgram, type ProgramResult } from './clients';
import { sharedCluster } from './global-fixtures';
import { repoRoot } from './policy-fixtures';
import { runProcesses } from './test-run';

/**
 * `airlock demo` as people run it: the built CLI in a child process without a desktop (no DISPLAY), its
 * output read as a person reads it, Ctrl-C (SIGINT) to stop it.
 */
export class DemoUnderTest {
  private stdout = '';
  private stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (b: Buffer) => (this.stdout += b.toString('utf8')));
    child.stderr?.on('data', (b: Buffer) => (this.stderr += b.toString('utf8')));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(args: string[] = []): DemoUnderTest {
    const env = { ...process.env };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    return new DemoUnderTest(
      spawn(process.execPath, [CLI, 'demo', ...args], {
        cwd: repoRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  }

  get output(): string {
    return this.stdout;
  }

  /**
   * Resolves with the first match of `pattern` in the output; rejects when the demo exits first. No
   * count of polls of its own: the test's timeout bounds the wait.
   */
  async waitFor(pattern: RegExp, what: string): Promise<RegExpExecArray> {
    for (;;) {
      const m = pattern.exec(this.stdout);
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(
          `the demo exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The address a person opens to sign in in a browser. */
  async authorizationUrl(): Promise<URL> {
    const m = await this.waitFor(/^ {2}(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)$/m, 'the sign-in address');
    return new URL(m[1]);
  }

  /** The device code and where to enter it. */
  async deviceCode(): Promise<{ verificationUri: string; userCode: string }> {
    const m = await this.waitFor(/open (\S+) on any device and enter the code (\S+)\n/, 'the device code');
    return { verificationUri: m[1], userCode: m[2] };
  }

  /** The psql line printed once the proxy runs for the signed-in person. */
  async psqlLine(): Promise<{ password: string; conninfo: string }> {
    const m = await this.waitFor(/PGPASSWORD='([^']+)' psql "([^"]+)"/, 'the psql line');
    return { password: m[1], conninfo: m[2] };
  }

  /** Runs one statement with psql through the printed line (verbose errors: the SQLSTATE shows). */
  async psql(sql: string): Promise<ProgramResult> {
    const { password, conninfo } = await this.psqlLine();
    return runProgram(
      sharedCluster(),
      'psql',
      ['-X', '-A', '-t', '-v', 'VERBOSITY=verbose', '-c', sql, conninfo],
      { PGPASSWORD: password },
    );
  }

  /** Ctrl-C; resolves with the exit code. */
  async interrupt(): Promise<number | null> {
    this.child.kill('SIGINT');
    return this.exited;
  }

  /** For after hooks: stops it however the test ended (a second SIGINT exits at once, as for a person). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGINT'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }

  get errors(): string {
    return this.stderr;
  }
}

/** What the run owns now (its processes, its temp dir's entries): a demo must leave both as it found them. */
export function runFootprint(): { processes: Set<number>; temp: Set<string> } {
  return {
    processes: new Set(runProcesses().map((p) => p.pid)),
    temp: new Set(readdirSync(os.tmpdir())),
  };
}

/** What appeared since `before` and is still there. */
export function newSince(before: ReturnType<typeof runFootprint>): string[] {
  const now = runProcesses().filter((p) => !before.processes.has(p.pid));
  const temp = readdirSync(os.tmpdir()).filter((e) => !before.temp.has(e));
  return [...now.map((p) => `process ${p.pid}: ${p.command}`), ...temp.map((e) => `temp entry ${e}`)];
}
