import assert from 'node:assert/strict';
import { analyzeSql } from '../../src/core/sql/analyze';
import { loadSqlParser } from '../../src/core/sql/parser';
import { evaluateAnalysis } from '../../src/core/policy/evaluate';
import { parsePolicy } from '../../src/core/policy/document';
import { actorLabel, agentLabel, type Actor } from '../../src/core/identity/actor';
import { printable } from '../../src/core/text/printable';
import { streamLogger } from '../../src/core/log';

describe('attribution: agent names in policy rules', () => {
  before(() => loadSqlParser());

  const policy = parsePolicy(
    `version: 1
rules:
  - name: no-evil
    effect: deny
    when: { agents: ["*evil*"] }
  - name: mcp-reads
    effect: allow
    when: { kinds: [read], agents: ["mcp:*"] }
  - name: claude-writes
    effect: allow
    when: { kinds: [write], agents: ["mcp:claude*"] }
  - name: copilot-writes
    effect: review
    when: { kinds: [write], agents: ["copilot:*"] }
    review: { approvers: [self] }
`,
    'attribution.yaml',
  );
  const decide = (sql: string, agent: Partial<Actor>) =>
    evaluateAnalysis(policy, analyzeSql(sql), {
      connection: 'c',
      actor: { user: 'ada', groups: [], ...agent },
    });

  it('an allow rule does not match a name the client only claims', () => {
    const d = decide('select 1', { agent: 'mcp:claude-code/1.0' });
    assert.equal(d.effect, 'deny');
    assert.match(d.effect === 'deny' ? d.reason : '', /"mcp:claude-code\/1\.0" is only claimed/);
    assert.equal(decide('update t set x = 1', { agent: 'copilot:run_query#1' }).effect, 'deny');
  });

  it('an allow rule matches the verified channel, but not the MCP client name claimed within it', () => {
    assert.equal(decide('select 1', { agent: 'mcp:anything/1', channel: 'mcp' }).effect, 'allow');
    // `mcp:claude*` names a client: the MCP client reports its own name, so the rule cannot trust it.
    assert.equal(decide('update t set x = 1', { agent: 'mcp:claude-code/1', channel: 'mcp' }).effect, 'deny');
    // The LM tools adapter makes its names itself: all of it is verified.
    const lm = decide('update t set x = 1', { agent: 'copilot:run_query#7', channel: 'lm-tool' });
    assert.equal(lm.effect, 'review');
  });

  it('a deny rule matches a claimed name too (claiming it only gets the client denied)', () => {
    assert.equal(decide('select 1', { agent: 'mcp:evil', channel: 'mcp' }).rule, 'no-evil');
    assert.equal(decide('select 1', { agent: 'evil-script' }).rule, 'no-evil');
  });
});

describe('attribution: labels for people', () => {
  it('says how far the agent name is verified', () => {
    assert.equal(actorLabel({ user: 'ada', agent: 'mcp:evil' }), 'ada via mcp:evil (claimed)');
    assert.equal(
      agentLabel({ agent: 'mcp:claude/1', channel: 'mcp' }),
      'mcp:claude/1 (verified: MCP channel; client name claimed)',
    );
    assert.equal(
      agentLabel({ agent: 'copilot:run_query#1', channel: 'lm-tool' }),
      'copilot:run_query#1 (verified: VS Code language-model tool)',
    );
    assert.equal(actorLabel({ user: 'ada' }), 'ada');
    assert.equal(
      actorLabel({ user: 'ada', agent: '\x1b]0;pwned\x07' }),
      'ada via \\x1b]0;pwned\\x07 (claimed)',
    );
  });
});

describe('printable', () => {
  it('writes out controls, escape sequences, bidi overrides and invisible characters', () => {
    assert.equal(printable('\x1b]0;pwned\x07\x1b[2J'), '\\x1b]0;pwned\\x07\\x1b[2J');
    assert.equal(
      printable('a\u202eb\u2066c\u2069d\u200be\ufeff'),
      'a\\u202eb\\u2066c\\u2069d\\u200be\\ufeff',
    );
    assert.equal(printable('\x00\x7f\x85\u2028\u00ad'), '\\x00\\x7f\\x85\\u2028\\xad');
    assert.equal(printable('line\nnext\ttab\r'), 'line\\nnext\\ttab\\r');
  });

  it('keeps newlines, CRLF and tabs in multi-line text, and nothing else hidden', () => {
    assert.equal(
      printable('select 1\r\n\tfrom t\r-- \x1b[2J', { multiline: true }),
      'select 1\r\n\tfrom t\\r-- \\x1b[2J',
    );
  });

  it('leaves printable text alone (the same string: nothing allocated)', () => {
    const text = 'SELECT name, ünïcödé, 名前, emoji 🙂 FROM t';
    assert.equal(printable(text), text);
    assert.equal(printable(printable('\x1b')), '\\x1b');
  });
});

describe('log lines', () => {
  it('are one line each, with a client-given text neutralised', () => {
    const lines: string[] = [];
    const log = streamLogger('debug', {
      write: (t: string) => lines.push(t),
    } as unknown as NodeJS.WritableStream);
    log.info('session from \x1b]0;pwned\x07 denied\n2026-01-01T00:00:00.000Z info  forged line');
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /session from \\x1b\]0;pwned\\x07 denied\\n2026-01-01T00:00:00\.000Z info {2}forged line\n$/,
    );
  });
});
