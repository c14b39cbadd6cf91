import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { CLI, runAirlock, type CliResult } from '../helpers/airlock-cli';
import { repoRoot } from '../helpers/policy-fixtures';
import {
  TEST_RESOURCE,
  startTestIdentityProvider,
  type TestIdentityProvider,
} from '../helpers/oidc-provider';

/**
 * `airlock login | whoami | logout` as a person runs them, against a real OpenID provider: the browser
 * is the provider's headless driver, the Airlock server a stand-in that verifies the Bearer token with
 * jose. Every token the test sees is collected, and none may appear in anything the CLI prints.
 */
describe('identity: airlock login, whoami, logout', function () {
  this.timeout(60_000);
  let idp: TestIdentityProvider;
  let dir: string;
  let configFile: string;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];
  const outputs: string[] = [];
  const tokensSeen = new Set<string>();

  beforeEach(async () => {
    idp = await startTestIdentityProvider();
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-identity-cli-'));
    configFile = path.join(dir, 'airlock.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        connections: [{ name: 'shop', kind: 'postgres', upstream: 'postgres://app@127.0.0.1:5432/shop' }],
        policy: 'read-only',
        identity: {
          issuer: idp.issuer,
          clientId: idp.clientId,
          scopes: ['openid', 'email', 'groups'],
          resource: TEST_RESOURCE,
        },
      }),
    );
    // No desktop: the CLI must not try to open a browser, only print the address.
    env = { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'config') };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
  });

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await idp.close();
    rmSync(dir, { recursive: true, force: true });
    for (const token of tokensSeen) {
      for (const out of outputs) assert.ok(!out.includes(token), 'a token appeared in the CLI output');
    }
    outputs.length = 0;
    tokensSeen.clear();
  });

  const airlock = async (...args: string[]): Promise<CliResult> => {
    const result = await runAirlock(args, { env });
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  /** Starts `airlock ARGS`, resolving with the first stdout match of `pattern`, then with the end. */
  function startAirlock(args: string[], pattern: RegExp) {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: repoRoot, env });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const matched = new Promise<RegExpExecArray>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const m = pattern.exec(stdout);
        if (m) resolve(m);
      });
      child.on('exit', () => reject(new Error(`exited before printing ${pattern}: ${stdout}${stderr}`)));
    });
    const ended = new Promise<CliResult>((resolve) =>
      child.on('close', (code) => {
        outputs.push(stdout, stderr);
        resolve({ code: code ?? 1, stdout, stderr });
      }),
    );
    return { matched, ended, child };
  }

  function storedRefreshToken(): { file: string; token: string } | undefined {
    const folder = path.join(dir, 'config', 'airlock', 'sign-in');
    let files: string[];
    try {
      files = readdirSync(folder);
    } catch {
      return undefined;
    }
    assert.ok(files.length <= 1, `one sign-in, one file: ${files}`);
    if (files.length === 0) return undefined;
    const file = path.join(folder, files[0]);
    const token = readFileSync(file, 'utf8');
    tokensSeen.add(token);
    return { file, token };
  }

  async function browserLogin(account: string): Promise<CliResult> {
    const login = startAirlock(['login', '--config', configFile], /^ {2}(http:\/\/\S+)$/m);
    const url = new URL((await login.matched)[1]);
    // The printed address is the authorization request only: nothing in it is a secret.
    assert.deepEqual([...url.searchParams.keys()].sort(), [
      'client_id',
      'code_challenge',
      'code_challenge_method',
      'redirect_uri',
      'resource',
      'response_type',
      'scope',
      'state',
    ]);
    const back = await idp.loginAt(url.href, account);
    assert.equal((await fetch(back)).status, 200);
    return login.ended;
  }

  /** The Airlock server's /v1/whoami, as the control plane answers it: the Bearer verified with jose. */
  async function whoamiServer(): Promise<{ url: string; close: () => Promise<void> }> {
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    const server = http.createServer((req, res) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (req.url !== '/v1/whoami' || !token) return void res.writeHead(401).end();
      tokensSeen.add(token);
      jwtVerify(token, jwks, { issuer: idp.issuer, audience: idp.audience }).then(
        ({ payload }) => {
          const groups = payload.groups as string[];
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              subject: payload.sub,
              email: payload.email,
              groups,
              connections: groups.includes('developers') ? [{ name: 'shop', kind: 'postgres' }] : [],
            }),
          );
        },
        () => res.writeHead(401).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }

  it('login in the browser, whoami with what the server lets the person reach, logout that revokes', async () => {
    const login = await browserLogin('dev');
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Open this address in a browser to sign in/);
    assert.match(login.stdout, /Signed in as dev@example\.com \(groups: developers\)/);
    const stored = storedRefreshToken();
    assert.ok(stored, 'the refresh token is stored');
    assert.match(
      login.stdout,
      new RegExp(`kept in ${stored.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mode 0600\\)`),
    );
    // The file holds the refresh token and nothing else, readable by its owner only.
    assert.equal(statSync(stored.file).mode & 0o777, 0o600);
    assert.match(stored.token, /^[A-Za-z0-9_-]+$/);
    assert.ok(await idp.refreshTokenActive(stored.token));

    const server = await whoamiServer();
    try {
      const whoami = await airlock('whoami', '--config', configFile, '--server', server.url);
      assert.equal(whoami.code, 0, whoami.stderr);
      assert.match(whoami.stdout, /^dev@example\.com \(groups: developers\)$/m);
      assert.match(whoami.stdout, /subject: +dev$/m);
      assert.match(whoami.stdout, new RegExp(`issuer: +${idp.issuer.replace(/\./g, '\\.')}$`, 'm'));
      assert.match(whoami.stdout, /valid until \d{4}-\d\d-\d\dT/);
      assert.match(whoami.stdout, /you may reach\n {2}shop \(postgres\)\n/);
    } finally {
      await server.close();
    }
    // whoami renewed the sign-in: the rotated token replaced the old one in the file.
    const renewed = storedRefreshToken();
    assert.ok(renewed && renewed.token !== stored.token);
    assert.equal(await idp.refreshTokenActive(stored.token), false);

    // Two refresh tokens and the access token the server got: the afterEach looks for each in the output.
    assert.ok(tokensSeen.size >= 3);

    const logout = await airlock('logout', '--config', configFile);
    assert.equal(logout.code, 0, logout.stderr);
    assert.match(logout.stdout, /revoked there and deleted here/);
    assert.equal(storedRefreshToken(), undefined);
    assert.equal(await idp.refreshTokenActive(renewed.token), false);

    const after = await airlock('whoami', '--config', configFile);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /not signed in to .*: run `airlock login`/);
  });

  it('with a desktop, login opens the browser on the authorization request alone (its argv holds no token)', async () => {
    // A stand-in xdg-open that records its arguments: what any process listing would show.
    const bin = path.join(dir, 'bin');
    const argvLog = path.join(dir, 'xdg-open.argv');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${argvLog}'\n`, {
      mode: 0o755,
    });
    env = { ...env, DISPLAY: ':99', PATH: `${bin}:${env.PATH}` };
    const login = startAirlock(['login', '--config', configFile], /^ {2}(http:\/\/\S+)$/m);
    const printed = (await login.matched)[1];
    assert.equal((await fetch(await idp.loginAt(printed, 'dev'))).status, 200);
    const done = await login.ended;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /Sign in in the browser window that opened/);
    // xdg-open runs detached: wait for its record rather than assume it has run.
    for (let i = 0; i < 50 && !existsSync(argvLog); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(readFileSync(argvLog, 'utf8'), `${printed}\n`);
    storedRefreshToken();
  });

  it('login --device: the code entered elsewhere signs in; whoami names the reviewer', async () => {
    const login = startAirlock(
      ['login', '--device', '--config', configFile],
      /enter the code ([A-Z]{4}-[A-Z]{4})/,
    );
    const [, userCode] = await login.matched;
    await idp.approveDevice(userCode, 'rev');
    const done = await login.ended;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, new RegExp(`open ${idp.issuer.replace(/\./g, '\\.')}/device on any device`));
    assert.match(done.stdout, /Signed in as rev@example\.com \(groups: reviewers\)/);
    storedRefreshToken();
    const whoami = await airlock('whoami', '--config', configFile);
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.match(whoami.stdout, /^rev@example\.com \(groups: reviewers\)$/m);
  });

  it('whoami says so when the server has no /v1/whoami, and still names the person', async () => {
    assert.equal((await browserLogin('dev')).code, 0);
    storedRefreshToken();
    const server = http.createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const whoami = await airlock('whoami', '--config', configFile, '--server', url);
      assert.equal(whoami.code, 0, whoami.stderr);
      assert.match(whoami.stdout, /^dev@example\.com/m);
      assert.match(whoami.stdout, /does not offer \/v1\/whoami/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    storedRefreshToken();
  });

  it('the bearer token never goes to a server over plain http off this machine', async () => {
    assert.equal((await browserLogin('dev')).code, 0);
    storedRefreshToken();
    const whoami = await airlock('whoami', '--config', configFile, '--server', 'http://airlock.example.com');
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.match(whoami.stdout, /not asked — the token is only sent over https/);
    storedRefreshToken();
  });

  it('a config without an identity section, and an identity provider that is down, get errors that say what to do', async () => {
    const bare = path.join(dir, 'bare.json');
    writeFileSync(
      bare,
      JSON.stringify({
        connections: [{ name: 'shop', kind: 'postgres', upstream: 'postgres://app@127.0.0.1:5432/shop' }],
        policy: 'read-only',
      }),
    );
    const noIdentity = await airlock('login', '--config', bare);
    assert.equal(noIdentity.code, 1);
    assert.match(noIdentity.stderr, /has no identity section: add identity\.issuer and identity\.clientId/);

    await idp.close();
    const down = await airlock('login', '--config', configFile);
    assert.equal(down.code, 1);
    assert.match(
      down.stderr,
      /cannot reach the identity provider at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });
});
