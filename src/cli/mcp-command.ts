import os from 'node:os';
import path from 'node:path';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { loadConfig } from '../config/config';
import { ApprovalQueue } from '../core/approvals/queue';
import { streamLogger, type Logger } from '../core/log';
import { localBackend, type AgentBackend, type AirlockServices } from '../agents/backend';
import { channelBackend } from '../agents/channel-backend';
import { gateServices } from '../agents/gate-services';
import { createMcpServer } from '../agents/mcp-server';
import { closeAgentSessions } from '../agents/sessions';
import { policyGateFor, startProxy } from '../proxy/airlock-proxy';
import {
  ControlChannelClient,
  ControlChannelInUseError,
  startControlChannel,
  type ControlChannel,
} from '../proxy/control-channel';
import { logPendingReviews } from './review-log';
import { UsageError } from './usage-error';
import { version } from '../../package.json';

export const mcpUsage = `airlock mcp --config FILE

An MCP server on stdin/stdout with Airlock's agent tools (list_connections, describe_schema, run_query,
explain_query). When an Airlock already runs FILE (VS Code, airlock proxy), the tools go through it, so its
approval panel sees the reviews; otherwise this process starts the proxy itself. Either way every statement
goes through Airlock's gate, masking and recording. Logs go to stderr.`;

interface Engine {
  backend: AgentBackend;
  close(): Promise<void>;
}

/** Uses the Airlock that runs `configFile`, if one publishes its control channel. */
async function viaControlChannel(configFile: string, log: Logger): Promise<Engine | null> {
  const client = `airlock mcp (pid ${process.pid})`;
  const first = await ControlChannelClient.connect(configFile, { client });
  if (!first) return null;
  log.info(
    `using the Airlock running ${first.hello.configFile} (pid ${first.hello.pid}) through its control channel`,
  );
  let current = first;
  const backend = channelBackend(first, async () => {
    const next = await ControlChannelClient.connect(configFile, { client });
    if (next) current = next;
    return next;
  });
  return {
    backend,
    close: async () => {
      await closeAgentSessions(backend);
      current.close();
    },
  };
}

/** No Airlock runs the config: start the proxy in this process, and publish its control channel. */
async function embedded(configFile: string, log: Logger): Promise<Engine> {
  const config = loadConfig(configFile);
  const identity = { user: os.userInfo().username, groups: [] as string[] };
  const approvals = new ApprovalQueue(() => identity.user);
  const { gate, source } = await policyGateFor(config, log, approvals);
  let proxy;
  try {
    proxy = await startProxy(config, log, { gate, identity });
  } catch (err) {
    source.close();
    throw err;
  }
  const running = proxy;
  const services: AirlockServices = {
    connections: () => config.connections.map((c) => c.name),
    endpoints: () => running.endpoints,
    ...gateServices(gate, identity),
  };
  let channel: ControlChannel | null = null;
  try {
    channel = await startControlChannel({ configFile, ...services, approvals, log });
  } catch (err) {
    log.warn(
      `${err instanceof ControlChannelInUseError ? err.message : `control channel not published: ${(err as Error).message}`}; reviews of this server can only time out`,
    );
  }
  const stopLogging = logPendingReviews(approvals, log, channel ? configFile : null);
  log.info(`running Airlock embedded for ${configFile}: ${running.endpoints.length} listener(s)`);
  const backend = localBackend(services);
  return {
    backend,
    close: async () => {
      stopLogging();
      await closeAgentSessions(backend);
      await channel?.close();
      await running.close();
      source.close();
    },
  };
}

export async function mcpCommand(options: { config?: string }): Promise<number> {
  if (!options.config) throw new UsageError('airlock mcp needs --config FILE', mcpUsage);
  const configFile = path.resolve(options.config);
  // Validates the file (a clear error before the client's handshake) and gives the log level.
  const config = loadConfig(configFile);
  // stdout carries the MCP protocol: every log line goes to stderr.
  const log = streamLogger(config.logLevel ?? 'info', process.stderr);
  const engine = (await viaControlChannel(configFile, log)) ?? (await embedded(configFile, log));
  const mcp = createMcpServer(engine.backend, log, version);
  const transport = new StdioServerTransport();
  const closed = new Promise<string>((resolve) => {
    transport.onclose = () => resolve('the client closed the connection');
    process.stdin.once('end', () => resolve('stdin closed'));
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  mcp.server.oninitialized = () => {
    const c = mcp.server.getClientVersion();
    log.info(`MCP client ${c?.name ?? '?'} ${c?.version ?? ''} connected`);
  };
  await mcp.connect(transport);
  const why = await closed;
  log.info(`${why}: stopping`);
  await mcp.close().catch(() => undefined);
  await engine.close();
  return 0;
}
