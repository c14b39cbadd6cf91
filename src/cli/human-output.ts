import { printable } from '../core/text/printable';

/**
 * Writes text meant for a person's terminal: every control character and escape made visible
 * (core/text/printable.ts), lines and tabs kept. Data output (--json, exports, the MCP protocol on
 * stdout) is written as it is.
 */
export function writeText(out: { write(text: string): unknown }, text: string): void {
  out.write(printable(text, { multiline: true }));
}
