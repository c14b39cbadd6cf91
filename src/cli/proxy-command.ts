import { loadConfig } from '../config/config';
import { streamLogger } from '../core/log';
import { startProxy } from '../proxy/airlock-proxy';
import { writeReadyFile } from './ready-file';
import { untilSignal } from './run-until-signal';
import { UsageError } from './usage-error';

export const proxyUsage = `airlock proxy --config FILE [--ready-file PATH]

Starts a local listener for every connection in FILE (YAML or JSON). When all are up, writes PATH
(mode 0600) with each listener's host, port, user, password and database. Stops on SIGINT/SIGTERM.`;

export async function proxyCommand(options: { config?: string; 'ready-file'?: string }): Promise<number> {
  if (!options.config) throw new UsageError('airlock proxy needs --config FILE', proxyUsage);
  const config = loadConfig(options.config);
  const log = streamLogger(config.logLevel ?? 'info');
  const proxy = await startProxy(config, log);
  if (options['ready-file']) await writeReadyFile(options['ready-file'], proxy.endpoints);
  log.info(
    `ready: ${proxy.endpoints.length} listener(s)${options['ready-file'] ? `, details in ${options['ready-file']}` : ''}`,
  );
  const signal = await untilSignal();
  log.info(`${signal}: closing listeners and sessions`);
  await proxy.close();
  return 0;
}
