import { policySpec, type AirlockConfig } from '../config/config';
import { PolicyGate } from '../core/gate/gate';
import type { Logger } from '../core/log';
import type { ApprovalBroker } from '../core/approvals/broker';
import { PolicySource } from '../core/policy/source';
import { loadSqlParser } from '../core/sql/parser';
import { installationKey } from '../core/recording/checkpoint';
import { installationHashKey } from '../core/masking/hash-key';

/** The policy gate the config names: the parser loaded, the policy source open. */
export async function policyGateFor(
  config: AirlockConfig,
  log: Logger,
  approvals: ApprovalBroker | null,
): Promise<{ gate: PolicyGate; source: PolicySource }> {
  await loadSqlParser();
  const source = await PolicySource.open(policySpec(config), log);
  if (config.policy === 'allow-all')
    log.warn('policy allow-all: every statement is allowed. Use it for development only.');
  return { gate: new PolicyGate(source, approvals, log), source };
}

/**
 * The key hash masks use unless the policy names one: derived from the key that signs the recordings, so
 * every run on this machine hashes alike and nothing new is stored; without recordings, this run's own.
 */
export function maskingHashKey(config: AirlockConfig): Buffer | undefined {
  return config.recordings ? installationHashKey(installationKey(config.recordings).privateKey) : undefined;
}
