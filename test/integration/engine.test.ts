import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { AirlockConfig } from '../../src/config/config';
import type { IdentitySource } from '../../src/core/identity/identity-source';
import { silentLogger } from '../../src/core/log';
import { Journal } from '../../src/core/recording/journal';
import { Airlock } from '../../src/engine/airlock';
import type { LocalEndpoint } from '../../src/proxy/listeners';
import { sharedCluster } from '../helpers/global-fixtures';

/**
 * The composition root: one Airlock built from a configuration, whose identity source is the one place
 * the human comes from — for the gate's rules, the recording and the agents' explanations alike.
 */
const POLICY = `version: 1
name: engine
rules:
  - name: dba-reads
    effect: allow
    when: { kinds: [read], groups: [dba] }
  - name: settings
    effect: allow
    when: { kinds: [session] }
`;

describe('the Airlock engine (composition root)', () => {
  let dir: string;
  const envName = 'AIRLOCK_ENGINE_TEST_PW';

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-engine-'));
    writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
    process.env[envName] = sharedCluster().password;
  });
  after(() => {
    delete process.env[envName];
    rmSync(dir, { recursive: true, force: true });
  });

  const configFor = (recordings: string): AirlockConfig => {
    const c = sharedCluster();
    return {
      connections: [
        {
          name: 'db',
          kind: 'postgres',
          upstream: `postgres://${c.user}@${c.host}:${c.port}/postgres?sslmode=require`,
          passwordEnv: envName,
          listen: '127.0.0.1:0',
        },
      ],
      policy: path.join(dir, 'policy.yaml'),
      allowUnsignedPolicy: true,
      recordings,
    };
  };
  const query = async (e: LocalEndpoint, sql: string) => {
    const client = new pg.Client({ ...e, application_name: 'engine-test' });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };
  const sessionStarts = (recordings: string) =>
    Journal.read(recordings)
      .events.filter((e) => e.type === 'session-start')
      .map((e) => e.data.actor as Record<string, unknown>);

  it('by default acts for the OS user, recorded as established locally (unverified)', async () => {
    const recordings = path.join(dir, 'local');
    const airlock = await Airlock.start(configFor(recordings), { log: silentLogger });
    try {
      const [e] = await airlock.connect();
      // The OS user is in no group: the dba rule does not apply, the default denies.
      await assert.rejects(query(e, 'select 1'), { code: '42501' });
    } finally {
      await airlock.close();
    }
    const [actor] = sessionStarts(recordings);
    assert.equal(actor.user, os.userInfo().username);
    assert.equal(actor.established, 'local');
  });

  it('takes the human from the identity source it is given: rules, recording and explanations follow it', async () => {
    const recordings = path.join(dir, 'plugged');
    const identity: IdentitySource = {
      current: () => ({ user: 'alice@example.com', groups: ['dba'], established: 'verified' }),
    };
    const airlock = await Airlock.start(configFor(recordings), { log: silentLogger, identity });
    try {
      const [e] = await airlock.connect();
      assert.deepEqual((await query(e, 'select 41 + 1 as n')).rows, [{ n: 42 }]);
      const explained = await airlock.services.explain('db', 'select 1', { name: 'x', channel: 'mcp' });
      assert.equal(explained.effect, 'allow', explained.text);
      assert.match(explained.text, /dba-reads/);
    } finally {
      await airlock.close();
    }
    const [actor] = sessionStarts(recordings);
    assert.equal(actor.user, 'alice@example.com');
    assert.deepEqual(actor.groups, ['dba']);
    assert.equal(actor.established, 'verified');
  });

  it('reads the human as each session starts: a sign-in that changes or ends applies to the next connection', async () => {
    const recordings = path.join(dir, 'changing');
    let human: ReturnType<IdentitySource['current']> | null = {
      user: 'bob@example.com',
      groups: ['support'],
      established: 'verified',
    };
    const identity: IdentitySource = {
      current: () => {
        if (!human) throw new Error('the sign-in ended (signed out)');
        return human;
      },
    };
    const airlock = await Airlock.start(configFor(recordings), { log: silentLogger, identity });
    try {
      const [e] = await airlock.connect();
      await assert.rejects(query(e, 'select 1'), { code: '42501' });
      human = { user: 'alice@example.com', groups: ['dba'], established: 'verified' };
      assert.deepEqual((await query(e, 'select 1 as n')).rows, [{ n: 1 }], 'the same listener, a new human');
      human = null;
      await assert.rejects(query(e, 'select 1'), (err: pg.DatabaseError) => {
        assert.equal(err.code, '28000');
        assert.match(err.message, /no signed-in identity: the sign-in ended/);
        assert.match(String(err.hint), /Sign in again/);
        return true;
      });
    } finally {
      await airlock.close();
    }
    assert.deepEqual(
      sessionStarts(recordings).map((a) => a.user),
      ['bob@example.com', 'alice@example.com'],
      'a refused client starts no recorded session',
    );
  });

  it('starts listeners on connect, once per connection, and close stops them', async () => {
    const airlock = await Airlock.start(configFor(path.join(dir, 'lifecycle')), { log: silentLogger });
    let port: number;
    try {
      assert.deepEqual(airlock.endpoints, []);
      const [first] = await airlock.connect('db');
      port = first.port;
      const again = await airlock.connect();
      assert.deepEqual(
        again.map((e) => e.port),
        [port],
        'connecting again keeps the listener',
      );
      await assert.rejects(airlock.connect('nope'), /no connection named "nope"/);
    } finally {
      await airlock.close();
    }
    assert.deepEqual(airlock.endpoints, []);
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve('connected')));
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    assert.equal(refused, 'ECONNREFUSED');
  });
});
