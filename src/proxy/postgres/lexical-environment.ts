import { LEXABLE_CLIENT_ENCODINGS } from '../../core/sql/client-encodings';
import { decodeParameterStatus, utf8, type TextDecoding } from './protocol/decode';
import { Msg } from './protocol/messages';

/**
 * The lexical environment Airlock's parser assumes, held in lockstep with the server's.
 *
 * libpg-query lexes with standard_conforming_strings=on, and the proxy reads query bytes as UTF-8. A
 * server that lexes otherwise — backslash escapes in plain strings, or a client encoding in which a
 * backslash or quote byte can be the second byte of a character (SJIS, BIG5, GBK, GB18030, UHC, JOHAB)
 * — would see other statements in the same bytes. So: the upstream session starts with the pinned values
 * (startup parameters outrank ALTER ROLE/DATABASE … SET, and become what RESET and RESET ALL return to);
 * the analysis refuses every statement that would change them to what it cannot lex (rule
 * `lexical-environment`); every ParameterStatus the server reports for them is checked here, so that a
 * change nobody modelled — code inside a function, say — ends the session before another statement is
 * lexed under it; and query texts are decoded in the client encoding the server last reported.
 */

// Node's latin1 is ISO-8859-1 itself; WHATWG's "latin1" label is windows-1252.
const latin1: TextDecoding = (buf, start, end) => buf.toString('latin1', start, end);

function whatwg(label: string): TextDecoding {
  const decoder = new TextDecoder(label);
  return (buf, start, end) => decoder.decode(buf.subarray(start, end));
}

/** How query texts in a client encoding are decoded, or null when Airlock cannot lex that encoding. */
export function clientDecoding(encoding: string): TextDecoding | null {
  const e = LEXABLE_CLIENT_ENCODINGS.get(encoding);
  if (!e) return null;
  return e.label === 'utf-8' ? utf8 : e.label === 'latin1' ? latin1 : whatwg(e.label);
}

/** Sets the pinned values in the parameters of the upstream startup packet. */
export function pinLexicalEnvironment(params: Map<string, string>): void {
  params.set('standard_conforming_strings', 'on');
  // Without one, the server would talk the database's encoding, whatever it is.
  if (!params.has('client_encoding')) params.set('client_encoding', 'UTF8');
}

/**
 * Why a reported setting breaks the parser's assumptions, or null when it keeps them. The server reports
 * both settings (GUC_REPORT) at startup and whenever they change, before the next ReadyForQuery.
 */
export function lexicalDeviation(name: string, value: string): string | null {
  switch (name) {
    case 'standard_conforming_strings':
      return value === 'on' ? null : `the server now lexes with standard_conforming_strings=${value}`;
    case 'client_encoding':
      return LEXABLE_CLIENT_ENCODINGS.has(value) ? null : `the server now expects client encoding ${value}`;
    default:
      return null;
  }
}

/**
 * The session's side of the lockstep: every ParameterStatus the server sends is checked here, and the
 * client encoding it last reported decodes the query texts.
 */
export class LexicalEnvironment {
  /** How query texts are decoded (undefined: UTF-8). */
  decoding: TextDecoding | undefined;

  /** For a ParameterStatus: why it breaks the parser's assumptions, or null. */
  report(message: Buffer): string | null {
    if (message[0] !== Msg.parameterStatus) return null;
    const { name, value } = decodeParameterStatus(message);
    const deviation = lexicalDeviation(name, value);
    if (!deviation && name === 'client_encoding') this.decoding = clientDecoding(value) ?? undefined;
    return deviation;
  }
}
