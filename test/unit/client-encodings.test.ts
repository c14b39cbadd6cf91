import assert from 'node:assert/strict';
import { LEXABLE_CLIENT_ENCODINGS, isLexableEncodingName } from '../../src/core/sql/client-encodings';
import { clientDecoding, lexicalDeviation } from '../../src/proxy/postgres/lexical-environment';

describe('client encodings Airlock can lex', () => {
  it('decodes every lexable encoding, and ASCII bytes as themselves in each', () => {
    const ascii = Buffer.from(`select '\\'; -- "x"`, 'latin1');
    for (const name of LEXABLE_CLIENT_ENCODINGS.keys()) {
      const decode = clientDecoding(name);
      assert.ok(decode, name);
      assert.equal(decode(ascii, 0, ascii.length), ascii.toString('latin1'), name);
      assert.equal(lexicalDeviation('client_encoding', name), null, name);
    }
  });

  it('decodes LATIN1 as ISO-8859-1 and EUC_JP as EUC-JP', () => {
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x80]);
    assert.equal(clientDecoding('LATIN1')?.(latin1, 0, latin1.length), 'caf\u00e9\u0080');
    const eucjp = Buffer.from([0xc6, 0xfc, 0xcb, 0xdc]);
    assert.equal(clientDecoding('EUC_JP')?.(eucjp, 0, eucjp.length), '日本');
  });

  it('accepts every spelling PostgreSQL accepts for a lexable encoding', () => {
    for (const v of [
      'UTF8',
      'utf-8',
      'Unicode',
      'SQL_ASCII',
      'iso-8859-1',
      'ISO_8859_15',
      'latin1',
      'WIN1252',
      'koi8-r',
      'EUC-JP',
    ])
      assert.ok(isLexableEncodingName(v), v);
  });

  it('refuses the encodings whose characters can hide a backslash or quote, in every spelling', () => {
    for (const v of [
      'SJIS',
      'Shift_JIS',
      'shiftjis',
      'mskanji',
      'win932',
      'SHIFT_JIS_2004',
      'BIG5',
      'win950',
      'GBK',
      'win936',
      'GB18030',
      'UHC',
      'win949',
      'JOHAB',
      'EUC_TW',
      'MULE_INTERNAL',
      'LATIN10',
      'nonsense',
    ]) {
      assert.ok(!isLexableEncodingName(v), v);
    }
    for (const name of ['SJIS', 'SHIFT_JIS_2004', 'BIG5', 'GBK', 'GB18030', 'UHC', 'JOHAB', 'EUC_TW']) {
      assert.equal(clientDecoding(name), null, name);
      assert.match(lexicalDeviation('client_encoding', name) ?? '', new RegExp(name));
    }
    assert.match(lexicalDeviation('standard_conforming_strings', 'off') ?? '', /off/);
    assert.equal(lexicalDeviation('standard_conforming_strings', 'on'), null);
  });
});
