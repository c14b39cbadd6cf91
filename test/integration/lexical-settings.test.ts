import assert from 'node:assert/strict';
import pg from 'pg';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import { expectDenied, proxiedPsqlEnv, psql, rejection } from '../helpers/policy-fixtures';

/**
 * Airlock parses SQL with standard_conforming_strings=on in a client encoding it can lex. No statement and no
 * startup setting may make the server lex differently: refused with rule `lexical-environment` under
 * every policy — allow-all included — and the session still lexes as Airlock does afterwards.
 */
const STATEMENTS = [
  'SET standard_conforming_strings = off',
  'SET LOCAL standard_conforming_strings TO false',
  "SET client_encoding = 'SJIS'",
  "SET NAMES 'GBK'",
  "SET client_encoding TO 'big-5'",
  'SET backslash_quote = off',
  "SELECT set_config('standard_conforming_strings', 'off', false)",
  "SELECT pg_catalog.set_config('client_encoding', 'SJIS', true)",
  "SELECT set_config('client_encoding', upper('sjis'), false)",
  "SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = 'standard_conforming_strings'",
  "SELECT 1; SELECT set_config('standard_conforming_strings', 'off', false)",
  // Objects that do not exist, or a temporary function: were one ever let through, nothing would outlive the test.
  'ALTER ROLE airlock_no_such_role SET standard_conforming_strings = off',
  "ALTER DATABASE airlock_no_such_db SET client_encoding = 'SJIS'",
  "CREATE FUNCTION pg_temp.lex() RETURNS int LANGUAGE sql SET client_encoding = 'SJIS' AS 'select 1'",
];

for (const policy of ['allow-all', 'read-only'] as const) {
  describe(`lexical environment under ${policy}: changes are refused with rule lexical-environment`, function () {
    this.timeout(60_000);
    let p: ProxyUnderTest;

    before(async () => {
      p = await proxyFor(sharedCluster(), { config: { policy } });
    });
    after(async () => {
      await p?.close();
    });

    async function assertLexesAsAirlock(client: pg.Client, what: string) {
      const { rows } = await client.query(
        "select current_setting('standard_conforming_strings') as scs, current_setting('client_encoding') as enc, current_setting('backslash_quote') as bq",
      );
      assert.deepEqual(rows, [{ scs: 'on', enc: 'UTF8', bq: 'safe_encoding' }], what);
    }

    for (const sql of STATEMENTS) {
      for (const queryMode of ['simple', 'extended'] as const) {
        it(`${sql} (${queryMode})`, async () => {
          const client = await p.connect();
          try {
            const err = await expectDenied(
              client.query({ text: sql, queryMode } as pg.QueryConfig),
              sql,
              'lexical-environment',
            );
            assert.match(err.message, /standard_conforming_strings=on and in client encodings/);
            assert.match(err.hint ?? '', /PGCLIENTENCODING=UTF8/);
            await assertLexesAsAirlock(client, sql);
          } finally {
            await client.end();
          }
        });
      }
    }

    it('the settings Airlock lexes with are allowed, and so is RESET (the reset value is the pinned one)', async () => {
      const client = await p.connect();
      try {
        for (const sql of [
          'SET standard_conforming_strings = on',
          "SET client_encoding = 'utf-8'",
          "SET NAMES 'UTF8'",
          'RESET client_encoding',
          'SET standard_conforming_strings TO DEFAULT',
        ])
          await client.query(sql);
        await assertLexesAsAirlock(client, 'after allowed settings');
      } finally {
        await client.end();
      }
    });

    for (const option of ['standard_conforming_strings=off', 'client_encoding=GBK']) {
      it(`a startup packet with options=-c ${option} is refused with FATAL 42501`, async () => {
        const err = await rejection(p.connect({ options: `-c ${option}` }), option);
        assert.equal(err.code, '42501', `${err.code} ${err.message}`);
        assert.equal(err.severity, 'FATAL');
        assert.match(err.message, /^airlock: denied: .*how the server reads SQL text/);
        assert.equal(err.detail, 'Rule: lexical-environment');
      });
    }

    it('psql with PGOPTIONS="-c standard_conforming_strings=off" is refused at startup', async () => {
      const r = await psql(
        sharedCluster(),
        { ...proxiedPsqlEnv(p), PGOPTIONS: '-c standard_conforming_strings=off' },
        ['-c', 'select 1'],
      );
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /FATAL: {2}airlock: denied: .*standard_conforming_strings/);
    });

    // libpq sends PGCLIENTENCODING as a startup packet key of its own, not in options.
    it('psql with PGCLIENTENCODING=GBK is refused at startup; with UTF8 it connects', async () => {
      const gbk = await psql(sharedCluster(), { ...proxiedPsqlEnv(p), PGCLIENTENCODING: 'GBK' }, [
        '-c',
        'select 1',
      ]);
      assert.equal(gbk.code, 2, gbk.stderr);
      assert.match(gbk.stderr, /FATAL: {2}airlock: denied: .*client_encoding/);
      const utf8 = await psql(sharedCluster(), { ...proxiedPsqlEnv(p), PGCLIENTENCODING: 'UTF8' }, [
        '-At',
        '-c',
        'show client_encoding',
      ]);
      assert.equal(utf8.code, 0, utf8.stderr);
      assert.equal(utf8.stdout, 'UTF8\n');
    });
  });
}
