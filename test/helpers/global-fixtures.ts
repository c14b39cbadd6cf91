import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, type PostgresCluster } from '../../src/demo/postgres-cluster';

/**
 * One throwaway PostgreSQL 15 cluster for the whole mocha run (TLS on, SCRAM-SHA-256), started before the
 * first test and removed after the last. Tests that need a differently configured server start their own.
 *
 * The run also gets a temp folder of its own (TMPDIR, so os.tmpdir() in the tests and in the programs
 * they start): whatever a test leaves there, also when it fails, is removed with the run.
 */
let cluster: PostgresCluster | null = null;
// Set when mocha loads this file (its --require), before any test file runs its top-level code.
let runTmp: string | null = mkdtempSync(path.join(os.tmpdir(), 'airlock-test-run-'));
process.env.TMPDIR = runTmp;

export async function mochaGlobalSetup(): Promise<void> {
  cluster = await startCluster();
}

export async function mochaGlobalTeardown(): Promise<void> {
  await cluster?.stop();
  cluster = null;
  if (runTmp) rmSync(runTmp, { recursive: true, force: true });
  runTmp = null;
}

export function sharedCluster(): PostgresCluster {
  if (!cluster)
    throw new Error('the shared PostgreSQL cluster is not running (mocha global setup did not run)');
  return cluster;
}
