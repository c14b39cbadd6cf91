import { parseAndValidate } from '../validate';
import { STATEMENT_KINDS } from '../sql/facts';
import { DANGER_CATEGORIES } from '../sql/function-catalog';
import { BUILTIN_DETECTORS, dictionaryDetector, regexDetector } from '../masking/detectors';
import { HASH_KEY_HINT, hashKeyProblem } from '../masking/hash-key';
import type { Obligations } from './obligations';

export type { Obligations };

/**
 * The policy document: ordered rules that match statements and say allow, deny or review. Deny
 * overrides review, review overrides allow, and a statement no rule allows is denied.
 */
export interface PolicyDocument {
  version: 1;
  name?: string;
  description?: string;
  rules: PolicyRule[];
  masking?: MaskingPolicy;
  recording?: RecordingPolicy;
}

export interface RecordingPolicy {
  /**
   * Bind parameter values in recordings: `none` (default) records how many there were, `all` their
   * values (except for statements that compute, filter or write with a masked column).
   */
  parameters?: 'none' | 'all';
}

export type MaskStyleName = 'redact' | 'partial' | 'hash' | 'null';
export type LineageAction = 'deny' | 'review';

/**
 * What is masked in everything the server sends back: columns (by name glob or tag), and content found
 * by detectors in any text value. A masked column that flows into an expression, a predicate or a
 * write gets the lineage action, since the wire cannot mask what the server computed from it.
 */
export interface MaskingPolicy {
  /**
   * Key for `hash` masks (joins on hashed values line up under the same key); without one, the
   * installation's own key (masking/hash-key.ts). A published or short key is refused.
   */
  hashKey?: string;
  /** Named column sets: tag → `schema.table.column` globs. */
  tags?: Record<string, string[]>;
  columns?: Array<{ columns?: string[]; tags?: string[]; mask: MaskStyleName }>;
  content?: {
    /** Built-in detectors to run on every text value, or `all`. */
    detectors: string[] | 'all';
    /** Default mask for content findings. */
    mask?: MaskStyleName;
    custom?: Array<{ name: string; pattern?: string; words?: string[]; mask?: MaskStyleName }>;
    /** Connections whose results are scanned (globs; default all). */
    connections?: string[];
  };
  lineage?: { expression?: LineageAction; predicate?: LineageAction; write?: LineageAction };
}

export type Effect = 'allow' | 'deny' | 'review';

export interface RuleConditions {
  connections?: string[];
  users?: string[];
  groups?: string[];
  agents?: string[];
  kinds?: Array<(typeof STATEMENT_KINDS)[number]>;
  commands?: string[];
  /** allow/review: every relation must match one; deny: any relation matching is enough. */
  relations?: string[];
  /** allow/review: functions not known safe that the rule permits; deny: any matching function. */
  functions?: string[];
  /** allow/review: dangerous properties the rule permits; deny: any present. */
  flags?: string[];
}

export interface ReviewSettings {
  /** `self` (the person at the keyboard) or `group:NAME`. */
  approvers: string[];
  /** How long the statement waits for a decision, e.g. "5m". Past it, the statement is denied. */
  timeout?: string;
}

export interface PolicyRule {
  name: string;
  description?: string;
  effect: Effect;
  when?: RuleConditions;
  review?: ReviewSettings;
  obligations?: Obligations;
  /** Shown to the client on a denial (what and why), and the hint (what to do). */
  message?: string;
  hint?: string;
}

const globs = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 };
const duration = { type: 'string', pattern: '^\\d+(ms|s|m|h)$', description: 'e.g. 500ms, 30s, 5m, 1h' };

export const FLAGS = [
  'explain-analyze',
  'creates-table',
  'row-lock',
  'writable-cte',
  'server-file',
  'server-program',
  'read-write-transaction',
  'security-setting',
  'opaque-code',
  'executes-prepared',
  'two-phase',
] as const;

export const policySchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Airlock policy',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'rules'],
  properties: {
    version: { const: 1 },
    name: { type: 'string' },
    description: { type: 'string' },
    recording: {
      type: 'object',
      additionalProperties: false,
      description: 'What recordings keep of each statement.',
      properties: {
        parameters: {
          enum: ['none', 'all'],
          description:
            'Bind parameter values: none (default: only their number) or all (never for statements on masked columns).',
        },
      },
    },
    masking: {
      type: 'object',
      additionalProperties: false,
      description: 'What is masked in results, errors, notices and COPY data.',
      properties: {
        hashKey: {
          type: 'string',
          description:
            "Key for hash masks: at least 16 bytes of random data, never a published one. Omit it to use this installation's own key.",
        },
        tags: {
          type: 'object',
          additionalProperties: {
            type: 'array',
            items: { type: 'string', pattern: '^[^.]+\\.[^.]+\\.[^.]+$' },
          },
          description: 'Named column sets: tag → schema.table.column globs.',
        },
        columns: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['mask'],
            properties: {
              columns: {
                type: 'array',
                minItems: 1,
                items: { type: 'string', pattern: '^[^.]+\\.[^.]+\\.[^.]+$' },
              },
              tags: { type: 'array', minItems: 1, items: { type: 'string' } },
              mask: { enum: ['redact', 'partial', 'hash', 'null'] },
            },
          },
        },
        content: {
          type: 'object',
          additionalProperties: false,
          required: ['detectors'],
          properties: {
            detectors: {
              oneOf: [
                { const: 'all' },
                {
                  type: 'array',
                  items: { enum: [...BUILTIN_DETECTORS] },
                },
              ],
            },
            mask: { enum: ['redact', 'partial', 'hash', 'null'] },
            connections: globs,
            custom: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['name'],
                properties: {
                  name: { type: 'string', minLength: 1 },
                  pattern: { type: 'string', minLength: 1 },
                  words: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
                  mask: { enum: ['redact', 'partial', 'hash', 'null'] },
                },
              },
            },
          },
        },
        lineage: {
          type: 'object',
          additionalProperties: false,
          properties: {
            expression: { enum: ['deny', 'review'] },
            predicate: { enum: ['deny', 'review'] },
            write: { enum: ['deny', 'review'] },
          },
        },
      },
    },
    rules: {
      type: 'array',
      description:
        'Evaluated for every statement. Deny overrides review, review overrides allow; no match → deny.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'effect'],
        properties: {
          name: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          effect: { enum: ['allow', 'deny', 'review'] },
          message: { type: 'string' },
          hint: { type: 'string' },
          when: {
            type: 'object',
            additionalProperties: false,
            properties: {
              connections: globs,
              users: globs,
              groups: globs,
              agents: globs,
              kinds: { type: 'array', minItems: 1, items: { enum: [...STATEMENT_KINDS] } },
              commands: globs,
              relations: {
                ...globs,
                description: 'schema.table globs; unqualified names are matched as public.NAME',
              },
              functions: {
                ...globs,
                description: `function name globs, or a category: ${DANGER_CATEGORIES.map((c) => `category:${c}`).join(', ')}, category:unknown`,
              },
              flags: { type: 'array', minItems: 1, items: { enum: [...FLAGS] } },
            },
          },
          review: {
            type: 'object',
            additionalProperties: false,
            required: ['approvers'],
            properties: {
              approvers: {
                type: 'array',
                minItems: 1,
                items: { type: 'string', pattern: '^(self|group:.+)$' },
              },
              timeout: duration,
            },
          },
          obligations: {
            type: 'object',
            additionalProperties: false,
            properties: {
              maxRows: { type: 'integer', minimum: 1 },
              onExceed: { enum: ['truncate', 'error'] },
              statementTimeout: duration,
            },
          },
        },
      },
    },
  },
} as const;

/** Parses and validates a policy document (YAML or JSON); errors name the key and line. */
export function parsePolicy(text: string, file: string): PolicyDocument {
  const doc = parseAndValidate<PolicyDocument>(text, file, policySchema);
  const names = new Set<string>();
  for (const [i, r] of doc.value.rules.entries()) {
    if (names.has(r.name)) doc.fail(['rules', i, 'name'], `"${r.name}" is used twice`);
    names.add(r.name);
    if (r.effect === 'review' && !r.review) doc.fail(['rules', i], 'effect review needs review.approvers');
    if (r.effect !== 'review' && r.review)
      doc.fail(['rules', i, 'review'], 'only rules with effect review take review settings');
  }
  const masking = doc.value.masking;
  for (const [i, c] of (masking?.columns ?? []).entries()) {
    if (!c.columns && !c.tags) doc.fail(['masking', 'columns', i], 'name columns or tags to mask');
    for (const t of c.tags ?? []) {
      if (!masking?.tags?.[t])
        doc.fail(['masking', 'columns', i, 'tags'], `unknown tag "${t}" (define it under masking.tags)`);
    }
  }
  const keyProblem = masking?.hashKey !== undefined ? hashKeyProblem(masking.hashKey) : null;
  if (keyProblem) doc.fail(['masking', 'hashKey'], `${keyProblem}; ${HASH_KEY_HINT}`);
  for (const [i, d] of (masking?.content?.custom ?? []).entries()) {
    if (!d.pattern === !d.words)
      doc.fail(['masking', 'content', 'custom', i], 'give a pattern or words, not both');
    // Compiled now, so that a bad pattern stops the policy from loading rather than a result mid-stream.
    try {
      if (d.pattern) regexDetector(d.name, d.pattern);
      else dictionaryDetector(d.name, d.words ?? []);
    } catch (err) {
      doc.fail(['masking', 'content', 'custom', i], (err as Error).message);
    }
  }
  return doc.value;
}

/** "30s" → 30000. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`invalid duration "${text}"`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}
