import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { hashKeyProblem, installationHashKey } from '../../src/core/masking/hash-key';
import { buildResultMasking } from '../../src/core/masking/result-masking';
import { MaskIndex } from '../../src/core/masking/mask-index';
import { hashMask } from '../../src/core/masking/masks';
import { parsePolicy } from '../../src/core/policy/document';
import { DocumentError } from '../../src/core/validate';
import { installationKey } from '../../src/core/recording/checkpoint';

const repo = path.resolve(__dirname, '../../..');
const policyWithKey = (key: string) =>
  `version: 1\nrules: []\nmasking:\n  hashKey: '${key}'\n  columns: [{ columns: [public.t.ssn], mask: hash }]\n`;

describe('masking hash keys: never shipped, per installation by default', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-hash-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('no example policy carries a hashKey, and hash masks need none', () => {
    const folder = path.join(repo, 'examples/policies');
    for (const f of readdirSync(folder)) {
      const policy = parsePolicy(readFileSync(path.join(folder, f), 'utf8'), f);
      assert.equal(policy.masking?.hashKey, undefined, `${f} ships a hash key`);
    }
    const p = parsePolicy(
      'version: 1\nrules: []\nmasking:\n  columns: [{ columns: [public.t.ssn], mask: hash }]\n',
      'p.yaml',
    );
    assert.equal(p.masking?.columns?.[0].mask, 'hash');
  });

  it('refuses every key that ever appeared in the repository, naming the line, why and what to do', () => {
    // Every hashKey value in the repository's history (examples, docs, tests), read from git itself.
    const log = execFileSync('git', ['log', '--all', '-p', '-G', 'hashKey: ', '--', '.'], {
      cwd: repo,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    const published = new Set(
      [...log.matchAll(/^[+-]\s*hashKey: ([^\s#'"$;{},]+)[ \t]*(?:#.*)?$/gm)].map((m) => m[1]),
    );
    for (const k of ['airlock-demo-hash-key-change-me', 'a-long-random-key', 'test-key-0123456789'])
      assert.ok(published.has(k), `control: git history was read (${k})`);
    for (const key of published) {
      assert.throws(
        () => parsePolicy(policyWithKey(key), 'p.yaml'),
        (e: unknown) =>
          e instanceof DocumentError &&
          /masking\.hashKey \(line 4\): this key is published/.test(e.message) &&
          /remove masking\.hashKey to use this installation's own key/.test(e.message),
        key,
      );
    }
  });

  it('refuses weak keys: under 16 bytes, or a handful of distinct characters', () => {
    assert.throws(() => parsePolicy(policyWithKey('short-key-15byt'), 'p.yaml'), /15 bytes can be guessed/);
    assert.throws(() => parsePolicy(policyWithKey('ab'.repeat(20)), 'p.yaml'), /few distinct characters/);
    assert.equal(hashKeyProblem('Ω'.repeat(4) + 'abcdefgh'), null, '16 bytes of 9 distinct characters');
    const good = randomBytes(24).toString('base64');
    assert.equal(parsePolicy(policyWithKey(good), 'p.yaml').masking?.hashKey, good);
  });

  it('the installation key is derived from the recordings signing key: stable per folder, distinct across folders, not the signing key', () => {
    const a = installationHashKey(installationKey(path.join(dir, 'a')).privateKey);
    const again = installationHashKey(installationKey(path.join(dir, 'a')).privateKey);
    const b = installationHashKey(installationKey(path.join(dir, 'b')).privateKey);
    assert.equal(a.length, 32);
    assert.deepEqual(a, again);
    assert.notDeepEqual(a, b);
    const signing = installationKey(path.join(dir, 'a')).privateKey.export({ type: 'pkcs8', format: 'der' });
    assert.ok(!signing.includes(a.subarray(0, 16)), 'the derived key is not a part of the signing key');
  });

  it('hash masks use the policy key when named, else the installation key', () => {
    const installation = randomBytes(32);
    const index = new MaskIndex({}, undefined);
    const own = buildResultMasking({ hashKey: randomBytes(24).toString('hex') }, index, 'c', installation);
    assert.notDeepEqual(own.hashKey, installation);
    const fallback = buildResultMasking({}, index, 'c', installation);
    assert.deepEqual(fallback.hashKey, installation);
    assert.notEqual(hashMask('900-12-3456', own.hashKey), hashMask('900-12-3456', fallback.hashKey));
  });
});
