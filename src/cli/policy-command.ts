import { readFile, writeFile } from 'node:fs/promises';
import type { JSONWebKeySet, JWK } from 'jose';
import { parsePolicy, type PolicyDocument } from '../core/policy/document';
import { AGENT_CHANNELS, type Actor, type AgentChannel } from '../core/identity/actor';
import { PolicyGate } from '../core/gate/gate';
import { silentLogger } from '../core/log';
import { PRESETS, isPreset } from '../core/policy/presets';
import { generateSigningKey, signPolicyBundle, verifyPolicyBundle } from '../core/policy/bundle';
import { loadSqlParser } from '../core/sql/parser';
import { UsageError } from './usage-error';
import { writeText } from './human-output';

export const policyUsage = `airlock policy explain --policy P [--connection NAME] [--user U] [--agent A [--channel mcp|lm-tool]] "SQL"
airlock policy sign --key PRIVATE.jwk.json --in POLICY.yaml --out BUNDLE.jws [--ttl SECONDS]
airlock policy keygen --kid ID --key PRIVATE.jwk.json --jwks PUBLIC.jwks.json

explain: prints, per statement, what Airlock sees (kind, relations, functions, flags), which rule
decides and why, and what masking adds: the gate's own decision, offline (no database catalog, so a
user function that shadows a built-in is not known; the agents' explain tool reads the catalog). P is a preset (read-only, allow-all), a .yaml/.json policy file, or a .jws bundle
(with --jwks). An --agent name is taken as claimed (as a terminal client's application_name) unless
--channel names the agent adapter it came through.
sign:    makes a signed policy bundle (JWS, default lifetime 1 day) from a policy file.
keygen:  makes an Ed25519 signing key and the JWKS that pins it (for policyKeys).`;

export interface PolicyOptions {
  policy?: string;
  connection?: string;
  user?: string;
  agent?: string;
  channel?: string;
  key?: string;
  kid?: string;
  jwks?: string;
  in?: string;
  out?: string;
  ttl?: string;
}

async function loadPolicy(spec: string, jwksFile?: string): Promise<PolicyDocument> {
  if (isPreset(spec)) return PRESETS[spec];
  const text = await readFile(spec, 'utf8');
  if (/\.(jws|jwt)$/.test(spec)) {
    if (!jwksFile) throw new UsageError('a .jws bundle needs --jwks to be verified', policyUsage);
    const jwks = JSON.parse(await readFile(jwksFile, 'utf8')) as JSONWebKeySet;
    return (await verifyPolicyBundle(text, jwks)).policy;
  }
  return parsePolicy(text, spec);
}

export async function policyCommand(
  sub: string | undefined,
  positional: string[],
  o: PolicyOptions,
): Promise<number> {
  switch (sub) {
    case 'explain':
      return explain(positional.join(' '), o);
    case 'sign': {
      if (!o.key || !o.in || !o.out)
        throw new UsageError('policy sign needs --key, --in and --out', policyUsage);
      const policy = parsePolicy(await readFile(o.in, 'utf8'), o.in);
      const key = JSON.parse(await readFile(o.key, 'utf8')) as JWK;
      const ttl = Number(o.ttl ?? 86_400);
      if (!Number.isInteger(ttl) || ttl <= 0)
        throw new UsageError('--ttl takes a whole number of seconds', policyUsage);
      await writeFile(o.out, (await signPolicyBundle(policy, key, { kid: o.kid, ttlSeconds: ttl })) + '\n');
      process.stdout.write(`signed ${o.in} → ${o.out} (valid ${ttl} s)\n`);
      return 0;
    }
    case 'keygen': {
      if (!o.kid || !o.key || !o.jwks)
        throw new UsageError('policy keygen needs --kid, --key and --jwks', policyUsage);
      const { privateJwk, jwks } = await generateSigningKey(o.kid);
      await writeFile(o.key, JSON.stringify(privateJwk, null, 2) + '\n', { mode: 0o600 });
      await writeFile(o.jwks, JSON.stringify(jwks, null, 2) + '\n');
      process.stdout.write(`private key → ${o.key} (mode 0600), public JWKS → ${o.jwks}\n`);
      return 0;
    }
    default:
      throw new UsageError(sub ? `unknown policy command "${sub}"` : 'policy needs a command', policyUsage);
  }
}

async function explain(sql: string, o: PolicyOptions): Promise<number> {
  if (!o.policy || !sql.trim())
    throw new UsageError('policy explain needs --policy and the SQL', policyUsage);
  const policy = await loadPolicy(o.policy, o.jwks);
  await loadSqlParser();
  const channel = o.channel as AgentChannel | undefined;
  if (channel !== undefined && (!AGENT_CHANNELS.includes(channel) || !o.agent))
    throw new UsageError(`--channel takes ${AGENT_CHANNELS.join(' or ')}, with --agent`, policyUsage);
  const actor: Actor = { user: o.user ?? 'you', groups: [], agent: o.agent, ...(channel ? { channel } : {}) };
  // The gate's own pipeline, offline: no database catalog, nothing prepared, no reviewer asked.
  const gate = new PolicyGate(
    { state: () => ({ ok: true, active: { policy, id: o.policy as string } }) },
    null,
    silentLogger,
  );
  const context = { connection: o.connection ?? 'default', sessionId: 'explain', actor };
  const { text, effect } = gate.explain(context, { kind: 'sql', text: sql });
  writeText(
    process.stdout,
    `${text}\ncatalog: none (offline: functions and columns are known by name only; a running Airlock's explain reads the database's)\n`,
  );
  return effect === 'deny' ? 1 : 0;
}
