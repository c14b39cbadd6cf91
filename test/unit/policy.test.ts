import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { analyzeSql } from '../../src/core/sql/analyze';
import { loadSqlParser } from '../../src/core/sql/parser';
import { evaluateAnalysis, type EvaluationContext } from '../../src/core/policy/evaluate';
import { parsePolicy, type PolicyDocument } from '../../src/core/policy/document';
import { PRESETS, allowsWrites } from '../../src/core/policy/presets';
import { DocumentError } from '../../src/core/validate';

const ctx: EvaluationContext = {
  connection: 'prod',
  actor: { user: 'ada@example.com', groups: ['dba'], agent: 'copilot' },
};
const decide = (policy: PolicyDocument, sql: string, c = ctx) => evaluateAnalysis(policy, analyzeSql(sql), c);

describe('policy evaluation', () => {
  before(() => loadSqlParser());

  const policy = parsePolicy(
    `version: 1
name: test
rules:
  - name: no-secrets
    effect: deny
    when: { relations: ["secret.*"] }
    message: secrets are off limits
    hint: ask the security team
  - name: reads-public
    effect: allow
    when: { kinds: [read], relations: ["public.*"] }
    obligations: { maxRows: 100 }
  - name: reads-small
    effect: allow
    when: { kinds: [read], relations: ["public.orders"] }
    obligations: { maxRows: 10, statementTimeout: 5s }
  - name: dba-writes
    effect: review
    when: { kinds: [write], groups: [dba] }
    review: { approvers: [self], timeout: 2m }
  - name: sleepy
    effect: allow
    when: { kinds: [read], functions: ["category:sleep"], agents: ["copilot:*"] }
`,
    'test.yaml',
  );

  it('denies by a deny rule with its message and hint, even when an allow rule matches too', () => {
    const d = decide(policy, 'select * from customers join secret.keys on true');
    assert.equal(d.effect, 'deny');
    assert.equal(d.rule, 'no-secrets');
    assert.equal(d.effect === 'deny' && d.reason, 'secrets are off limits');
    assert.equal(d.effect === 'deny' && d.hint, 'ask the security team');
  });

  it('allow rules must cover every relation; unqualified names mean public', () => {
    assert.equal(decide(policy, 'select * from customers').effect, 'allow');
    const d = decide(policy, 'select * from customers, other.t');
    assert.equal(d.effect, 'deny');
    assert.match(d.effect === 'deny' ? d.reason : '', /other\.t is outside its relations/);
  });

  it('combines the strictest obligations of every matching allow rule', () => {
    const d = decide(policy, 'select * from orders');
    assert.equal(d.effect, 'allow');
    assert.deepEqual(d.effect === 'allow' && d.obligations, { maxRows: 10, statementTimeout: '5s' });
  });

  it('sends writes to review for the dba group only', () => {
    const d = decide(policy, 'update orders set x = 1');
    assert.equal(d.effect, 'review');
    assert.deepEqual(d.effect === 'review' && d.review, { approvers: ['self'], timeout: '2m' });
    const other = decide(policy, 'update orders set x = 1', { ...ctx, actor: { ...ctx.actor, groups: [] } });
    assert.equal(other.effect, 'deny');
    assert.equal(other.rule, 'default');
  });

  it('permits dangerous functions only where a rule names them, for the agents it names', () => {
    assert.equal(decide(policy, 'select pg_sleep(1)').effect, 'deny');
    const script = {
      ...ctx,
      actor: { ...ctx.actor, agent: 'copilot:run_query#1', channel: 'lm-tool' as const },
    };
    assert.equal(decide(policy, 'select pg_sleep(1)', script).effect, 'allow');
    const d = decide(policy, "select pg_read_file('x')", script);
    assert.equal(d.effect, 'deny');
    assert.match(d.effect === 'deny' ? d.reason : '', /reads-public.*does not permit pg_read_file/);
  });

  it('decides a multi-statement request all or nothing and says which statement was denied', () => {
    const d = decide(PRESETS['read-only'], 'select 1; commit; drop table t');
    assert.equal(d.effect, 'deny');
    assert.match(d.effect === 'deny' ? d.reason : '', /^statement 3 of 3: DROP TABLE \(ddl\)/);
    assert.deepEqual(
      d.statements.map((s) => s.effect),
      ['allow', 'allow', 'deny'],
    );
  });

  it('denies what does not parse', () => {
    const d = decide(PRESETS['allow-all'], 'selec 1');
    assert.equal(d.effect, 'deny');
    assert.equal(d.rule, 'analysis');
  });

  it('allow-all allows dangerous things; read-only refuses them', () => {
    for (const sql of [
      "copy t to program 'x'",
      'set role postgres',
      'do $$begin end$$',
      "select pg_read_file('x')",
    ]) {
      assert.equal(decide(PRESETS['allow-all'], sql).effect, 'allow', sql);
      assert.equal(decide(PRESETS['read-only'], sql).effect, 'deny', sql);
    }
  });

  it('denies a change of the lexical environment under every policy, before any rule, naming the setting', () => {
    for (const [sql, setting] of [
      ['set standard_conforming_strings = off', 'standard_conforming_strings'],
      ["set client_encoding = 'SJIS'", 'client_encoding'],
      ["select 1; select set_config('client_encoding', 'gbk', false)", 'client_encoding'],
    ]) {
      for (const p of [PRESETS['allow-all'], PRESETS['read-only'], policy]) {
        const d = decide(p, sql);
        assert.equal(d.effect, 'deny', `${p.name}: ${sql}`);
        assert.equal(d.rule, 'lexical-environment');
        assert.match(d.effect === 'deny' ? d.reason : '', new RegExp(`change ${setting}`));
        assert.match(
          d.effect === 'deny' ? d.reason : '',
          /standard_conforming_strings=on and in client encodings/,
        );
        assert.match(d.effect === 'deny' ? d.hint : '', /PGCLIENTENCODING=UTF8/);
      }
    }
    assert.equal(decide(PRESETS['read-only'], "set client_encoding = 'UTF8'").effect, 'allow');
  });

  it('read-only refuses RESET and DEFAULT of the read-only and security settings, allows RESET ALL', () => {
    for (const sql of [
      'reset transaction_read_only',
      'set default_transaction_read_only to default',
      'reset role',
      'set session authorization default',
      "select set_config('transaction_read_only', 'off', true)",
    ]) {
      assert.equal(decide(PRESETS['read-only'], sql).effect, 'deny', sql);
      assert.equal(decide(PRESETS['allow-all'], sql).effect, 'allow', sql);
    }
    for (const sql of [
      'reset all',
      'discard all',
      'set default_transaction_read_only = on',
      'lock t in access share mode',
    ])
      assert.equal(decide(PRESETS['read-only'], sql).effect, 'allow', sql);
  });

  it('knows when a policy can allow writes (else the upstream session is made read-only)', () => {
    assert.equal(allowsWrites(PRESETS['read-only'], 'x'), false);
    assert.equal(allowsWrites(PRESETS['allow-all'], 'x'), true);
    assert.equal(allowsWrites(policy, 'prod'), true);
  });

  it('ships example policies that validate, and read-only.yaml is the built-in preset', () => {
    const dir = path.resolve(__dirname, '../../../examples/policies');
    const readOnly = parsePolicy(readFileSync(path.join(dir, 'read-only.yaml'), 'utf8'), 'read-only.yaml');
    assert.deepEqual(readOnly, PRESETS['read-only']);
    const approve = parsePolicy(
      readFileSync(path.join(dir, 'approve-writes.yaml'), 'utf8'),
      'approve-writes.yaml',
    );
    assert.equal(decide(approve, 'insert into t values (1)').effect, 'review');
    assert.equal(decide(approve, 'create table x (a int)').rule, 'no-ddl-or-dcl');
    assert.ok(parseYaml(readFileSync(path.join(dir, 'approve-writes.yaml'), 'utf8')));
    const pii = parsePolicy(readFileSync(path.join(dir, 'pii-masking.yaml'), 'utf8'), 'pii-masking.yaml');
    assert.equal(pii.masking?.content?.detectors, 'all');
    assert.equal(decide(pii, 'select * from customers').effect, 'allow');
  });

  it('checks masking settings: known tags, a pattern or words for custom detectors', () => {
    const base = 'version: 1\nrules: []\nmasking:\n';
    assert.throws(
      () => parsePolicy(base + '  columns: [{ tags: [nope], mask: redact }]\n', 'p.yaml'),
      /unknown tag "nope"/,
    );
    assert.throws(
      () => parsePolicy(base + '  content: { detectors: all, custom: [{ name: x }] }\n', 'p.yaml'),
      /give a pattern or words/,
    );
    assert.throws(
      () =>
        parsePolicy(base + "  content: { detectors: all, custom: [{ name: x, pattern: 'a*' }] }\n", 'p.yaml'),
      /masking\.content\.custom\.0 \(line 4\): .*empty/,
    );
    assert.throws(
      () => parsePolicy(base + '  columns: [{ columns: [customers.email], mask: redact }]\n', 'p.yaml'),
      /must match pattern/,
    );
  });

  it('rejects invalid policies naming the key and line', () => {
    assert.throws(
      () => parsePolicy('version: 1\nrules:\n  - name: a\n    effect: permit\n', 'p.yaml'),
      (e: unknown) =>
        e instanceof DocumentError &&
        /rules\.0\.effect \(line 4\): must be one of "allow", "deny", "review"/.test(e.message),
    );
    assert.throws(
      () => parsePolicy('version: 1\nrules:\n  - name: a\n    effect: review\n', 'p.yaml'),
      /needs review\.approvers/,
    );
    assert.throws(
      () =>
        parsePolicy(
          'version: 1\nrules:\n  - name: a\n    effect: allow\n    when: { kinds: [reads] }\n',
          'p.yaml',
        ),
      /rules\.0\.when\.kinds\.0 \(line 5\)/,
    );
  });
});
