import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { JSONWebKeySet } from 'jose';
import type { Logger } from '../log';
import { parsePolicy, type PolicyDocument } from './document';
import { PRESETS, type PresetName } from './presets';
import { verifyPolicyBundle, type VerifiedBundle } from './bundle';

/** Where the policy comes from, as the config names it. */
export type PolicySpec =
  | { kind: 'preset'; name: PresetName }
  | { kind: 'file'; path: string }
  | { kind: 'bundle'; location: string; jwksFile: string; refreshMs: number };

export interface ActivePolicy {
  policy: PolicyDocument;
  /** What recordings cite: preset name, file hash or bundle hash. */
  id: string;
  /** Epoch ms after which this policy must no longer be used (signed bundles). */
  expiresAt?: number;
}

export type PolicyState = { ok: true; active: ActivePolicy } | { ok: false; reason: string };

/** What the engine needs of any policy source: this file's, or the control plane's (per connection). */
export interface PolicyStateSource {
  state(now?: number): PolicyState;
  close(): void;
}

const isUrl = (s: string) => /^https?:\/\//.test(s);

async function fetchText(location: string): Promise<string> {
  if (!isUrl(location)) return readFile(location, 'utf8');
  const res = await fetch(location, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${location} answered ${res.status}`);
  return res.text();
}

/**
 * The policy in force. Presets and unsigned files are fixed at start; a signed bundle is re-read every
 * refresh interval, the last good one is kept while a refresh fails, and once it expires every
 * statement is denied until a valid bundle arrives (fail closed).
 */
export class PolicySource implements PolicyStateSource {
  private active: ActivePolicy | null = null;
  private lastError = '';
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly spec: PolicySpec,
    private readonly log: Logger,
  ) {}

  static async open(spec: PolicySpec, log: Logger): Promise<PolicySource> {
    const source = new PolicySource(spec, log);
    switch (spec.kind) {
      case 'preset':
        source.active = { policy: PRESETS[spec.name], id: `preset:${spec.name}` };
        break;
      case 'file': {
        const text = await readFile(spec.path, 'utf8');
        const id = 'sha256:' + createHash('sha256').update(text).digest('hex');
        source.active = { policy: parsePolicy(text, spec.path), id };
        log.warn(`policy from unsigned file ${spec.path} (allowUnsignedPolicy is set)`);
        break;
      }
      case 'bundle': {
        const jwks = JSON.parse(await readFile(spec.jwksFile, 'utf8')) as JSONWebKeySet;
        if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) {
          throw new Error(`${spec.jwksFile} holds no keys (expected a JWKS: {"keys": [...]})`);
        }
        await source.refresh(jwks);
        source.timer = setInterval(() => void source.refresh(jwks), spec.refreshMs);
        source.timer.unref();
        break;
      }
    }
    return source;
  }

  private async refresh(jwks: JSONWebKeySet): Promise<void> {
    if (this.spec.kind !== 'bundle') return;
    let bundle: VerifiedBundle;
    try {
      bundle = await verifyPolicyBundle(await fetchText(this.spec.location), jwks);
    } catch (err) {
      this.lastError = `${this.spec.location}: ${(err as Error).message}`;
      this.log.warn(
        `policy refresh failed: ${this.lastError}${this.active ? '; keeping the last good bundle' : ''}`,
      );
      return;
    }
    if (this.active && this.active.id === bundle.id) return;
    this.active = { policy: bundle.policy, id: bundle.id, expiresAt: bundle.expiresAt * 1000 };
    this.lastError = '';
    this.log.info(
      `policy "${bundle.policy.name ?? 'unnamed'}" in force (bundle ${bundle.id.slice(0, 19)}…, key ${bundle.kid}, expires ${new Date(bundle.expiresAt * 1000).toISOString()})`,
    );
  }

  state(now = Date.now()): PolicyState {
    const a = this.active;
    if (!a) return { ok: false, reason: `no valid policy is available (${this.lastError || 'not loaded'})` };
    return activeState(a, this.lastError, now);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** A policy in force until its `exp`; past it, denied with when it expired and why refreshing failed. */
export function activeState(active: ActivePolicy, lastError: string, now: number): PolicyState {
  if (active.expiresAt !== undefined && now >= active.expiresAt) {
    return {
      ok: false,
      reason: `the policy bundle expired at ${new Date(active.expiresAt).toISOString()}${lastError ? ` and refreshing failed: ${lastError}` : ''}`,
    };
  }
  return { ok: true, active };
}
