import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { PgError } from '../../src/proxy/postgres/protocol/errors';
import {
  DataRowCursor,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeBind,
  decodeBindParameters,
  decodeClose,
  decodeCommandTag,
  decodeDataRow,
  decodeErrorFields,
  decodeExecutePortal,
  decodeFunctionCallOid,
  decodeNotification,
  decodeParameterStatus,
  decodeParse,
  decodeQuery,
  decodeReadyForQuery,
  decodeRowDescription,
  decodeSaslInitial,
  decodeSaslMechanisms,
  decodeStartup,
  isFatal,
} from '../../src/proxy/postgres/protocol/decode';
import {
  authentication,
  authenticationSasl,
  backendKeyData,
  cancelRequest,
  commandComplete,
  describePortal,
  errorResponse,
  notificationResponse,
  parameterStatus,
  parse,
  passwordMessage,
  query,
  readyForQuery,
  rewriteDataRow,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
} from '../../src/proxy/postgres/protocol/encode';
import { AuthCode } from '../../src/proxy/postgres/protocol/messages';
import { backendStream } from '../helpers/backend-streams';

/** What the codec decodes of a malformed client message: a protocol violation, never a RangeError. */
const violation = (fn: () => unknown) =>
  assert.throws(fn, (e: unknown) => e instanceof PgError && e.code === '08P01');

describe('wire codec (protocol/decode.ts, protocol/encode.ts)', () => {
  describe('frontend messages the proxy writes are byte for byte what pg-protocol writes', () => {
    it('Query, Parse, Describe, PasswordMessage, SASL, SSLRequest, CancelRequest', () => {
      assert.deepEqual(query('select 1'), serialize.query('select 1'));
      assert.deepEqual(parse('s1', 'select $1'), serialize.parse({ name: 's1', text: 'select $1' }));
      assert.deepEqual(parse('', 'select 1'), serialize.parse({ text: 'select 1' }));
      assert.deepEqual(describePortal('p'), serialize.describe({ type: 'P', name: 'p' }));
      assert.deepEqual(passwordMessage('pw'), serialize.password('pw'));
      assert.deepEqual(
        saslInitialResponse('SCRAM-SHA-256', 'n,,n=,r=abc'),
        serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=abc'),
      );
      assert.deepEqual(saslResponse('c=biws,r=abc'), serialize.sendSCRAMClientFinalMessage('c=biws,r=abc'));
      assert.deepEqual(sslRequest(), serialize.requestSsl());
      assert.deepEqual(cancelRequest(42, -7), serialize.cancel(42, -7));
    });

    it('a StartupMessage keeps exactly the parameters given, in order', () => {
      const packet = startupMessage(
        new Map([
          ['user', 'u'],
          ['client_encoding', 'LATIN1'],
        ]),
      );
      const decoded = decodeStartup(packet);
      assert.equal(decoded.kind, 'startup');
      assert.deepEqual(
        [...(decoded.kind === 'startup' ? decoded.params : [])],
        [
          ['user', 'u'],
          ['client_encoding', 'LATIN1'],
        ],
      );
    });
  });

  describe('frontend messages the proxy reads', () => {
    it('decodes what pg-protocol encodes', () => {
      assert.equal(decodeQuery(serialize.query('select 1')), 'select 1');
      assert.deepEqual(decodeParse(serialize.parse({ name: 'n', text: 'select 2' })), {
        name: 'n',
        sql: 'select 2',
      });
      const bind = serialize.bind({
        portal: 'p',
        statement: 's',
        values: ['a', null, Buffer.from([1, 2])],
        valueMapper: (v) => v as never,
      });
      assert.deepEqual(decodeBind(bind), { portal: 'p', statement: 's' });
      assert.deepEqual(decodeBindParameters(bind), ['a', null, '\\x0102']);
      assert.deepEqual(decodeClose(serialize.close({ type: 'S', name: 's' })), { kind: 'S', name: 's' });
      assert.deepEqual(decodeClose(serialize.close({ type: 'P', name: '' })), { kind: 'P', name: '' });
      assert.equal(decodeExecutePortal(serialize.execute({ portal: 'cur' })), 'cur');
      assert.deepEqual(decodeStartup(serialize.requestSsl()), { kind: 'ssl' });
      assert.deepEqual(decodeStartup(serialize.cancel(5, 6)), { kind: 'cancel', processId: 5, secretKey: 6 });
      const sasl = decodeSaslInitial(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=x'));
      assert.equal(sasl.mechanism, 'SCRAM-SHA-256');
      assert.equal(sasl.data.toString(), 'n,,n=,r=x');
    });

    it('a truncated message is a protocol violation (08P01), not a crash', () => {
      const q = serialize.query('select 1');
      violation(() => decodeQuery(q.subarray(0, q.length - 1)));
      const p = serialize.parse({ name: 'n', text: 'select 2' });
      violation(() => decodeParse(p.subarray(0, 7)));
      violation(() => decodeFunctionCallOid(Buffer.from([0x46, 0, 0, 0, 6, 1, 2])));
      violation(() => decodeClose(Buffer.from([0x43, 0, 0, 0, 4])));
      assert.throws(() => decodeSaslInitial(Buffer.from('p\0\0\0\x0cSCRAM\0\0\0\0\x09', 'latin1')), PgError);
    });
  });

  describe('backend messages, recorded from PostgreSQL 15', () => {
    it('RowDescription: names, table and attribute, type and format of every column', () => {
      const [t] = backendStream('simple-select');
      assert.deepEqual(decodeRowDescription(t), [
        { name: 'email', tableOid: 0, attnum: 0, typeOid: 25, format: 0 },
        { name: 'n', tableOid: 0, attnum: 0, typeOid: 23, format: 0 },
        { name: 'note', tableOid: 0, attnum: 0, typeOid: 25, format: 0 },
      ]);
    });

    it('DataRow: a cursor walks the fields as views, without copying; decodeDataRow gives the text', () => {
      const rows = backendStream('simple-select').filter((m) => m[0] === 0x44);
      assert.deepEqual(decodeDataRow(rows[2]), ['ada@example.com', '3', 'card 4111 1111 1111 1111']);
      const cursor = new DataRowCursor().reset(rows[0]);
      const seen: string[] = [];
      while (cursor.next()) {
        assert.equal(cursor.message, rows[0], 'the same buffer: no copy');
        seen.push(rows[0].toString('utf8', cursor.start, cursor.end));
      }
      assert.deepEqual(seen, ['ada@example.com', '1', 'card 4111 1111 1111 1111']);
      assert.equal(cursor.next(), false);
    });

    it('rewriteDataRow replaces, nulls and keeps fields; kept fields are byte-identical', () => {
      const [, row] = backendStream('simple-select');
      const rewritten = rewriteDataRow(row, [Buffer.from('x'), null, undefined]);
      assert.deepEqual(decodeDataRow(rewritten), ['x', null, 'card 4111 1111 1111 1111']);
      assert.deepEqual(rewriteDataRow(row, [undefined, undefined, undefined]), row);
    });

    it('CommandComplete, ReadyForQuery, ErrorResponse', () => {
      const stream = backendStream('simple-insert-delete');
      assert.deepEqual(stream.slice(0, 3).map(decodeCommandTag), ['CREATE TABLE', 'INSERT 0 2', 'DELETE 2']);
      assert.equal(decodeReadyForQuery(stream[3]), 'I');
      const [error] = backendStream('simple-error');
      const f = decodeErrorFields(error);
      assert.equal(f.C, '22012');
      assert.equal(f.M, 'division by zero');
      assert.equal(f.S, 'ERROR');
      assert.equal(isFatal(error), false);
    });
  });

  describe('backend messages the proxy writes decode to what was written', () => {
    it('ErrorResponse and NoticeResponse from a PgError', () => {
      const err = new PgError('42501', 'airlock: denied: x', { detail: 'Rule: r', hint: 'h' });
      assert.deepEqual(decodeErrorFields(errorResponse(err)), {
        S: 'ERROR',
        V: 'ERROR',
        C: '42501',
        M: 'airlock: denied: x',
        D: 'Rule: r',
        H: 'h',
      });
      assert.equal(errorResponse(err, true)[0], 0x4e);
      assert.equal(isFatal(errorResponse(new PgError('08006', 'x', { severity: 'FATAL' }))), true);
    });

    it('ParameterStatus, CommandComplete, ReadyForQuery, BackendKeyData, NotificationResponse, Authentication', () => {
      assert.deepEqual(decodeParameterStatus(parameterStatus('TimeZone', 'UTC')), {
        name: 'TimeZone',
        value: 'UTC',
      });
      assert.equal(decodeCommandTag(commandComplete('SELECT 5')), 'SELECT 5');
      assert.equal(decodeReadyForQuery(readyForQuery('T')), 'T');
      assert.deepEqual(decodeBackendKeyData(backendKeyData(123, -4)), { processId: 123, secretKey: -4 });
      assert.deepEqual(decodeNotification(notificationResponse(9, 'ch', 'payload')), {
        processId: 9,
        channel: 'ch',
        payload: 'payload',
      });
      const sasl = decodeAuthentication(authenticationSasl(['SCRAM-SHA-256']));
      assert.equal(sasl.code, AuthCode.sasl);
      assert.deepEqual(decodeSaslMechanisms(sasl.data), ['SCRAM-SHA-256']);
      const cont = decodeAuthentication(authentication(AuthCode.saslContinue, Buffer.from('r=abc')));
      assert.deepEqual([cont.code, cont.data.toString()], [AuthCode.saslContinue, 'r=abc']);
    });
  });
});
