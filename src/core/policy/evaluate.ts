import type { FunctionUse, SqlAnalysis, StatementFacts } from '../sql/facts';
import { qualifiedName } from '../sql/facts';
import {
  durationMs,
  type Obligations,
  type PolicyDocument,
  type PolicyRule,
  type ReviewSettings,
} from './document';
import { agentNameForRule, type Actor } from '../identity/actor';

export interface EvaluationContext {
  connection: string;
  actor: Actor;
}

export type StatementDecision =
  | { effect: 'allow'; rule: string; obligations: Obligations }
  | { effect: 'review'; rule: string; review: ReviewSettings; obligations: Obligations }
  | { effect: 'deny'; rule: string; reason: string; hint: string };

/** The decision for a whole client request (a Query may carry several statements: all or nothing). */
export type PolicyDecision = StatementDecision & { statements: StatementDecision[] };

/** Flags an allow/review rule must name explicitly to cover a statement that has them. */
export const GATED_FLAGS = [
  'server-file',
  'server-program',
  'read-write-transaction',
  'security-setting',
  'opaque-code',
  'two-phase',
] as const;
const GATED = new Set<string>(GATED_FLAGS);

const FLAG_TEXT: Record<string, string> = {
  'server-file': 'read or write a file on the database server',
  'server-program': 'run a program on the database server',
  'read-write-transaction': 'turn the session or transaction read-write',
  'security-setting': 'change the role or a security setting',
  'opaque-code': 'run code (DO/CALL) that Airlock cannot inspect',
  'two-phase': 'use two-phase commit',
};

const globCache = new Map<string, RegExp>();
function glob(pattern: string): RegExp {
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp(
      '^' +
        pattern
          .split('*')
          .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*') +
        '$',
      'i',
    );
    globCache.set(pattern, re);
  }
  return re;
}
/** Whether a value matches any of the globs (`*` wildcard, case-insensitive). */
export const anyGlob = (patterns: string[], value: string) => patterns.some((p) => glob(p).test(value));

/** Relations are matched schema-qualified; an unqualified name (or glob) means the public schema. */
const relationKey = (r: { schema?: string; name: string }) =>
  r.schema ? `${r.schema}.${r.name}` : `public.${r.name}`;
const relationGlobs = (patterns: string[]) => patterns.map((p) => (p.includes('.') ? p : `public.${p}`));

function functionMatches(patterns: string[], f: FunctionUse): boolean {
  const c = f.classification;
  return patterns.some((p) => {
    if (p.startsWith('category:')) {
      const cat = p.slice('category:'.length);
      return (c.class === 'dangerous' && c.category === cat) || (c.class === 'unknown' && cat === 'unknown');
    }
    return glob(p).test(f.name) || glob(p).test(f.schema ? `${f.schema}.${f.name}` : `pg_catalog.${f.name}`);
  });
}

export function describeFunction(f: FunctionUse): string {
  const c = f.classification;
  const name = f.schema ? `${f.schema}.${f.name}` : f.name;
  if (c.class === 'dangerous') return `${name} (${c.why})`;
  if (c.class === 'unknown') return `${name} (a function Airlock does not know to be safe)`;
  return name;
}

/** "DELETE (write) on public.customers" — the statement as a person would name it. */
export function describeStatement(f: StatementFacts): string {
  const rels = f.relations.map((r) => `${qualifiedName(r)}${r.access === 'write' ? ' (written)' : ''}`);
  return `${f.command} (${f.kind})${rels.length ? ` on ${rels.join(', ')}` : ''}`;
}

/** Null when the rule's conditions hold for the statement; otherwise why not, for explanations. */
export function ruleMismatch(rule: PolicyRule, f: StatementFacts, ctx: EvaluationContext): string | null {
  const w = rule.when ?? {};
  const covering = rule.effect !== 'deny';
  if (w.connections && !anyGlob(w.connections, ctx.connection))
    return `it applies to connections ${w.connections.join(', ')}`;
  if (w.users && !anyGlob(w.users, ctx.actor.user)) return `it applies to users ${w.users.join(', ')}`;
  if (w.groups && !w.groups.some((g) => ctx.actor.groups.includes(g)))
    return `it applies to groups ${w.groups.join(', ')}`;
  const agent = w.agents && agentNameForRule(ctx.actor, covering);
  if (w.agents && !(agent && anyGlob(w.agents, agent)))
    return `it applies to agents ${w.agents.join(', ')}${covering && ctx.actor.agent && !ctx.actor.channel ? ` (the name "${ctx.actor.agent}" is only claimed)` : ''}`;
  if (w.kinds && !w.kinds.includes(f.kind)) return `it covers ${w.kinds.join('/')} statements, not ${f.kind}`;
  if (w.commands && !anyGlob(w.commands, f.command)) return `it covers the commands ${w.commands.join(', ')}`;
  if (w.relations) {
    const patterns = relationGlobs(w.relations);
    const matching = (r: { schema?: string; name: string }) => anyGlob(patterns, relationKey(r));
    if (covering) {
      const outside = f.relations.find((r) => !matching(r));
      if (outside) return `${qualifiedName(outside)} is outside its relations (${w.relations.join(', ')})`;
    } else if (!f.relations.some(matching)) {
      return `no relation matches ${w.relations.join(', ')}`;
    }
  }
  if (covering) {
    const fn = f.functions.find(
      (x) => x.classification.class !== 'safe' && !functionMatches(w.functions ?? [], x),
    );
    if (fn) return `it does not permit ${describeFunction(fn)}`;
    const flag = f.flags.find((x) => GATED.has(x) && !(w.flags as string[] | undefined)?.includes(x));
    if (flag) return `it does not permit statements that ${FLAG_TEXT[flag]}`;
  } else {
    if (w.functions && !f.functions.some((x) => functionMatches(w.functions ?? [], x))) {
      return `no function matches ${w.functions.join(', ')}`;
    }
    if (w.flags && !f.flags.some((x) => (w.flags as string[]).includes(x)))
      return `the statement has none of ${w.flags.join(', ')}`;
  }
  return null;
}

/** Combines obligations: the strictest limit of each kind wins. */
export function strictest(a: Obligations, b: Obligations | undefined): Obligations {
  if (!b) return a;
  const out: Obligations = { ...a };
  if (b.maxRows !== undefined && (out.maxRows === undefined || b.maxRows < out.maxRows)) {
    out.maxRows = b.maxRows;
    if (b.onExceed) out.onExceed = b.onExceed;
  } else if (b.onExceed === 'error' && b.maxRows === out.maxRows) {
    out.onExceed = 'error';
  }
  if (
    b.statementTimeout &&
    (!out.statementTimeout || durationMs(b.statementTimeout) < durationMs(out.statementTimeout))
  ) {
    out.statementTimeout = b.statementTimeout;
  }
  return out;
}

const DEFAULT_HINT =
  'Rephrase the request within what the policy allows (`airlock policy explain` shows why), or ask the policy owner.';

export function evaluateStatement(
  policy: PolicyDocument,
  f: StatementFacts,
  ctx: EvaluationContext,
): StatementDecision {
  if (f.problems.length) {
    return {
      effect: 'deny',
      rule: 'analysis',
      reason: `Airlock cannot vouch for this statement: ${f.problems.join('; ')}`,
      hint: 'Rewrite it in plain SQL Airlock can analyse.',
    };
  }
  if (f.flags.includes('lexical-setting')) return lexicalDenial(f);
  let review: PolicyRule | undefined;
  let allow: PolicyRule | undefined;
  let obligations: Obligations = {};
  for (const rule of policy.rules) {
    if (ruleMismatch(rule, f, ctx) !== null) continue;
    if (rule.effect === 'deny') {
      return {
        effect: 'deny',
        rule: rule.name,
        reason: rule.message ?? `${describeStatement(f)} is denied by rule "${rule.name}"`,
        hint: rule.hint ?? DEFAULT_HINT,
      };
    }
    if (rule.effect === 'review') review ??= rule;
    else allow ??= rule;
    obligations = strictest(obligations, rule.obligations);
  }
  if (review?.review) return { effect: 'review', rule: review.name, review: review.review, obligations };
  if (allow) return { effect: 'allow', rule: allow.name, obligations };
  return { effect: 'deny', rule: 'default', reason: defaultDenialReason(policy, f, ctx), hint: DEFAULT_HINT };
}

/**
 * A statement that would make the server lex SQL unlike Airlock's parser: one text would be one statement
 * to Airlock and another to the server, so no policy can allow it.
 */
function lexicalDenial(f: StatementFacts): StatementDecision {
  const settings = (f.details.lexical ?? []).join(', ');
  return {
    effect: 'deny',
    rule: 'lexical-environment',
    reason:
      `${f.command} would change ${settings}, and with it how the server reads SQL text; Airlock lexes SQL with ` +
      'standard_conforming_strings=on and in client encodings whose characters never hide a quote or backslash byte ' +
      '(UTF8, SQL_ASCII, LATIN1-9, WIN125x, KOI8, EUC_JP/KR/CN ...), and refuses any other value',
    // ASCII only: a client refused for its encoding reads this message in that encoding.
    hint: "Use E'...' strings for backslash escapes; set PGCLIENTENCODING=UTF8 (or the driver's client encoding to UTF8).",
  };
}

/** Why nothing allowed it: the closest rule (one that covers the statement's kind) and what it lacked. */
function defaultDenialReason(policy: PolicyDocument, f: StatementFacts, ctx: EvaluationContext): string {
  const head = `${describeStatement(f)} is not allowed by policy "${policy.name ?? 'unnamed'}"`;
  const candidates = policy.rules.filter((r) => r.effect !== 'deny');
  const closest = candidates.find((r) => !r.when?.kinds || r.when.kinds.includes(f.kind));
  if (!closest) return `${head}: no rule allows ${f.kind} statements`;
  return `${head}: rule "${closest.name}" does not cover it because ${ruleMismatch(closest, f, ctx)}`;
}

/** Decides a whole request. All statements must be allowed; one denial denies the request. */
export function evaluateAnalysis(
  policy: PolicyDocument,
  analysis: SqlAnalysis,
  ctx: EvaluationContext,
): PolicyDecision {
  if (!analysis.ok) {
    const denial: StatementDecision = {
      effect: 'deny',
      rule: 'analysis',
      reason: `the statement does not parse: ${analysis.error}`,
      hint: 'Fix the SQL syntax; Airlock denies what PostgreSQL cannot parse.',
    };
    return { ...denial, statements: [denial] };
  }
  const statements = analysis.statements.map((s) => evaluateStatement(policy, s, ctx));
  const many = statements.length > 1;
  const denied = statements.findIndex((d) => d.effect === 'deny');
  if (denied >= 0) {
    const d = statements[denied] as Extract<StatementDecision, { effect: 'deny' }>;
    const reason = many ? `statement ${denied + 1} of ${statements.length}: ${d.reason}` : d.reason;
    return { ...d, reason, statements };
  }
  let obligations: Obligations = {};
  for (const s of statements) if (s.effect !== 'deny') obligations = strictest(obligations, s.obligations);
  const review = statements.find((d) => d.effect === 'review');
  if (review) return { ...review, obligations, statements };
  if (statements.length === 0) return { effect: 'allow', rule: 'empty', obligations, statements };
  return { ...(statements[0] as Extract<StatementDecision, { effect: 'allow' }>), obligations, statements };
}
