import { loadModule, normalizeSync, parseSync } from 'libpg-query';

/**
 * The real PostgreSQL grammar (libpg-query: the server's own parser compiled to WASM). Loading the WASM
 * module is asynchronous and happens once; parsing is synchronous afterwards, which keeps the proxy's
 * hot path free of promises.
 */

let loading: Promise<void> | null = null;
let loaded = false;

export function loadSqlParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  return loading;
}

export function sqlParserLoaded(): boolean {
  return loaded;
}

/** A node of the parse tree as JSON: `{ "SelectStmt": { … } }`. */
export type ParseNode = Record<string, unknown>;

export const isObj = (v: unknown): v is ParseNode => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface RawStatement {
  stmt: ParseNode;
  /** Byte-free character offsets into the original text (libpg-query reports them in UTF-8 bytes). */
  location: number;
  length: number;
}

export type ParseOutcome =
  { ok: true; statements: RawStatement[] } | { ok: false; error: string; position?: number };

/** Parses a string of one or more statements. Never throws for bad SQL: the outcome says why. */
export function parseStatements(text: string): ParseOutcome {
  if (!loaded) throw new Error('SQL parser not loaded: await loadSqlParser() at start-up');
  let tree: { stmts?: Array<{ stmt?: ParseNode; stmt_location?: number; stmt_len?: number }> };
  try {
    tree = parseSync(text) as typeof tree;
  } catch (err) {
    const details = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    return { ok: false, error: (err as Error).message, position: details?.cursorPosition };
  }
  const bytes = Buffer.from(text, 'utf8');
  const ascii = bytes.length === text.length;
  const toChars = (byteOffset: number) => (ascii ? byteOffset : bytes.toString('utf8', 0, byteOffset).length);
  const statements: RawStatement[] = [];
  for (const s of tree.stmts ?? []) {
    if (!s.stmt) continue;
    const startByte = s.stmt_location ?? 0;
    const endByte = s.stmt_len ? startByte + s.stmt_len : bytes.length;
    const location = toChars(startByte);
    statements.push({ stmt: s.stmt, location, length: toChars(endByte) - location });
  }
  return { ok: true, statements };
}

/**
 * The statement with every literal replaced by $1, $2… (the server's own normalisation, as
 * pg_stat_statements shows it); null when the text does not parse.
 */
export function withoutLiterals(text: string): string | null {
  if (!loaded) throw new Error('SQL parser not loaded: await loadSqlParser() at start-up');
  try {
    return normalizeSync(text);
  } catch {
    return null;
  }
}
