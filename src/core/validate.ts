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

function validatorFor(schema: object): ValidateFunction {
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
 * Parses YAML (JSON is YAML) and validates it against a JSON Schema. Errors carry `key (line N)`, so a
 * person can find the mistake; the same schema is contributed to VS Code for editing help.
 */
export function parseAndValidate<T>(text: string, file: string, schema: object): T {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length) {
    throw new DocumentError(
      file,
      doc.errors.map((e) => `line ${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`),
    );
  }
  const value = doc.toJS() as unknown;
  const validate = validatorFor(schema);
  if (validate(value)) return value as T;
  const problems = (validate.errors ?? [])
    // oneOf/anyOf restate their branches' errors; the branch errors are the useful ones.
    .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if')
    .map((e) => {
      const key = e.instancePath
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
      const node = doc.getIn(
        key.map((k) => (/^\d+$/.test(k) ? Number(k) : k)),
        true,
      ) as { range?: [number, number, number] } | undefined;
      const line = node?.range ? ` (line ${lineCounter.linePos(node.range[0]).line})` : '';
      const where = key.length ? key.join('.') : '(top level)';
      return `${where}${line}: ${describe(e)}`;
    });
  throw new DocumentError(file, [...new Set(problems)]);
}
