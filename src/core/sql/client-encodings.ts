/**
 * The client encodings Airlock can lex, by the canonical name the server reports and by every spelling
 * PostgreSQL accepts for them (it compares names lower-cased, without punctuation: `ISO-8859-1`,
 * `iso_8859_1` and `latin1` are one encoding).
 *
 * Each is ASCII-safe: every byte of a multibyte character has the high bit set, so quotes, backslashes
 * and semicolons are what they seem whatever the text. SJIS, SHIFT_JIS_2004, BIG5, GBK, GB18030, UHC and
 * JOHAB are not (the second byte of a character can be a backslash or a quote): they are absent here, as
 * are encodings Node cannot decode (EUC_TW, EUC_JIS_2004, MULE_INTERNAL, LATIN10), so every spelling of
 * them is refused.
 */
export const LEXABLE_CLIENT_ENCODINGS: ReadonlyMap<string, { label: string; aliases: string[] }> = new Map([
  // The server validates SQL_ASCII input as the database encoding (UTF-8 for Airlock's upstreams).
  ['UTF8', { label: 'utf-8', aliases: ['utf8', 'unicode'] }],
  ['SQL_ASCII', { label: 'utf-8', aliases: ['sqlascii'] }],
  ['LATIN1', { label: 'latin1', aliases: ['latin1', 'iso88591'] }],
  ['LATIN2', { label: 'iso-8859-2', aliases: ['latin2', 'iso88592'] }],
  ['LATIN3', { label: 'iso-8859-3', aliases: ['latin3', 'iso88593'] }],
  ['LATIN4', { label: 'iso-8859-4', aliases: ['latin4', 'iso88594'] }],
  ['LATIN5', { label: 'windows-1254', aliases: ['latin5', 'iso88599'] }],
  ['LATIN6', { label: 'iso-8859-10', aliases: ['latin6', 'iso885910'] }],
  ['LATIN7', { label: 'iso-8859-13', aliases: ['latin7', 'iso885913'] }],
  ['LATIN8', { label: 'iso-8859-14', aliases: ['latin8', 'iso885914'] }],
  ['LATIN9', { label: 'iso-8859-15', aliases: ['latin9', 'iso885915'] }],
  ['ISO_8859_5', { label: 'iso-8859-5', aliases: ['iso88595'] }],
  ['ISO_8859_6', { label: 'iso-8859-6', aliases: ['iso88596'] }],
  ['ISO_8859_7', { label: 'iso-8859-7', aliases: ['iso88597'] }],
  ['ISO_8859_8', { label: 'iso-8859-8', aliases: ['iso88598'] }],
  ['WIN866', { label: 'ibm866', aliases: ['win866', 'alt'] }],
  ['WIN874', { label: 'windows-874', aliases: ['win874'] }],
  ['WIN1250', { label: 'windows-1250', aliases: ['win1250'] }],
  ['WIN1251', { label: 'windows-1251', aliases: ['win1251', 'win'] }],
  ['WIN1252', { label: 'windows-1252', aliases: ['win1252'] }],
  ['WIN1253', { label: 'windows-1253', aliases: ['win1253'] }],
  ['WIN1254', { label: 'windows-1254', aliases: ['win1254'] }],
  ['WIN1255', { label: 'windows-1255', aliases: ['win1255'] }],
  ['WIN1256', { label: 'windows-1256', aliases: ['win1256'] }],
  ['WIN1257', { label: 'windows-1257', aliases: ['win1257'] }],
  ['WIN1258', { label: 'windows-1258', aliases: ['win1258', 'abc', 'tcvn', 'tcvn5712', 'vscii'] }],
  ['KOI8R', { label: 'koi8-r', aliases: ['koi8', 'koi8r'] }],
  ['KOI8U', { label: 'koi8-u', aliases: ['koi8u'] }],
  ['EUC_JP', { label: 'euc-jp', aliases: ['eucjp'] }],
  ['EUC_KR', { label: 'euc-kr', aliases: ['euckr'] }],
  ['EUC_CN', { label: 'gbk', aliases: ['euccn'] }],
]);

const LEXABLE_SPELLINGS = new Set([...LEXABLE_CLIENT_ENCODINGS.values()].flatMap((e) => e.aliases));

/** Whether a client_encoding value names an encoding Airlock can lex, however it is spelt. */
export function isLexableEncodingName(value: string): boolean {
  return LEXABLE_SPELLINGS.has(value.toLowerCase().replace(/[^a-z0-9]/g, ''));
}
