import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { Gate } from '../../src/core/gate/gate';
import type { Decision } from '../../src/core/gate/decision';
import { Journal } from '../../src/core/recording/journal';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import { RawClient, type Reply } from '../helpers/raw-client';
import { WireConnection, startupPacket, typedHeader } from '../helpers/wire';
import {
  directPg,
  dropDatabase,
  expectDenied,
  freshDatabase,
  proxiedPsqlEnv,
  psql,
  tempPolicy,
} from '../helpers/policy-fixtures';

/**
 * Airlock must see exactly what the server runs (issue 11 §1, §2, §6, §8): the lexical environment is
 * pinned and checked on every ParameterStatus, query texts are decoded in the client's encoding, code
 * whose effects Airlock cannot see holds back what follows it, the server's replies are checked against
 * the decisions, every Execute is decided, and unauthenticated clients cannot make the proxy buffer much.
 */
const DB = 'lexical_env';

const SCHEMA = `
create table t (id int primary key, name text not null);
insert into t values (1, 'row 1'), (2, 'row 2'), (3, 'row 3');
create table "cafés" (id int);
insert into "cafés" values (7);
-- Code that changes the lexical environment where no statement analysis can see it.
create function flip() returns int language plpgsql as $$
begin perform set_config('standard' || '_conforming_strings', 'off', false); return 1; end $$;
create function to_sjis() returns int language plpgsql as $$
begin perform set_config('client' || '_encoding', 'SJIS', false); return 1; end $$;
create function noop() returns int language sql as 'select 1';
-- What the database would make every session lex with, were Airlock not to pin it.
alter database ${DB} set standard_conforming_strings = off;
`;

/** One harmless SELECT under standard_conforming_strings=on; a SELECT and a DELETE when it is off. */
const SMUGGLED = `SELECT 'x\\', '; DELETE FROM t; --'`;

const rowsOfT = async (): Promise<number> => {
  const c = await directPg(sharedCluster(), DB);
  try {
    return Number((await c.query('select count(*) from t')).rows[0].count);
  } finally {
    await c.end();
  }
};

const errorOf = (replies: Reply[]) => replies.find((r) => r.type === 'E')?.fields ?? {};

/** Everything the proxy sent until it closed the connection. */
async function untilClosed(c: RawClient): Promise<Reply[]> {
  if (!c.socket.destroyed) await new Promise((resolve) => c.socket.once('close', resolve));
  const out: Reply[] = [];
  for (;;) {
    try {
      out.push(await c.next(0));
    } catch {
      return out;
    }
  }
}

describe('lexical environment, reply verification and execution paths (issue 11)', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-lexical-'));
    await freshDatabase(sharedCluster(), DB, SCHEMA);
  });
  after(async () => {
    await dropDatabase(sharedCluster(), DB);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the attack is real: with standard_conforming_strings off, the server runs a DELETE in that text', async () => {
    const c = await directPg(sharedCluster(), DB);
    try {
      await c.query('begin');
      await c.query('set local standard_conforming_strings = off');
      const results = (await c.query(SMUGGLED)) as unknown as pg.QueryResult[];
      assert.deepEqual(
        results.map((r) => `${r.command} ${r.rowCount}`),
        ['SELECT 1', 'DELETE 3'],
      );
    } finally {
      await c.query('rollback');
      await c.end();
    }
    assert.equal(await rowsOfT(), 3);
  });

  describe('under allow-all', () => {
    let p: ProxyUnderTest;
    let recordings: string;
    before(async () => {
      recordings = path.join(dir, 'allow-all');
      p = await proxyFor(sharedCluster(), { database: DB, config: { policy: 'allow-all', recordings } });
    });
    after(() => p.close());

    it('pins standard_conforming_strings and the client encoding whatever the database sets', async () => {
      const c = await p.connect();
      try {
        assert.equal(
          (await c.query('show standard_conforming_strings')).rows[0].standard_conforming_strings,
          'on',
        );
        assert.equal((await c.query('show client_encoding')).rows[0].client_encoding, 'UTF8');
        // RESET and RESET ALL go back to the pinned startup value, not to the database's.
        await c.query('reset standard_conforming_strings');
        await c.query('reset all');
        assert.equal(
          (await c.query('show standard_conforming_strings')).rows[0].standard_conforming_strings,
          'on',
        );
      } finally {
        await c.end();
      }
    });

    it('ends the session when code turns standard_conforming_strings off, before the next statement is lexed', async () => {
      const c = await RawClient.connect(p.endpoint);
      // Pipelined: the second Query reaches the proxy before the first has run.
      c.send(serialize.query('select flip()'), serialize.query(SMUGGLED));
      const replies = await untilClosed(c);
      const fatal = replies.find((r) => r.type === 'E' && r.fields?.S === 'FATAL')?.fields;
      assert.equal(fatal?.C, 'XX000', JSON.stringify(replies));
      assert.match(fatal?.M ?? '', /standard_conforming_strings=off; the session is ended/);
      assert.equal(await rowsOfT(), 3);
      const alarms = Journal.read(recordings).events.filter((e) => e.type === 'alarm');
      assert.ok(
        alarms.some((a) => /standard_conforming_strings=off/.test(String(a.data.reason))),
        'the alarm is recorded',
      );
    });

    it('ends the session when code switches to a client encoding Airlock cannot lex', async () => {
      const c = await RawClient.connect(p.endpoint);
      c.send(serialize.query('select to_sjis()'), serialize.query('select 2'));
      const replies = await untilClosed(c);
      assert.match(errorOf(replies).M ?? '', /client encoding SJIS; the session is ended/);
      assert.ok(!replies.some((r) => r.type === 'D' && r.text === '2'), 'the second query never ran');
    });

    it('refuses unlexable client encodings and standard_conforming_strings=off asked for at startup', async () => {
      for (const env of [{ PGCLIENTENCODING: 'SJIS' }, { PGOPTIONS: '-c standard_conforming_strings=off' }]) {
        const r = await psql(sharedCluster(), { ...proxiedPsqlEnv(p), ...env }, ['-c', 'select 1']);
        assert.notEqual(r.code, 0, JSON.stringify(env));
        assert.match(r.stderr, /FATAL: .*(SJIS|standard_conforming_strings)/, r.stderr);
      }
    });

    it('holds simple queries behind code with unseen effects, then runs them in order', async () => {
      const c = await RawClient.connect(p.endpoint);
      try {
        c.send(serialize.query('select noop()'), serialize.query('select 2'));
        const first = await c.untilReady();
        const second = await c.untilReady();
        assert.deepEqual(
          [first, second].map((rs) => rs.filter((r) => r.type === 'D').map((r) => r.text)),
          [['1'], ['2']],
        );
      } finally {
        c.close();
      }
    });

    it('refuses a statement in the same pipeline as code with unseen effects, and goes on after Sync', async () => {
      const c = await RawClient.connect(p.endpoint);
      try {
        c.send(
          serialize.parse({ text: 'select noop()' }),
          serialize.bind({}),
          serialize.execute({}),
          serialize.parse({ text: 'select 2' }),
          serialize.bind({}),
          serialize.execute({}),
          serialize.sync(),
        );
        const replies = await c.untilReady();
        assert.deepEqual(
          replies.filter((r) => r.type === 'D').map((r) => r.text),
          ['1'],
        );
        const err = errorOf(replies);
        assert.equal(err.C, '42501');
        assert.equal(err.D, 'Rule: lexical-environment');
        c.send(serialize.query('select 3'));
        assert.deepEqual(
          (await c.untilReady()).filter((r) => r.type === 'D').map((r) => r.text),
          ['3'],
        );
      } finally {
        c.close();
      }
    });

    it('decodes query texts in the client encoding (a LATIN1 table name matches its rule)', async () => {
      const { file, dispose } = await tempPolicy(
        'latin1',
        'version: 1\nname: latin1\nrules:\n  - name: no-cafes\n    effect: deny\n    when: {relations: ["cafés"]}\n  - name: reads\n    effect: allow\n    when: {kinds: [read, session]}\n',
      );
      const q = await proxyFor(sharedCluster(), {
        database: DB,
        config: { policy: file, allowUnsignedPolicy: true },
      });
      const sqlFile = path.join(dir, 'latin1.sql');
      writeFileSync(sqlFile, Buffer.from('select id from "cafés";\n', 'latin1'));
      try {
        const r = await psql(sharedCluster(), { ...proxiedPsqlEnv(q), PGCLIENTENCODING: 'LATIN1' }, [
          '-v',
          'ON_ERROR_STOP=1',
          '-f',
          sqlFile,
        ]);
        assert.notEqual(r.code, 0, r.stdout);
        assert.match(r.stderr, /airlock: denied/);
        assert.match(r.stderr, /Rule: no-cafes/);
      } finally {
        await q.close();
        await dispose();
      }
    });
  });

  describe('the server must answer what was decided', () => {
    /** A gate whose analysis "misses" statements: it says every request is one SELECT (a fault injected). */
    const blindGate: Gate = {
      decide: (): Decision => ({
        effect: 'allow',
        rule: 'blind',
        obligations: {},
        facts: [{ command: 'SELECT', kind: 'read', relations: [] }],
      }),
    };
    let p: ProxyUnderTest;
    let recordings: string;
    before(async () => {
      recordings = path.join(dir, 'blind');
      p = await proxyFor(sharedCluster(), { database: DB, gate: blindGate, config: { recordings } });
    });
    after(() => p.close());

    it('passes replies that match', async () => {
      const c = await p.connect();
      try {
        assert.deepEqual((await c.query('select name from t where id = 1')).rows, [{ name: 'row 1' }]);
      } finally {
        await c.end();
      }
    });

    it('ends the session when the tag is not what the decided command produces', async () => {
      const c = await RawClient.connect(p.endpoint);
      c.send(serialize.query('delete from t where id = 0'));
      const replies = await untilClosed(c);
      assert.equal(errorOf(replies).C, 'XX000');
      assert.match(errorOf(replies).M ?? '', /completed "DELETE 0" where Airlock decided SELECT \(read\)/);
      assert.ok(!replies.some((r) => r.type === 'C'), 'the DELETE tag never reached the client');
    });

    it('ends the session before any row of a statement nobody decided reaches the client', async () => {
      const c = await RawClient.connect(p.endpoint);
      c.send(serialize.query('select 1; select name from t'));
      const replies = await untilClosed(c);
      assert.match(errorOf(replies).M ?? '', /results beyond the 1 statement\(s\) decided/);
      assert.ok(!replies.some((r) => r.type === 'D' && /^row /.test(r.text ?? '')), JSON.stringify(replies));
      const alarms = Journal.read(recordings).events.filter((e) => e.type === 'alarm');
      assert.ok(alarms.some((a) => /results beyond/.test(String(a.data.reason))));
    });
  });

  describe('every Execute is decided and recorded', () => {
    let p: ProxyUnderTest;
    let recordings: string;
    let dispose: () => Promise<void>;
    before(async () => {
      const policy = await tempPolicy(
        'prepare-only',
        'version: 1\nname: prepare-only\nrules:\n  - name: reads\n    effect: allow\n    when: {kinds: [read, session, transaction]}\n  - name: prepare-anything\n    effect: allow\n    when: {commands: ["PREPARE *"]}\n',
      );
      dispose = policy.dispose;
      recordings = path.join(dir, 'execute');
      p = await proxyFor(sharedCluster(), {
        database: DB,
        config: { policy: policy.file, allowUnsignedPolicy: true, recordings },
      });
    });
    after(async () => {
      await p.close();
      await dispose();
    });

    it('decides a protocol-level Bind/Execute of an SQL-level PREPAREd statement as what it runs', async () => {
      const pgc = await p.connect();
      try {
        await pgc.query('prepare del as delete from t');
        await expectDenied(pgc.query('execute del'), 'EXECUTE of a prepared DELETE');
      } finally {
        await pgc.end();
      }
      const c = await RawClient.connect(p.endpoint);
      try {
        c.send(serialize.query('prepare del2 as delete from t'));
        await c.untilReady();
        c.send(serialize.bind({ statement: 'del2' }), serialize.execute({}), serialize.sync());
        const replies = await c.untilReady();
        assert.equal(errorOf(replies).C, '42501', JSON.stringify(replies));
        assert.match(errorOf(replies).M ?? '', /^airlock: denied/);
      } finally {
        c.close();
      }
      assert.equal(await rowsOfT(), 3);
      const denied = Journal.read(recordings).events.filter(
        (e) => e.type === 'statement' && e.data.decision === 'deny' && e.data.sql === 'EXECUTE "del2"',
      );
      assert.equal(denied.length, 1);
    });

    it('decides and records an Execute of a cursor DECLAREd in SQL as a FETCH from it', async () => {
      const c = await RawClient.connect(p.endpoint);
      try {
        c.send(serialize.query('begin; declare cur cursor for select name from t order by id'));
        await c.untilReady();
        c.send(serialize.execute({ portal: 'cur', rows: 2 }), serialize.sync());
        const replies = await c.untilReady();
        assert.deepEqual(
          replies.filter((r) => r.type === 'D').map((r) => r.text),
          ['row 1', 'row 2'],
        );
        c.send(serialize.query('commit'));
        await c.untilReady();
      } finally {
        c.close();
      }
      const fetched = Journal.read(recordings).events.filter(
        (e) => e.type === 'statement' && e.data.sql === 'FETCH FORWARD ALL FROM "cur"',
      );
      assert.equal(fetched.length, 1);
      assert.equal(fetched[0].data.decision, 'allow');
    });
  });

  it('caps authentication messages before authentication, as PostgreSQL does', async () => {
    const p = await proxyFor(sharedCluster(), { database: DB });
    const conn = await WireConnection.open(p.endpoint.host, p.endpoint.port);
    try {
      conn.send(startupPacket({ user: p.endpoint.user, database: p.endpoint.database }));
      const sasl = await conn.nextMessage();
      assert.equal(sasl.type, 'R');
      // Claims 120 MiB and sends only the header: the proxy must refuse without waiting for (or buffering) it.
      conn.send(typedHeader('p', 120 * 1024 * 1024));
      const err = await conn.nextMessage();
      assert.equal(err.type, 'E');
      assert.match(err.body.toString('utf8'), /exceeds the limit of 65535 bytes/);
      await conn.closedAt;
    } finally {
      conn.socket.destroy();
      await p.close();
    }
  });
});
