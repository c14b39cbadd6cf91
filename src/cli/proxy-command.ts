import os from 'node:os';
import { loadConfig } from '../config/config';
import { ApprovalQueue } from '../core/approvals/queue';
import { streamLogger } from '../core/log';
import { gateServices } from '../agents/gate-services';
import { policyGateFor, startProxy } from '../proxy/airlock-proxy';
import { ControlChannelInUseError, startControlChannel, type ControlChannel } from '../proxy/control-channel';
import { writeReadyFile } from './ready-file';
import { logPendingReviews } from './review-log';
import { untilSignal } from './run-until-signal';
import { UsageError } from './usage-error';

export const proxyUsage = `airlock proxy --config FILE [--ready-file PATH]

Starts a local listener for every connection in FILE (YAML or JSON). When all are up, writes PATH
(mode 0600) with each listener's host, port, user, password and database. Publishes the control channel
(a private Unix socket) through which \`airlock mcp --config FILE\` uses these listeners and
\`airlock approvals --config FILE\` decides reviews. Stops on SIGINT/SIGTERM.`;

export async function proxyCommand(options: { config?: string; 'ready-file'?: string }): Promise<number> {
  if (!options.config) throw new UsageError('airlock proxy needs --config FILE', proxyUsage);
  const config = loadConfig(options.config);
  const log = streamLogger(config.logLevel ?? 'info');
  const identity = { user: os.userInfo().username, groups: [] as string[] };
  // Reviews wait in a queue that clients of the control channel watch and decide.
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
  let channel: ControlChannel | null = null;
  try {
    channel = await startControlChannel({
      configFile: options.config,
      connections: () => config.connections.map((c) => c.name),
      endpoints: () => running.endpoints,
      ...gateServices(gate, identity),
      approvals,
      log,
    });
  } catch (err) {
    // The proxy works without it; only reviews cannot be decided from outside.
    log.warn(
      err instanceof ControlChannelInUseError
        ? `${err.message}: this proxy publishes no control channel`
        : `control channel not published: ${(err as Error).message}`,
    );
  }
  const stopLogging = logPendingReviews(approvals, log, channel ? options.config : null);
  if (options['ready-file']) await writeReadyFile(options['ready-file'], running.endpoints);
  log.info(
    `ready: ${running.endpoints.length} listener(s)${options['ready-file'] ? `, details in ${options['ready-file']}` : ''}`,
  );
  const signal = await untilSignal();
  log.info(`${signal}: closing listeners and sessions`);
  stopLogging();
  await channel?.close();
  await running.close();
  source.close();
  return 0;
}
