import { PgError, SqlState } from './protocol/errors';

/** Startup packet keys that are not settings. */
const NOT_SETTINGS = new Set(['user', 'database', 'replication', 'options']);

/**
 * The settings a startup packet asks for: plain keys, and `-c name=value` / `--name=value` switches in
 * `options` (whitespace separates them; a backslash escapes the next character, as libpq does).
 * Other command-line switches are refused rather than guessed at.
 */
export function startupSettings(params: Map<string, string>): Array<{ setting: string; value: string }> {
  const out: Array<{ setting: string; value: string }> = [];
  for (const [key, value] of params) if (!NOT_SETTINGS.has(key)) out.push({ setting: key, value });
  const tokens = splitOptions(params.get('options') ?? '');
  for (let i = 0; i < tokens.length; i++) {
    let assignment: string | undefined;
    const t = tokens[i];
    if (t === '-c') assignment = tokens[++i];
    else if (t.startsWith('-c')) assignment = t.slice(2);
    else if (t.startsWith('--')) assignment = t.slice(2);
    const eq = assignment?.indexOf('=') ?? -1;
    if (!assignment || eq <= 0) {
      throw new PgError(SqlState.featureNotSupported, `startup option "${t}" is not supported by Airlock`, {
        severity: 'FATAL',
        hint: 'Pass settings as -c name=value.',
      });
    }
    out.push({ setting: assignment.slice(0, eq).replace(/-/g, '_'), value: assignment.slice(eq + 1) });
  }
  return out;
}

function splitOptions(options: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let escaped = false;
  for (const ch of options) {
    if (escaped) {
      current += ch;
      escaped = false;
    } else if (ch === '\\') {
      escaped = true;
    } else if (/\s/.test(ch)) {
      if (current) tokens.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current) tokens.push(current);
  return tokens;
}
