import { startCluster, type PostgresCluster } from '../../src/demo/postgres-cluster';
import { finishRun } from './test-run';

/**
 * One throwaway PostgreSQL 15 cluster for the whole mocha run (TLS on, SCRAM-SHA-256), started before the
 * first test and removed after the last. Tests that need a differently configured server start their own.
 * The run's temp folder, its interruption handling and the end-of-run check for leftovers are in
 * test-run.ts (imported here, so set up when mocha loads this file, before any test file).
 */
let cluster: PostgresCluster | null = null;

export async function mochaGlobalSetup(): Promise<void> {
  cluster = await startCluster();
}

export async function mochaGlobalTeardown(): Promise<void> {
  await cluster?.stop();
  cluster = null;
  finishRun();
}

export function sharedCluster(): PostgresCluster {
  if (!cluster)
    throw new Error('the shared PostgreSQL cluster is not running (mocha global setup did not run)');
  return cluster;
}
