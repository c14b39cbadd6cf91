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

/** Turns the bytes of a query text into the string the server's lexer sees. */
export type TextDecoding = (buf: Buffer, start: number, end: number) => string;

const utf8: TextDecoding = (buf, start, end) => buf.toString('utf8', start, end);

function whatwg(label: string): TextDecoding {
  const decoder = new TextDecoder(label);
  return (buf, start, end) => decoder.decode(buf.subarray(start, end));
}

/**
 * The client encodings Airlock decodes, by the name the server reports. Each is ASCII-safe: every byte
 * of a multibyte character has the high bit set, so quotes, backslashes and semicolons are what they
 * seem. SJIS, SHIFT_JIS_2004, BIG5, GBK, GB18030, UHC and JOHAB are not (a backslash or quote byte can
 * end a character): they are refused, as are encodings Node cannot decode (EUC_TW, EUC_JIS_2004,
 * MULE_INTERNAL, LATIN10).
 */
const DECODINGS = new Map<string, () => TextDecoding>([
  // The server validates SQL_ASCII input as the database encoding: UTF-8 for Airlock's upstreams.
  ['UTF8', () => utf8],
  ['SQL_ASCII', () => utf8],
  ['LATIN1', () => (buf, start, end) => buf.toString('latin1', start, end)],
  ...(
    [
      ['LATIN2', 'iso-8859-2'],
      ['LATIN3', 'iso-8859-3'],
      ['LATIN4', 'iso-8859-4'],
      ['LATIN5', 'windows-1254'],
      ['LATIN6', 'iso-8859-10'],
      ['LATIN7', 'iso-8859-13'],
      ['LATIN8', 'iso-8859-14'],
      ['LATIN9', 'iso-8859-15'],
      ['ISO_8859_5', 'iso-8859-5'],
      ['ISO_8859_6', 'iso-8859-6'],
      ['ISO_8859_7', 'iso-8859-7'],
      ['ISO_8859_8', 'iso-8859-8'],
      ['WIN866', 'ibm866'],
      ['WIN874', 'windows-874'],
      ['WIN1250', 'windows-1250'],
      ['WIN1251', 'windows-1251'],
      ['WIN1252', 'windows-1252'],
      ['WIN1253', 'windows-1253'],
      ['WIN1254', 'windows-1254'],
      ['WIN1255', 'windows-1255'],
      ['WIN1256', 'windows-1256'],
      ['WIN1257', 'windows-1257'],
      ['WIN1258', 'windows-1258'],
      ['KOI8R', 'koi8-r'],
      ['KOI8U', 'koi8-u'],
      ['EUC_JP', 'euc-jp'],
      ['EUC_KR', 'euc-kr'],
      ['EUC_CN', 'gbk'],
    ] as const
  ).map(([name, label]): [string, () => TextDecoding] => [name, () => whatwg(label)]),
]);

/** How query texts in a client encoding are decoded, or null when Airlock cannot lex that encoding. */
export function clientDecoding(encoding: string): TextDecoding | null {
  return DECODINGS.get(encoding)?.() ?? null;
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
      return DECODINGS.has(value) ? null : `the server now expects client encoding ${value}`;
    default:
      return null;
  }
}
