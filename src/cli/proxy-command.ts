import { loadConfig } from '../config/config';
import { streamLogger } from '../core/log';
import { Airlock } from '../engine/airlock';
import { writeReadyFile } from './ready-file';
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
  const airlock = await Airlock.start(config, { log });
  try {
    await airlock.connect();
    await airlock.publishControlChannel(options.config);
  } catch (err) {
    await airlock.close();
    throw err;
  }
  if (options['ready-file']) await writeReadyFile(options['ready-file'], airlock.endpoints);
  log.info(
    `ready: ${airlock.endpoints.length} listener(s)${options['ready-file'] ? `, details in ${options['ready-file']}` : ''}`,
  );
  const signal = await untilSignal();
  log.info(`${signal}: closing listeners and sessions`);
  await airlock.close();
  return 0;
}
