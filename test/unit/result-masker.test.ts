import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writer } from 'pg-protocol/dist/buffer-writer';
import { MaskIndex } from '../../src/core/masking/mask-index';
import { buildResultMasking } from '../../src/core/masking/result-masking';
import { undecodableCopyOption } from '../../src/core/masking/copy-format';
import { analyzeSql } from '../../src/core/sql/analyze';
import { loadSqlParser } from '../../src/core/sql/parser';
import { decodeCopyField, encodeCopyField, mapCopyFields } from '../../src/proxy/postgres/copy-text';
import { ResultMasker } from '../../src/proxy/postgres/result-masker';
import { InFlightRequest } from '../../src/proxy/postgres/in-flight-queue';
import { Msg } from '../../src/proxy/postgres/protocol/messages';
import { decodeErrorFields } from '../../src/proxy/postgres/protocol/decode';
import { parameterStatus } from '../../src/proxy/postgres/protocol/encode';

// Fake data only.
const CARD = '4111 1111 1111 1111';
const EMAIL = 'ada@example.com';

const masking = buildResultMasking(
  { content: { detectors: 'all' } },
  new MaskIndex({}, undefined),
  'c',
  randomBytes(32),
);

function rowDescription(columns: Array<{ name: string; type: number; format: 0 | 1 }>): Buffer {
  const w = new Writer().addInt16(columns.length);
  for (const c of columns) {
    w.addCString(c.name)
      .addInt32(0)
      .addInt16(0)
      .addInt32(c.type)
      .addInt16(-1)
      .addInt32(-1)
      .addInt16(c.format);
  }
  return w.flush(Msg.rowDescription);
}

function dataRow(values: Array<Buffer | string>): Buffer {
  const w = new Writer().addInt16(values.length);
  for (const v of values) {
    const b = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
    w.addInt32(b.length).add(b);
  }
  return w.flush(Msg.dataRow);
}

const notice = (text: string) =>
  new Writer()
    .addString('S')
    .addCString('NOTICE')
    .addString('M')
    .addCString(text)
    .addCString('')
    .flush(Msg.noticeResponse);
const commandComplete = (tag: string) => new Writer().addCString(tag).flush(Msg.commandComplete);
const copyData = (text: string) => new Writer().add(Buffer.from(text, 'utf8')).flush(Msg.copyData);
const copyOutText = () =>
  new Writer()
    .add(Buffer.from([0]))
    .addInt16(1)
    .addInt16(0)
    .flush(Msg.copyOutResponse);

/** Feeds backend messages through a masker; returns what the client would get. */
function relay(masker: ResultMasker, messages: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  const request = new InFlightRequest();
  for (const m of messages) {
    const r = masker.backend(request, m[0], m);
    if (r) out.push(r);
  }
  return out;
}

describe('result masker: every message to the client', () => {
  before(() => loadSqlParser());

  describe('a binary result that cannot be masked stays refused until it ends', () => {
    it('notices between its rows do not release them; its end becomes the error', () => {
      const masker = new ResultMasker(() => masking);
      const arrayOfText = Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from(CARD)]);
      const out = relay(masker, [
        rowDescription([{ name: 'bodies', type: 1009, format: 1 }]),
        notice('step 1'),
        dataRow([arrayOfText]),
        notice('step 2'),
        dataRow([arrayOfText]),
        commandComplete('SELECT 2'),
      ]);
      assert.deepEqual(
        out.map((m) => String.fromCharCode(m[0])),
        ['T', 'N', 'N', 'E'],
        'rows withheld, notices passed, the completion replaced by an error',
      );
      assert.match(decodeErrorFields(out[3]).M, /cannot be masked in binary format/);
      assert.ok(!Buffer.concat(out).includes(CARD));
    });

    it('an error ends the refused result; the next result is judged afresh', () => {
      const masker = new ResultMasker(() => masking);
      const err = new Writer()
        .addString('S')
        .addCString('ERROR')
        .addString('M')
        .addCString('boom')
        .addCString('')
        .flush(Msg.errorResponse);
      relay(masker, [rowDescription([{ name: 'x', type: 1009, format: 1 }]), err]);
      const out = relay(masker, [
        rowDescription([{ name: 'n', type: 23, format: 1 }]),
        dataRow([Buffer.from([0, 0, 0, 7])]),
        commandComplete('SELECT 1'),
      ]);
      assert.deepEqual(
        out.map((m) => String.fromCharCode(m[0])),
        ['T', 'D', 'C'],
      );
    });
  });

  describe('ParameterStatus', () => {
    it('a reported setting that carries content is masked; the server-formatted ones pass as they are', () => {
      const masker = new ResultMasker(() => masking);
      const [app] = relay(masker, [parameterStatus('application_name', `card ${CARD} of ${EMAIL}`)]);
      const text = app.toString('utf8');
      assert.ok(!text.includes(CARD) && !text.includes(EMAIL), text);
      assert.match(text, /application_name\0card \[REDACTED:card\] of \[REDACTED:email\]\0$/);
      for (const [name, value] of [
        ['client_encoding', 'UTF8'],
        ['DateStyle', 'ISO, MDY'],
        ['server_version', '15.4 (Debian 15.4-1.pgdg120+1)'],
      ]) {
        const m = parameterStatus(name, value);
        assert.equal(relay(masker, [m])[0], m, `${name} is passed on untouched`);
      }
      const plain = parameterStatus('application_name', 'psql');
      assert.equal(relay(masker, [plain])[0], plain, 'nothing to mask: the same buffer');
    });
  });

  describe('COPY text format, field by field', () => {
    it('decodes and re-encodes the escapes PostgreSQL writes', () => {
      const value = 'a\\b\tc\nd\re\bf\fg\vh';
      const raw = encodeCopyField(value);
      assert.equal(raw, 'a\\\\b\\tc\\nd\\re\\bf\\fg\\vh');
      assert.equal(decodeCopyField(raw), value);
      assert.equal(decodeCopyField('\\N'), 'N');
    });

    it('a card after an escaped newline is found (the escape no longer hides its start); fields and rows keep their shape', () => {
      const row = `1\tnote:\\n${CARD}\t\\N\n`;
      const masked = mapCopyFields(row, (v) =>
        masking.scanner?.mightContain(v) ? masking.scanner.scan(v).text : v,
      );
      assert.equal(masked, '1\tnote:\\n[REDACTED:card]\t\\N\n');
      const plain = '2\tnothing here\t\\N\n';
      assert.equal(
        mapCopyFields(plain, (v) => v),
        plain,
        'unchanged: the same string',
      );
    });

    it('the masker masks CopyData rows as their fields', () => {
      const masker = new ResultMasker(() => masking);
      const out = relay(masker, [copyOutText(), copyData(`7\tmail ${EMAIL}\\twith a tab\n`)]);
      assert.equal(out[1].toString('utf8', 5), '7\tmail [REDACTED:email]\\twith a tab\n');
    });

    it('COPY TO options outside the text format are refused, in the new and the legacy syntax', () => {
      const optionsOf = (sql: string) => {
        const a = analyzeSql(sql);
        assert.ok(a.ok, sql);
        const copy = a.statements[0].details.copy;
        assert.ok(copy, sql);
        return copy;
      };
      for (const sql of [
        "copy t to stdout (format csv, quote '@')",
        "copy t to stdout with csv quote as '@'",
        'copy t to stdout csv',
        "copy t to stdout (delimiter '@')",
        "copy t to stdout delimiter as '|'",
        "copy t to stdout (encoding 'UTF16')",
        "copy t to stdout (encoding 'latin1')",
        'copy t to stdout binary',
        'copy t to stdout (format binary)',
        "copy (select 1) to stdout (format csv, escape '@')",
        'copy t to stdout (format csv, force_quote *)',
        "copy t to '/tmp/x' (format csv)",
      ]) {
        assert.match(
          undecodableCopyOption(optionsOf(sql)) ?? '',
          /^(csv COPY|binary COPY|COPY TO with [A-Z_]+ ?)/,
          sql,
        );
      }
      for (const sql of [
        'copy t to stdout',
        'copy (select 1) to stdout',
        "copy t to stdout (format text, delimiter E'\\t', null '', header, encoding 'utf-8')",
        "copy t to stdout with null as 'x' encoding 'UTF8'",
        "copy t from stdin (format csv, quote '@')",
      ]) {
        assert.equal(undecodableCopyOption(optionsOf(sql)), null, sql);
      }
    });
  });
});
