/** The logging surface every layer uses; the CLI writes to stderr, the extension to its LogOutputChannel. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: LogLevel[] = ['debug', 'info', 'warn', 'error'];

import { printable } from './text/printable';

/**
 * Timestamped lines on a writable (stderr by default), from `level` up. One event per line, every
 * control character made visible: a client's text (an application_name, a statement) can neither
 * forge a log line nor send escapes to the terminal that shows the log.
 */
export function streamLogger(level: LogLevel = 'info', out: NodeJS.WritableStream = process.stderr): Logger {
  const min = ORDER.indexOf(level);
  const line = (l: LogLevel) => (message: string) => {
    if (ORDER.indexOf(l) >= min)
      out.write(`${new Date().toISOString()} ${l.padEnd(5)} ${printable(message)}\n`);
  };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
