import type * as vscode from 'vscode';
import type { Logger } from '../core/log';
import { printable } from '../core/text/printable';

/** The Output channel as Airlock logs to it: a Logger that can also be shown. */
export interface OutputLog extends Logger {
  show(): void;
}

/**
 * Every line written to Airlock's Output channel, as streamLogger does for stderr: one event per line,
 * controls and bidi overrides made visible, since clients' text (names, statements, errors) reaches it.
 */
export function outputLog(channel: vscode.LogOutputChannel): OutputLog {
  return {
    debug: (m) => channel.debug(printable(m)),
    info: (m) => channel.info(printable(m)),
    warn: (m) => channel.warn(printable(m)),
    error: (m) => channel.error(printable(m)),
    show: () => channel.show(),
  };
}
