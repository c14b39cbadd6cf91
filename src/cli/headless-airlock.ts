import os from 'node:os';
import type { AirlockConfig } from '../config/config';
import { ApprovalQueue } from '../core/approvals/queue';
import type { Logger } from '../core/log';
import type { AirlockServices } from '../agents/backend';
import { gateServices } from '../agents/gate-services';
import { policyGateFor, startProxy, type RunningProxy } from '../proxy/airlock-proxy';
import { ControlChannelInUseError, startControlChannel } from '../proxy/control-channel';
import { logPendingReviews } from './review-log';

export interface HeadlessAirlock {
  proxy: RunningProxy;
  services: AirlockServices;
  close(): Promise<void>;
}

/**
 * Airlock without VS Code (`airlock proxy`, the embedded `airlock mcp`): the proxy, and its control
 * channel, through which agents' MCP servers use its listeners and `airlock approvals` decides the
 * reviews that wait in its queue (without a channel they can only time out).
 */
export async function startHeadlessAirlock(
  config: AirlockConfig,
  configFile: string,
  log: Logger,
): Promise<HeadlessAirlock> {
  const identity = { user: os.userInfo().username, groups: [] as string[] };
  const approvals = new ApprovalQueue(() => identity.user);
  const { gate, source } = await policyGateFor(config, log, approvals);
  let proxy: RunningProxy;
  try {
    proxy = await startProxy(config, log, { gate, identity });
  } catch (err) {
    source.close();
    throw err;
  }
  const services: AirlockServices = {
    connections: () => config.connections.map((c) => c.name),
    endpoints: () => proxy.endpoints,
    ...gateServices(gate, identity, (name) => proxy.connectionServices(name)),
  };
  const channel = await startControlChannel({ configFile, ...services, approvals, log }).catch(
    (err: Error) => {
      log.warn(
        `${err instanceof ControlChannelInUseError ? err.message : `control channel not published: ${err.message}`}; reviews here can only time out`,
      );
      return null;
    },
  );
  const stopLogging = logPendingReviews(approvals, log, channel ? configFile : null);
  return {
    proxy,
    services,
    close: async () => {
      stopLogging();
      await channel?.close();
      await proxy.close();
      source.close();
    },
  };
}
