import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, runAirlock } from '../helpers/airlock-cli';
import { sharedCluster } from '../helpers/global-fixtures';
import { freshDatabase } from '../helpers/policy-fixtures';
import { signingKeyFile, startTestIssuer, AUDIENCE, type TestIssuer } from '../helpers/control-plane';

/**
 * `airlock server` as an operator and an administrator use it: start prints where it listens and that
 * it is plain http on loopback; the admin commands push, list, diff and show the history; what must be
 * refused (plain http off loopback, a signing key others can read) stops the start with the reason.
 */
const POLICY_V1 = `version: 1
name: shop
rules:
  - name: reads
    effect: allow
    when: { kinds: [read] }
`;
const POLICY_V2 = POLICY_V1.replace('kinds: [read]', 'kinds: [read, session]');

describe('airlock server (CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  let issuer: TestIssuer;
  let keys: Awaited<ReturnType<typeof signingKeyFile>>;
  let child: ChildProcess | null = null;
  let url = '';
  let env: NodeJS.ProcessEnv;

  const config = (extra = '') => {
    const c = sharedCluster();
    return `listen: { host: 127.0.0.1, port: 0 }
database: { url: "postgres://${c.user}@${c.host}:${c.port}/airlock_server_cli" }
oidc: { issuer: "${issuer.issuer}", audience: ${AUDIENCE} }
adminGroups: [platform]
signingKeys: { file: "${keys.file}" }
${extra}`;
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-server-cli-'));
    issuer = await startTestIssuer();
    keys = await signingKeyFile();
    await freshDatabase(sharedCluster(), 'airlock_server_cli', 'select 1');
    writeFileSync(path.join(dir, 'server.yaml'), config());
    writeFileSync(path.join(dir, 'v1.yaml'), POLICY_V1);
    writeFileSync(path.join(dir, 'v2.yaml'), POLICY_V2);
    env = {
      ...process.env,
      AIRLOCK_SERVER_DATABASE_PASSWORD: sharedCluster().password,
      AIRLOCK_ACCESS_TOKEN: await issuer.token({
        sub: 'ops-1',
        email: 'ops@example.com',
        groups: ['platform'],
      }),
    };
    child = spawn(process.execPath, [CLI, 'server', 'start', '--config', path.join(dir, 'server.yaml')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child!.once('exit', (code) => reject(new Error(`airlock server exited ${code}: ${out}`)));
    });
    assert.match(out, /plain http on loopback only, without TLS/);
    assert.match(out, /store: PostgreSQL, migrations 1 applied/);
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await issuer?.close();
    keys?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  const airlock = (...args: string[]) => runAirlock([...args, '--server', url], { env });

  it('push, list, diff and history', async () => {
    const conn = await airlock(
      'server',
      'connection',
      'put',
      'shop',
      '--upstream',
      'db:5432/shop',
      '--groups',
      'dev',
    );
    assert.equal(conn.code, 0, conn.stderr);
    const push = await airlock(
      'server',
      'policy',
      'push',
      'shop',
      path.join(dir, 'v1.yaml'),
      '--groups',
      'dev',
      '--connections',
      'shop',
      '--comment',
      'reads only',
    );
    assert.equal(push.code, 0, push.stderr);
    assert.equal(push.stdout, 'pushed shop v1\n');
    const same = await airlock('server', 'policy', 'diff', 'shop', path.join(dir, 'v1.yaml'));
    assert.equal(same.code, 0);
    assert.match(same.stdout, /is the same as shop v1/);
    const diff = await airlock('server', 'policy', 'diff', 'shop', path.join(dir, 'v2.yaml'));
    assert.equal(diff.code, 1, 'differences exit 1, like diff(1)');
    assert.match(diff.stdout, /^\+ +"session"$/m);
    const v2 = await airlock(
      'server',
      'policy',
      'push',
      'shop',
      path.join(dir, 'v2.yaml'),
      '--groups',
      'dev',
      '--connections',
      'shop',
      '--comment',
      'allow SET',
    );
    assert.equal(v2.stdout, 'pushed shop v2\n');
    const history = await airlock('server', 'policy', 'history', 'shop');
    assert.match(
      history.stdout,
      /shop v2 .* ops@example\.com .*\n {4}allow SET\nshop v1 .* ops@example\.com .*\n {4}reads only\n/,
    );
    const listed = await airlock('server', 'policy', 'list');
    assert.match(listed.stdout, /^shop v2 .*groups dev {2}connections shop {2}priority 100\n/);
  });

  it('an administrator outside the admin groups is told which group it takes', async () => {
    const res = await runAirlock(['server', 'policy', 'list', '--server', url], {
      env: { ...env, AIRLOCK_ACCESS_TOKEN: await issuer.token({ sub: 'dev-1', groups: ['dev'] }) },
    });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /only members of "platform" may change policies/);
  });

  it('refuses plain http off loopback', async () => {
    writeFileSync(path.join(dir, 'open.yaml'), config().replace('host: 127.0.0.1', 'host: 0.0.0.0'));
    const res = await runAirlock(['server', 'start', '--config', path.join(dir, 'open.yaml')], { env });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /refusing plain http on 0\.0\.0\.0: set tls\.cert and tls\.key/);
  });

  it('refuses a signing key file others can read, and a password in the database URL', async () => {
    chmodSync(keys.file, 0o644);
    try {
      const res = await runAirlock(['server', 'start', '--config', path.join(dir, 'server.yaml')], { env });
      assert.equal(res.code, 1);
      assert.match(res.stderr, /readable by others \(mode 644\): the signing key must be 0600/);
    } finally {
      chmodSync(keys.file, 0o600);
    }
    const res = await runAirlock(
      [
        'server',
        'start',
        '--config',
        path.join(dir, 'server.yaml'),
        '--database-url',
        'postgres://u:secret@h/db',
      ],
      { env },
    );
    assert.equal(res.code, 2);
    assert.match(res.stderr, /must not hold a password/);
  });
});
