import type { PolicyDocument } from './document';
import { GATED_FLAGS, anyGlob } from './evaluate';

/** Built-in policies the config can name instead of a file. */
export const PRESETS: Record<'allow-all' | 'read-only', PolicyDocument> = {
  'allow-all': {
    version: 1,
    name: 'allow-all',
    description: 'Everything is allowed. For development only.',
    rules: [
      {
        name: 'allow-everything',
        effect: 'allow',
        when: {
          functions: ['*'],
          flags: [...GATED_FLAGS],
        },
      },
    ],
  },
  'read-only': {
    version: 1,
    name: 'read-only',
    description:
      'Reads only: queries, catalog introspection, EXPLAIN without ANALYZE, SHOW, read-only transactions.',
    rules: [
      { name: 'reads', effect: 'allow', when: { kinds: ['read'] } },
      {
        name: 'session-and-transactions',
        description: 'SET of ordinary settings, LISTEN, DISCARD; BEGIN/COMMIT/ROLLBACK (never READ WRITE).',
        effect: 'allow',
        when: { kinds: ['session', 'transaction'] },
      },
    ],
  },
};

export type PresetName = keyof typeof PRESETS;
export const isPreset = (name: string): name is PresetName =>
  Object.prototype.hasOwnProperty.call(PRESETS, name);

/**
 * Whether a policy can allow anything beyond reads for this connection. When it cannot, the upstream
 * session itself is made read-only as a second line of defence.
 */
export function allowsWrites(policy: PolicyDocument, connection: string): boolean {
  const readish = new Set(['read', 'session', 'transaction']);
  return policy.rules.some((r) => {
    if (r.effect === 'deny') return false;
    const w = r.when ?? {};
    if (w.connections && !anyGlob(w.connections, connection)) return false;
    return (
      !w.kinds ||
      w.kinds.some((k) => !readish.has(k)) ||
      (w.flags?.length ?? 0) > 0 ||
      (w.functions?.length ?? 0) > 0
    );
  });
}
