import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';

/** A document that failed validation: each problem names the key, its line, and what was expected. */
export class DocumentError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length === 1 ? problems[0] : '\n  ' + problems.join('\n  ')}`);
    this.name = 'DocumentError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: true });
const compiled = new WeakMap<object, ValidateFunction>();

/** The compiled validator of a schema object (compiled once: the one strict Ajv of the project). */
export function validatorFor(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

function describe(error: ErrorObject): string {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `unknown key "${String(p.additionalProperty)}"`;
    case 'required':
      return `missing required key "${String(p.missingProperty)}"`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return error.message ?? 'is invalid';
  }
}

/**
 * What a validator found wrong, as `root.path.to.key: problem` (for values that are not documents with
 * lines, such as a recorded event read back).
 */
export function validationProblems(errors: ErrorObject[] | null | undefined, root: string): string[] {
  const problems = (errors ?? [])
    .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if')
    .map((e) => {
      const at = e.instancePath
        .replace(/\/(\d+)(?=\/|$)/g, '[$1]')
        .replace(/\//g, '.')
        .replace(/~1/g, '/');
      return `${root}${at}: ${describe(e)}`;
    });
  return [...new Set(problems)];
}

/** A validated document, and a way to name a place in it for checks made after the schema. */
export interface ValidatedDocument<T> {
  value: T;
  /** `connections.0.name (line 4)` for a path into the document. */
  where(path: Array<string | number>): string;
  /** Throws a DocumentError for the place at `path`. */
  fail(path: Array<string | number>, message: string): never;
}

/**
 * Parses YAML (JSON is YAML) and validates it against a JSON Schema. Errors carry `key (line N)`, so a
 * person can find the mistake; the same schema is contributed to VS Code for editing help.
 */
export function parseAndValidate<T>(text: string, file: string, schema: object): ValidatedDocument<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length) {
    throw new DocumentError(
      file,
      doc.errors.map((e) => `line ${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`),
    );
  }
  const where = (path: Array<string | number>, key?: string): string => {
    const node = doc.getIn(path, true) as { range?: [number, number, number]; items?: unknown[] } | undefined;
    // An unknown key is pointed at on its own line, not its parent's.
    const pair = key
      ? (
          node?.items as Array<{ key?: { value?: unknown; range?: [number, number, number] } }> | undefined
        )?.find((p) => p.key?.value === key)
      : undefined;
    const range = pair?.key?.range ?? node?.range;
    const line = range ? ` (line ${lineCounter.linePos(range[0]).line})` : '';
    return `${path.join('.') || '(top level)'}${line}`;
  };
  const located: ValidatedDocument<T> = {
    value: doc.toJS() as T,
    where: (path) => where(path),
    fail: (path, message) => {
      throw new DocumentError(file, [`${where(path)}: ${message}`]);
    },
  };
  const validate = validatorFor(schema);
  if (validate(located.value)) return located;
  const problems = (validate.errors ?? [])
    // oneOf/anyOf restate their branches' errors; the branch errors are the useful ones.
    .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if')
    .map((e) => {
      const path = e.instancePath
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
      const unknownKey =
        e.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : undefined;
      const message = describe(e);
      return `${where(path, unknownKey)}: ${message}`;
    });
  throw new DocumentError(file, [...new Set(problems)]);
}
