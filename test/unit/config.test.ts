import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, parseUpstreamUrl } from '../../src/config/config';
import { DocumentError } from '../../src/core/validate';

describe('config loading', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-config-'));
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const problems = (file: string): string => {
    try {
      loadConfig(file);
    } catch (e) {
      assert.ok(e instanceof DocumentError, String(e));
      return e.message;
    }
    assert.fail('expected a DocumentError');
  };

  it('loads a valid YAML config and resolves relative paths against its folder', () => {
    const f = write(
      'ok.yaml',
      `connections:
  - name: shop
    kind: postgres
    upstream: postgres://app@db.internal:6432/shop?sslmode=verify-full
    passwordFile: secrets/pw
policy: allow-all
recordings: rec
`,
    );
    const c = loadConfig(f);
    assert.equal(c.connections[0].passwordFile, path.join(dir, 'secrets/pw'));
    assert.equal(c.recordings, path.join(dir, 'rec'));
  });

  it('names the bad key, its line and the allowed values', () => {
    const f = write(
      'kind.yaml',
      `policy: allow-all
connections:
  - name: x
    kind: mysql
    upstream: postgres://a@h/db
`,
    );
    const msg = problems(f);
    assert.match(msg, /connections\.0\.kind \(line 4\): must be one of "postgres"/);
  });

  it('reports unknown and missing keys', () => {
    const msg = problems(write('unknown.json', JSON.stringify({ connections: [], polcy: 'allow-all' })));
    assert.match(msg, /unknown key "polcy"/);
    assert.match(msg, /missing required key "policy"/);
    assert.match(msg, /connections.*must NOT have fewer than 1 items/);
  });

  it('refuses a password in the upstream URL and both password sources at once', () => {
    assert.match(
      problems(
        write(
          'pw.yaml',
          'policy: allow-all\nconnections: [{name: a, kind: postgres, upstream: "postgres://u:secret@h/db"}]\n',
        ),
      ),
      /contains a password/,
    );
    assert.match(
      problems(
        write(
          'both.yaml',
          'policy: allow-all\nconnections: [{name: a, kind: postgres, upstream: "postgres://u@h/db", passwordEnv: X, passwordFile: f}]\n',
        ),
      ),
      /not both/,
    );
  });

  it('reports YAML syntax errors with a line', () => {
    assert.match(
      problems(write('syntax.yaml', 'policy: allow-all\nconnections:\n  - name: [\n')),
      /line \d+/,
    );
  });

  it('refuses non-loopback listen addresses', () => {
    const msg = problems(
      write(
        'listen.yaml',
        'policy: allow-all\nconnections: [{name: a, kind: postgres, upstream: "postgres://u@h/db", listen: "0.0.0.0:5432"}]\n',
      ),
    );
    assert.match(msg, /connections\.0\.listen \(line 2\)/);
  });
});

describe('upstream URL', () => {
  it("applies libpq's defaults", () => {
    assert.deepEqual(parseUpstreamUrl('postgres://alice@db', 'x'), {
      host: 'db',
      port: 5432,
      user: 'alice',
      database: 'alice',
      sslmode: 'prefer',
      sslrootcert: undefined,
    });
  });

  it('rejects unknown sslmodes and parameters', () => {
    assert.throws(() => parseUpstreamUrl('postgres://a@h/d?sslmode=allow', 'x'), /sslmode must be one of/);
    assert.throws(
      () => parseUpstreamUrl('postgres://a@h/d?application_name=z', 'x'),
      /unsupported URL parameter/,
    );
  });
});
