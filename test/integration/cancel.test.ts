import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { sharedCluster } from '../helpers/global-fixtures';
import { proxyFor, type ProxyUnderTest } from '../helpers/proxy';
import {
  createDatabase,
  directClientConfig,
  directEnv,
  dropDatabase,
  proxiedClientConfig,
  proxiedEnv,
  waitFor,
} from '../helpers/clients';

/**
 * Query cancellation: a CancelRequest arrives on a fresh connection carrying the key the client got in
 * BackendKeyData. Through Airlock that key is the proxy's own, which it must map to the upstream backend's
 * key — and a wrong key must cancel nothing.
 */
const DB = 'cancel_compat';
/** How long a cancelled statement may take to end; the statements themselves sleep 30 s. */
const CANCEL_BOUND_MS = 5000;

type KeyedClient = pg.Client & { processID: number; secretKey: number };

describe('query cancellation through the proxy', function () {
  let p: ProxyUnderTest;
  let observer: pg.Client;
  const clients: pg.Client[] = [];
  const children: ChildProcess[] = [];

  before(async () => {
    await createDatabase(sharedCluster(), DB);
    p = await proxyFor(sharedCluster(), { database: DB });
    observer = new pg.Client(directClientConfig(sharedCluster(), DB));
    await observer.connect();
  });

  afterEach(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    // Nothing a test started may keep running on the server.
    await observer.query(
      "select pg_terminate_backend(pid) from pg_stat_activity where query like '%airlock-cancel-%' and pid <> pg_backend_pid()",
    );
  });

  after(async () => {
    await observer?.end();
    await p?.close();
    await dropDatabase(sharedCluster(), DB);
  });

  /** Backends (seen directly on the server) currently running a statement containing `marker`. */
  async function activeWith(marker: string): Promise<number[]> {
    const r = await observer.query(
      "select pid from pg_stat_activity where state = 'active' and query like '%' || $1 || '%' and pid <> pg_backend_pid()",
      [marker],
    );
    return r.rows.map((x: { pid: number }) => x.pid);
  }

  async function connect(side: 'direct' | 'proxied'): Promise<KeyedClient> {
    const c = new pg.Client(
      side === 'direct' ? directClientConfig(sharedCluster(), DB) : proxiedClientConfig(p),
    );
    c.on('error', () => undefined);
    clients.push(c);
    await c.connect();
    return c as KeyedClient;
  }

  /** Sends a CancelRequest as libpq does: a fresh connection, one 16-byte packet, then the server closes it. */
  function sendCancel(port: number, host: string, processId: number, secretKey: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('the CancelRequest connection was not closed by the server'));
      }, CANCEL_BOUND_MS);
      socket.once('connect', () => socket.write(serialize.cancel(processId, secretKey)));
      socket.on('data', () => undefined);
      socket.once('error', () => undefined);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  function settleWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      promise.finally(() => clearTimeout(timer)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms);
      }),
    ]);
  }

  describe('psql and Ctrl-C (SIGINT)', () => {
    /** Runs psql with a 30 s sleep, sends SIGINT once the server runs it, and reports how psql ended. */
    async function interruptedPsql(env: NodeJS.ProcessEnv, marker: string) {
      const cluster = sharedCluster();
      const child = spawn(
        path.join(cluster.binDir, 'psql'),
        ['-X', '-c', `select pg_sleep(30) /* ${marker} */`],
        {
          env: { PATH: process.env.PATH, LC_ALL: 'C.UTF-8', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      children.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await waitFor(
        async () => (await activeWith(marker)).length === 1,
        10_000,
        `psql's statement to start (${marker})`,
      );
      child.kill('SIGINT');
      const code = await settleWithin(exited, CANCEL_BOUND_MS, 'psql after SIGINT');
      // psql has exited; the server must not still be sleeping for it.
      const stillRunning = await activeWith(marker);
      return { code, stdout, stderr, stillRunning };
    }

    it('SIGINT cancels the running statement upstream, exactly as directly', async () => {
      const direct = await interruptedPsql(directEnv(sharedCluster(), DB), 'airlock-cancel-psql-direct');
      assert.match(direct.stderr, /canceling statement due to user request/);
      const proxied = await interruptedPsql(proxiedEnv(p), 'airlock-cancel-psql-proxied');
      assert.deepEqual(proxied, direct);
      assert.deepEqual(proxied.stillRunning, []);
    });
  });

  describe('a hand-made CancelRequest with the key from BackendKeyData', () => {
    it('the client gets the upstream backend’s pid, as directly, with a secret key of the proxy’s own', async () => {
      const direct = await connect('direct');
      const directPid = (await direct.query('select pg_backend_pid() as pid')).rows[0].pid;
      assert.equal(direct.processID, directPid, 'directly, BackendKeyData carries the backend pid');
      const c = await connect('proxied');
      const upstreamPid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      assert.equal(
        c.processID,
        upstreamPid,
        'through the proxy too, pg_backend_pid() matches BackendKeyData',
      );
      const seen = await observer.query('select pid from pg_stat_activity where pid = $1', [upstreamPid]);
      assert.equal(seen.rowCount, 1, 'the proxied session runs on an upstream backend of its own');
      // The secret is the proxy's: sent straight to the server, it cancels nothing.
      const marker = 'airlock-cancel-direct-key';
      const sleeping = c.query(`select pg_sleep(30) /* ${marker} */`).then(
        () => null,
        (err: pg.DatabaseError) => err,
      );
      await waitFor(
        async () => (await activeWith(marker)).includes(upstreamPid),
        10_000,
        'the statement to start',
      );
      const cluster = sharedCluster();
      await sendCancel(cluster.port, cluster.host, c.processID, c.secretKey);
      await new Promise((r) => setTimeout(r, 750));
      assert.deepEqual(await activeWith(marker), [upstreamPid], 'the upstream accepted the proxy-issued key');
      await sendCancel(p.endpoint.port, p.endpoint.host, c.processID, c.secretKey);
      const err = await settleWithin(sleeping, CANCEL_BOUND_MS, 'the cancelled statement');
      assert.equal(err?.code, '57014');
    });

    it('a wrong secret key or pid cancels nothing; the right key cancels the statement', async () => {
      const c = await connect('proxied');
      const upstreamPid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const marker = 'airlock-cancel-key';
      const sleeping = c.query(`select pg_sleep(30) /* ${marker} */`).then(
        () => null,
        (err: pg.DatabaseError) => err,
      );
      await waitFor(
        async () => (await activeWith(marker)).includes(upstreamPid),
        10_000,
        'the statement to start',
      );
      const { host, port } = p.endpoint;
      // A wrong secret or a wrong pid must be ignored.
      await sendCancel(port, host, c.processID, (c.secretKey ^ 0x5a5a5a5) | 0);
      await sendCancel(port, host, (c.processID ^ 0x1) | 0, c.secretKey);
      // A cancel, had one been forwarded, acts within milliseconds; give it ample time to show.
      await new Promise((r) => setTimeout(r, 750));
      assert.deepEqual(
        await activeWith(marker),
        [upstreamPid],
        'a CancelRequest with a wrong key cancelled the statement',
      );
      const early = await Promise.race([sleeping, Promise.resolve('pending')]);
      assert.equal(early, 'pending');

      await sendCancel(port, host, c.processID, c.secretKey);
      const err = await settleWithin(sleeping, CANCEL_BOUND_MS, 'the cancelled statement');
      assert.ok(err, 'the statement was not cancelled');
      assert.equal(err.code, '57014');
      assert.equal(err.message, 'canceling statement due to user request');
      assert.deepEqual(await activeWith(marker), []);
      // The session itself goes on.
      assert.deepEqual((await c.query('select 1 as ok')).rows, [{ ok: 1 }]);
      assert.equal((await c.query('select pg_backend_pid() as pid')).rows[0].pid, upstreamPid);
    });

    it('a cancel reaches only its own session', async () => {
      const a = await connect('proxied');
      const b = await connect('proxied');
      const marker = 'airlock-cancel-two';
      const pidA = (await a.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const pidB = (await b.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const qa = a.query(`select pg_sleep(30) /* ${marker} a */`).then(
        () => null,
        (err: pg.DatabaseError) => err,
      );
      const qb = b.query(`select pg_sleep(30) /* ${marker} b */`).then(
        () => null,
        (err: pg.DatabaseError) => err,
      );
      await waitFor(async () => (await activeWith(marker)).length === 2, 10_000, 'both statements to start');
      await sendCancel(p.endpoint.port, p.endpoint.host, b.processID, b.secretKey);
      const errB = await settleWithin(qb, CANCEL_BOUND_MS, "b's cancelled statement");
      assert.equal(errB?.code, '57014');
      assert.deepEqual(await activeWith(marker), [pidA]);
      await sendCancel(p.endpoint.port, p.endpoint.host, a.processID, a.secretKey);
      const errA = await settleWithin(qa, CANCEL_BOUND_MS, "a's cancelled statement");
      assert.equal(errA?.code, '57014');
      assert.notEqual(pidA, pidB);
    });

    it('a cancel is complete when its connection closes: it never hits the next statement', async () => {
      // libpq's PQcancel waits for the server to close the cancel connection, because PostgreSQL closes it
      // only after signalling the backend: "Without this delay, we might issue another command only to
      // find that our cancel zaps that command instead of the one we thought we were canceling."
      // A backend that is idle when the signal arrives ignores it, so the next statement must run.
      const observe = async (side: 'direct' | 'proxied') => {
        const c = await connect(side);
        const target =
          side === 'direct' ? { host: sharedCluster().host, port: sharedCluster().port } : p.endpoint;
        const outcomes: string[] = [];
        for (let i = 0; i < 10; i++) {
          await sendCancel(target.port, target.host, c.processID, c.secretKey);
          outcomes.push(
            await c.query('select pg_sleep(0.2) /* airlock-cancel-idle */').then(
              () => 'ran',
              (err: pg.DatabaseError) => `failed: ${err.code} ${err.message}`,
            ),
          );
        }
        return outcomes;
      };
      const direct = await observe('direct');
      assert.deepEqual(direct, Array(10).fill('ran'));
      assert.deepEqual(await observe('proxied'), direct);
    });
  });
});
