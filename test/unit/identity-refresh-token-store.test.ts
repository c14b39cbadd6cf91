import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { refreshTokenFile, userConfigDir } from '../../src/identity/refresh-token-store';

describe('identity: the refresh token at rest', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-token-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const idp = { issuer: 'https://idp.example.com', clientId: 'airlock' };

  it('a 0600 file in a 0700 folder holding the token and nothing else; replaced whole, no leftovers', async () => {
    const store = refreshTokenFile(idp, dir);
    assert.equal(await store.load(), undefined);
    await store.save('first-token');
    await store.save('second-token');
    assert.equal(readFileSync(store.location, 'utf8'), 'second-token');
    assert.equal(await store.load(), 'second-token');
    assert.equal(statSync(store.location).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(store.location)).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(path.dirname(store.location)), [path.basename(store.location)]);
    await store.clear();
    assert.equal(await store.load(), undefined);
    assert.deepEqual(readdirSync(path.dirname(store.location)), []);
  });

  it('a file or folder someone opened up is closed again on the next save', async () => {
    const store = refreshTokenFile(idp, dir);
    await store.save('t1');
    chmodSync(store.location, 0o644);
    chmodSync(path.dirname(store.location), 0o755);
    await store.save('t2');
    assert.equal(statSync(store.location).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(store.location)).mode & 0o777, 0o700);
  });

  it('one file per issuer and client, whose name gives away neither', () => {
    const a = refreshTokenFile(idp, dir).location;
    const b = refreshTokenFile({ ...idp, clientId: 'other' }, dir).location;
    const c = refreshTokenFile({ ...idp, issuer: 'https://other.example.com' }, dir).location;
    assert.equal(new Set([a, b, c]).size, 3);
    for (const f of [a, b, c]) assert.match(path.basename(f), /^[0-9a-f]{32}\.refresh-token$/);
  });

  it('lives under $XDG_CONFIG_HOME/airlock, else ~/.config/airlock (a relative XDG path is ignored)', () => {
    assert.equal(userConfigDir({ XDG_CONFIG_HOME: '/x/conf' }), '/x/conf/airlock');
    assert.equal(
      userConfigDir({ XDG_CONFIG_HOME: 'relative' }),
      path.join(os.homedir(), '.config', 'airlock'),
    );
    assert.equal(userConfigDir({}), path.join(os.homedir(), '.config', 'airlock'));
  });
});
