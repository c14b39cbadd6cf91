import path from 'node:path';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { loadConfig } from '../config/config';
import { streamLogger, type Logger } from '../core/log';
import { localBackend, type AgentBackend } from '../agents/backend';
import { channelBackend } from '../ipc/channel-backend';
import { createMcpServer } from '../agents/mcp-server';
import { closeAgentSessions } from '../agents/sessions';
import { ControlChannelClient } from '../ipc/control-channel';
import { Airlock } from '../engine/airlock';
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
  const airlock = await Airlock.start(loadConfig(configFile), { log });
  try {
    await airlock.connect();
    await airlock.publishControlChannel(configFile);
  } catch (err) {
    await airlock.close();
    throw err;
  }
  log.info(`running Airlock embedded for ${configFile}: ${airlock.endpoints.length} listener(s)`);
  const backend = localBackend(airlock.services, 'mcp');
  return {
    backend,
    close: async () => {
      await closeAgentSessions(backend);
      await airlock.close();
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
