/**
 * Strict runtime checks for the messages between the extension and its webviews, used on both sides: a
 * webview checks what the extension sends, the extension checks what a webview posts (a webview is a
 * less trusted place — every message is untrusted input). Each check throws a ProtocolError naming the
 * first problem (`message.requests[0].nonce: missing`); `parser` turns a check into a ParseResult.
 *
 * No `vscode` import, no DOM and no code generation (the webviews' CSP forbids eval, so Ajv cannot compile
 * there): `conforms` reads the recording's JSON Schemas (core/recording/events.ts) directly.
 */
import { AGENT_CHANNELS, type Actor } from '../../core/identity/actor';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export type Rec = Record<string, unknown>;

export function fail(path: string, what: string): never {
  throw new ProtocolError(`${path}: ${what}`);
}

export function record(x: unknown, path: string): Rec {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(path, 'expected an object');
  const proto: unknown = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) fail(path, 'expected a plain object');
  return x as Rec;
}

/** An object with exactly these keys (optional ones may be absent; undefined counts as absent). */
export function shape(
  x: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Rec {
  const r = record(x, path);
  for (const k of required) if (!Object.prototype.hasOwnProperty.call(r, k)) fail(`${path}.${k}`, 'missing');
  for (const k of Object.keys(r))
    if (!required.includes(k) && !optional.includes(k)) fail(`${path}.${k}`, 'unexpected field');
  return r;
}

export function str(x: unknown, path: string, opts: { nonEmpty?: boolean; max?: number } = {}): string {
  if (typeof x !== 'string') fail(path, 'expected a string');
  if (opts.nonEmpty && x.length === 0) fail(path, 'must not be empty');
  if (opts.max !== undefined && x.length > opts.max) fail(path, `longer than ${opts.max} characters`);
  return x;
}

export function optStr(
  r: Rec,
  key: string,
  path: string,
  opts: { nonEmpty?: boolean; max?: number } = {},
): void {
  if (r[key] !== undefined) str(r[key], `${path}.${key}`, opts);
}

export function num(x: unknown, path: string, opts: { integer?: boolean; min?: number } = {}): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) fail(path, 'expected a finite number');
  if (opts.integer && !Number.isInteger(x)) fail(path, 'expected an integer');
  if (opts.min !== undefined && x < opts.min) fail(path, `must be at least ${opts.min}`);
  return x;
}

export function bool(x: unknown, path: string): boolean {
  if (typeof x !== 'boolean') fail(path, 'expected a boolean');
  return x;
}

export function arr(x: unknown, path: string): unknown[] {
  if (!Array.isArray(x)) fail(path, 'expected an array');
  return x;
}

export function strArray(x: unknown, path: string): string[] {
  arr(x, path).forEach((v, i) => str(v, `${path}[${i}]`));
  return x as string[];
}

export function oneOf<T extends string>(x: unknown, path: string, values: readonly T[]): T {
  if (typeof x !== 'string' || !(values as readonly string[]).includes(x))
    fail(path, `expected one of ${values.join(', ')}`);
  return x as T;
}

export function isoTime(x: unknown, path: string): string {
  const s = str(x, path, { nonEmpty: true });
  if (Number.isNaN(Date.parse(s))) fail(path, 'expected an ISO date-time');
  return s;
}

/** The actor as a webview shows it (the groups stay in the host). */
export type WebviewActor = Pick<Actor, 'user' | 'agent' | 'channel'>;

export function actor(x: unknown, path: string): WebviewActor {
  const r = shape(x, path, ['user'], ['agent', 'channel']);
  str(r.user, `${path}.user`, { nonEmpty: true });
  optStr(r, 'agent', path);
  if (r.channel !== undefined) oneOf(r.channel, `${path}.channel`, AGENT_CHANNELS);
  return r as unknown as WebviewActor;
}

/** The part of JSON Schema the recording's schemas use. */
interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';
  properties?: Record<string, Schema>;
  required?: readonly string[];
  additionalProperties?: boolean;
  items?: Schema;
  enum?: readonly string[];
  minimum?: number;
  minLength?: number;
  anyOf?: readonly Schema[];
}

const TYPE_NAMES: Record<NonNullable<Schema['type']>, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  integer: 'an integer',
  number: 'a finite number',
  boolean: 'a boolean',
  null: 'null',
};

/**
 * Checks `x` against a schema of the recording (the one the host checks with Ajv), in the messages of this
 * module. Unknown keywords are a programming error: the schema is ours.
 */
export function conforms(schema: object, x: unknown, path: string): void {
  const s = schema as Schema;
  if (s.anyOf) {
    if (!s.anyOf.some((branch) => matches(branch, x)))
      fail(path, `expected ${s.anyOf.map((b) => (b.type ? TYPE_NAMES[b.type] : 'a value')).join(' or ')}`);
    return;
  }
  switch (s.type) {
    case 'object': {
      const r = record(x, path);
      for (const k of s.required ?? [])
        if (!Object.prototype.hasOwnProperty.call(r, k)) fail(`${path}.${k}`, 'missing');
      for (const [k, v] of Object.entries(r)) {
        const p = s.properties?.[k];
        if (p) {
          if (v !== undefined) conforms(p, v, `${path}.${k}`);
        } else if (s.additionalProperties === false) fail(`${path}.${k}`, 'unexpected field');
      }
      return;
    }
    case 'array':
      arr(x, path).forEach((v, i) => s.items && conforms(s.items, v, `${path}[${i}]`));
      return;
    case 'string':
      if (s.enum) oneOf(x, path, s.enum);
      else str(x, path, { nonEmpty: (s.minLength ?? 0) > 0 });
      return;
    case 'integer':
    case 'number':
      num(x, path, { integer: s.type === 'integer', min: s.minimum });
      return;
    case 'boolean':
      bool(x, path);
      return;
    case 'null':
      if (x !== null) fail(path, 'expected null');
      return;
    default:
      throw new Error(`conforms: unsupported schema at ${path}`);
  }
}

function matches(schema: Schema, x: unknown): boolean {
  try {
    conforms(schema, x, '');
    return true;
  } catch (e) {
    if (e instanceof ProtocolError) return false;
    throw e;
  }
}

export function parser<T>(assert: (x: unknown) => T): (x: unknown) => ParseResult<T> {
  return (x) => {
    try {
      return { ok: true, value: assert(x) };
    } catch (e) {
      if (e instanceof ProtocolError) return { ok: false, error: e.message };
      throw e;
    }
  };
}
