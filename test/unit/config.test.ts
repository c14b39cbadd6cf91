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
    assert.match(msg, /\(top level\) \(line 1\): unknown key "polcy"/);
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

  it('points an unknown key at its own line, and post-schema checks at theirs', () => {
    const msg = problems(
      write(
        'lines.yaml',
        'policy: read-only\nconnections:\n  - name: a\n    kind: postgres\n    upstream: postgres://u@h/db\n    passwordEnv: X\n    passwordFile: f\nlogLevl: debug\n',
      ),
    );
    assert.match(msg, /\(top level\) \(line 8\): unknown key "logLevl"/);
    const dup = problems(
      write(
        'dup.yaml',
        'policy: read-only\nconnections:\n  - name: a\n    kind: postgres\n    upstream: postgres://u@h/db\n    passwordEnv: X\n    passwordFile: f\n',
      ),
    );
    assert.match(dup, /connections\.0 \(line 3\): give passwordEnv or passwordFile, not both/);
  });

  it('never echoes a password from a URL it cannot parse', () => {
    const msg = problems(
      write(
        'badurl.yaml',
        'policy: read-only\nconnections: [{name: a, kind: postgres, upstream: "postgres://app:hunter2@h:99999999/db"}]\n',
      ),
    );
    assert.match(
      msg,
      /connections\.0\.upstream \(line 2\): "postgres:\/\/app:\*\*\*@h:99999999\/db" is not a valid URL/,
    );
    assert.doesNotMatch(msg, /hunter2/);
  });

  it('requires allowUnsignedPolicy for an unsigned policy file and policyKeys for a bundle', () => {
    assert.match(
      problems(
        write(
          'unsigned.yaml',
          'policy: p.yaml\nconnections: [{name: a, kind: postgres, upstream: "postgres://u@h/db"}]\n',
        ),
      ),
      /policy \(line 1\): .*unsigned policy file; set allowUnsignedPolicy: true/,
    );
    assert.match(
      problems(
        write(
          'bundle.yaml',
          'policy: p.jws\nconnections: [{name: a, kind: postgres, upstream: "postgres://u@h/db"}]\n',
        ),
      ),
      /policy \(line 1\): a signed bundle needs policyKeys/,
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
    assert.deepEqual(parseUpstreamUrl('postgres://alice@db'), {
      host: 'db',
      port: 5432,
      user: 'alice',
      database: 'alice',
      sslmode: 'prefer',
      sslrootcert: undefined,
    });
  });

  it('rejects unknown sslmodes and parameters', () => {
    assert.throws(() => parseUpstreamUrl('postgres://a@h/d?sslmode=allow'), /sslmode must be one of/);
    assert.throws(() => parseUpstreamUrl('postgres://a@h/d?application_name=z'), /unsupported URL parameter/);
  });
});
