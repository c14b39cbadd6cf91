import pg from 'pg';
import type { PostgresCluster } from '../../src/demo/postgres-cluster';
import type { LocalEndpoint } from '../../src/proxy/listeners';
import { Airlock } from '../../src/engine/airlock';
import type { AirlockConfig, ConnectionConfig } from '../../src/config/config';
import { silentLogger, type Logger } from '../../src/core/log';
import type { Gate } from '../../src/core/gate/gate';
import type { ApprovalBroker } from '../../src/core/approvals/broker';

export interface ProxyUnderTest {
  proxy: Airlock;
  endpoint: LocalEndpoint;
  /** libpq-style environment for psql, pgbench, pg_dump through the proxy. */
  env: NodeJS.ProcessEnv;
  /** A node-postgres client connected through the proxy. */
  connect(extra?: Partial<pg.ClientConfig>): Promise<pg.Client>;
  close(): Promise<void>;
}

/**
 * Starts Airlock in-process in front of `cluster`, with the upstream password in an environment variable
 * named after the port (so parallel proxies never share one).
 */
export async function proxyFor(
  cluster: PostgresCluster,
  options: {
    database?: string;
    sslmode?: string;
    connection?: Partial<ConnectionConfig>;
    config?: Partial<AirlockConfig>;
    log?: Logger;
    gate?: Gate;
    approvals?: ApprovalBroker;
  } = {},
): Promise<ProxyUnderTest> {
  const envName = `AIRLOCK_TEST_PW_${cluster.port}`;
  process.env[envName] = cluster.password;
  const sslmode = options.sslmode ?? 'require';
  const root = sslmode.startsWith('verify') ? `&sslrootcert=${encodeURIComponent(cluster.caFile)}` : '';
  const config: AirlockConfig = {
    policy: 'allow-all',
    ...options.config,
    connections: [
      {
        name: 'test',
        kind: 'postgres',
        upstream: `postgres://${cluster.user}@${cluster.host}:${cluster.port}/${options.database ?? 'postgres'}?sslmode=${sslmode}${root}`,
        passwordEnv: envName,
        listen: '127.0.0.1:0',
        ...options.connection,
      },
    ],
  };
  const proxy = await Airlock.start(config, {
    log: options.log ?? silentLogger,
    gate: options.gate,
    // Without a broker of the test's own, statements that need review are denied (nobody is there).
    approvals: options.approvals ?? null,
  });
  try {
    await proxy.connect();
  } catch (err) {
    await proxy.close();
    throw err;
  }
  const endpoint = proxy.endpoints[0];
  const env = {
    PGHOST: endpoint.host,
    PGPORT: String(endpoint.port),
    PGUSER: endpoint.user,
    PGPASSWORD: endpoint.password,
    PGDATABASE: endpoint.database,
    PGSSLMODE: 'disable',
  };
  return {
    proxy,
    endpoint,
    env,
    connect: async (extra = {}) => {
      const client = new pg.Client({
        host: endpoint.host,
        port: endpoint.port,
        user: endpoint.user,
        password: endpoint.password,
        database: endpoint.database,
        ...extra,
      });
      await client.connect();
      return client;
    },
    close: () => proxy.close(),
  };
}
