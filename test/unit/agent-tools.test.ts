import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { applicationName, lmToolAgentName, mcpAgentName } from '../../src/agents/agent-name';
import type { AgentBackend } from '../../src/agents/backend';
import { localBackend } from '../../src/agents/backend';
import { errorText, outcomeText, table } from '../../src/agents/format';
import {
  languageModelToolAdapters,
  languageModelToolContributions,
  mcpServerDefinitionProviderContribution,
} from '../../src/agents/lm-tools';
import {
  AGENT_TOOLS,
  agentTool,
  callAgentTool,
  inputProblems,
  InvalidToolInput,
} from '../../src/agents/tools';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  contributes: { languageModelTools?: unknown[]; mcpServerDefinitionProviders?: unknown[] };
};

const tool = (name: string) => {
  const t = agentTool(name);
  assert.ok(t, name);
  return t;
};

describe('agent tools: one definition, two adapters', () => {
  it('the four tools exist, with distinct names, titles and descriptions for a model', () => {
    assert.deepEqual(
      AGENT_TOOLS.map((t) => t.name),
      ['list_connections', 'describe_schema', 'run_query', 'explain_query'],
    );
    for (const t of AGENT_TOOLS) {
      assert.match(t.name, /^[a-z_]+$/);
      assert.ok(t.title.length > 5);
      assert.ok(t.description.length > 100, `${t.name}: the description is what the model reads`);
    }
    assert.match(tool('run_query').description, /airlock: denied/);
    assert.match(tool('run_query').description, /do not try to work around/);
    assert.match(tool('run_query').description, /masked/);
    assert.match(tool('describe_schema').description, /masked/);
  });

  it('every input schema compiles under ajv strict mode', () => {
    const ajv = new Ajv({ strict: true });
    for (const t of AGENT_TOOLS) assert.doesNotThrow(() => ajv.compile(t.inputSchema), t.name);
  });

  it("package.json's languageModelTools are generated from the definitions (names, descriptions, schemas)", () => {
    const expected = languageModelToolContributions();
    assert.deepEqual(
      pkg.contributes.languageModelTools,
      expected,
      'package.json contributes.languageModelTools is out of date; regenerate it from languageModelToolContributions():\n' +
        JSON.stringify(expected, null, 2),
    );
    const lm = expected.map((e) => [e.name, e.modelDescription, e.inputSchema]);
    assert.deepEqual(
      lm,
      AGENT_TOOLS.map((t) => [`airlock_${t.name}`, t.description, t.inputSchema]),
    );
    assert.deepEqual(pkg.contributes.mcpServerDefinitionProviders, [mcpServerDefinitionProviderContribution]);
  });

  it('the LM adapters cover every tool and show the exact SQL and connection', () => {
    const adapters = languageModelToolAdapters({} as AgentBackend);
    assert.deepEqual(
      adapters.map((a) => a.name),
      AGENT_TOOLS.map((t) => `airlock_${t.name}`),
    );
    const run = adapters.find((a) => a.name === 'airlock_run_query');
    const msg = run?.invocationMessage({ connection: 'shop', sql: 'select * from customers' }) ?? '';
    assert.match(msg, /shop/);
    assert.match(msg, /select \* from customers/);
  });
});

describe('agent tools: input validation', () => {
  it('names what is wrong: wrong type, missing, unknown argument, out of range', () => {
    const run = tool('run_query');
    assert.deepEqual(inputProblems(run, { sql: 'select 1' }), []);
    assert.deepEqual(inputProblems(run, { sql: 42 }), ['"sql" must be string']);
    assert.deepEqual(inputProblems(run, {}), ['missing required argument "sql"']);
    assert.deepEqual(inputProblems(run, { sql: 'select 1', rows: 3 }), ['unknown argument "rows"']);
    assert.deepEqual(inputProblems(run, { sql: 'select 1', maxRows: 0 }), ['"maxRows" must be >= 1']);
    assert.deepEqual(inputProblems(run, { sql: '' }), ['"sql" must NOT have fewer than 1 characters']);
    assert.deepEqual(inputProblems(tool('list_connections'), {}), []);
    assert.deepEqual(inputProblems(run, 'select 1'), ['the arguments must be object']);
  });

  it('callAgentTool throws InvalidToolInput before anything runs', async () => {
    let touched = false;
    const backend = new Proxy({} as AgentBackend, {
      get: () => {
        touched = true;
        return () => Promise.reject(new Error('must not be called'));
      },
    });
    await assert.rejects(callAgentTool(tool('run_query'), { sql: 1 }, backend, 'test'), (err) => {
      assert.ok(err instanceof InvalidToolInput);
      assert.match(err.message, /invalid arguments for tool run_query: "sql" must be string/);
      return true;
    });
    assert.equal(touched, false);
  });

  it('an unknown connection or an ambiguous one comes back as an error result the model can read', async () => {
    const backend = localBackend(
      {
        connections: () => ['a', 'b'],
        endpoints: () => [],
        explain: () => ({ effect: 'allow', text: '' }),
        maskedColumns: () => ({ columns: [], contentDetectors: false }),
      },
      'lm-tool',
    );
    const ambiguous = await callAgentTool(tool('run_query'), { sql: 'select 1' }, backend, 'test');
    assert.equal(ambiguous.isError, true);
    assert.match(ambiguous.text, /name a connection: a, b/);
    const unknown = await callAgentTool(
      tool('explain_query'),
      { sql: 'select 1', connection: 'c' },
      backend,
      't',
    );
    assert.equal(unknown.isError, true);
    assert.match(unknown.text, /no connection named "c"; the connections are: a, b/);
    const list = await callAgentTool(tool('list_connections'), {}, backend, 'test');
    assert.match(list.text, /- a \(postgres, not started yet/);
  });
});

describe('agent tools: output', () => {
  it('a compact table, cells escaped and cut', () => {
    assert.equal(
      table(
        ['a', 'b'],
        [
          ['x|y', null],
          ['line1\nline2', 'z'.repeat(250)],
        ],
      ),
      `| a | b |\n|---|---|\n| x\\|y | NULL |\n| line1\\nline2 | ${'z'.repeat(200)}… |`,
    );
  });

  it('row cap: the total count and how to see more', () => {
    const out = outcomeText(
      {
        ok: true,
        results: [{ command: 'SELECT', rowCount: 250, columns: ['n'], rows: [['1'], ['2']], totalRows: 250 }],
      },
      2,
    );
    assert.equal(out.isError, undefined);
    assert.match(out.text, /\(250 rows; showing the first 2 \(row cap 2/);
    const write = outcomeText(
      { ok: true, results: [{ command: 'INSERT', rowCount: 1, columns: [], rows: [], totalRows: 0 }] },
      100,
    );
    assert.equal(write.text, 'INSERT: 1 row affected');
  });

  it('a denial is passed on verbatim, with rule, hint and not to work around it, as an error', () => {
    const out = outcomeText(
      {
        ok: false,
        error: {
          message: 'airlock: denied: the statement computes on it: masked column customers.email',
          code: '42501',
          detail: 'Rule: masking',
          hint: 'Select the column itself',
        },
      },
      100,
    );
    assert.equal(out.isError, true);
    const lines = out.text.split('\n');
    assert.equal(lines[0], 'airlock: denied: the statement computes on it: masked column customers.email');
    assert.equal(lines[1], 'DETAIL: Rule: masking');
    assert.equal(lines[2], 'HINT: Select the column itself');
    assert.match(out.text, /Do not try to get around the denial/);
    assert.doesNotMatch(errorText({ message: 'relation "x" does not exist', code: '42P01' }), /get around/);
  });
});

describe('agent attribution (application_name)', () => {
  it('mcp:<name>/<version>, copilot:<tool>#<id>, cut to what PostgreSQL keeps', () => {
    assert.equal(mcpAgentName({ name: 'claude-code', version: '1.0.3' }), 'mcp:claude-code/1.0.3');
    assert.equal(mcpAgentName(undefined), 'mcp:unknown-client');
    assert.equal(lmToolAgentName('run_query', 'ab12cd34'), 'copilot:run_query#ab12cd34');
    assert.equal(applicationName('é\u0000x'), '??x');
    assert.equal(mcpAgentName({ name: 'x'.repeat(100), version: '1' }).length, 63);
  });
});
