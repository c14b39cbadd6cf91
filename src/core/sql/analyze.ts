import { classifyFunction } from './function-catalog';
import { isLexableEncodingName } from './client-encodings';
import { isObj, parseStatements, type ParseNode } from './parser';
import type {
  AttributeUse,
  ColumnUsage,
  ColumnUse,
  FunctionUse,
  RelationAccess,
  SqlAnalysis,
  StatementFacts,
  StatementFlag,
  StatementKind,
} from './facts';

/**
 * Statement analysis on the real PostgreSQL parse tree. Every statement of a string gets its facts: what
 * it does (kind), which relations it reads or writes (through CTEs, subqueries, set operations), the
 * columns it reads where resolvable, and every function it calls anywhere, classified. Anything the
 * walker does not recognise makes the facts say so, and the gate denies.
 */

type Obj = Record<string, unknown>;

const TRUTHY = new Set(['true', 'on', '1', 'yes']);
const FALSY = new Set(['false', 'off', '0', 'no']);

/** Settings that decide whether the session may write: a change must leave them provably on. */
const READ_ONLY_SETTINGS = new Set(['default_transaction_read_only', 'transaction_read_only']);

/** Settings that decide who the session is or whether triggers and rules fire: every change is flagged. */
const SECURITY_SETTINGS = new Set(['role', 'session_authorization', 'session_replication_role']);

/**
 * Whether a search_path puts a schema before pg_catalog. Unqualified built-ins (lower, length, …) are
 * classified by name, which holds only while pg_catalog is searched first, as it is when not listed.
 */
function searchPathDemotesCatalog(values: Array<string | undefined>): boolean {
  if (values.some((v) => v === undefined)) return true;
  const names = values
    .flatMap((v) => (v as string).split(','))
    .map((n) =>
      n
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase(),
    )
    .filter(Boolean);
  return names.indexOf('pg_catalog') > 0;
}

/** Schemas whose types and functions are the server's own. */
const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

/**
 * What Airlock's own lexer assumes: libpg-query lexes with standard_conforming_strings=on, and the proxy
 * decodes the text in the client encoding. A server lexing with other values sees other statements in the same bytes, so a value
 * these do not accept is flagged `lexical-setting`. Client encodings are those client-encodings.ts lists
 * (ASCII-safe ones the proxy decodes exactly), under every spelling PostgreSQL accepts.
 * backslash_quote only decides whether `\'` in E'' strings is an error; under UTF-8 'on' and the
 * default 'safe_encoding' lex alike, 'off' refuses what Airlock accepted.
 */
const LEXICAL_SETTINGS: Record<string, (value: string) => boolean> = {
  standard_conforming_strings: (v) => TRUTHY.has(v),
  client_encoding: isLexableEncodingName,
  backslash_quote: (v) => v === 'safe_encoding' || TRUTHY.has(v),
};

/**
 * How a statement changes a setting: to the value its argument nodes give (`value`: a list for SET, one
 * expression for set_config), back to its reset value (`reset`: RESET, SET … TO DEFAULT), or to its
 * current value (`current`: SET … FROM CURRENT).
 */
type SettingChange = { to: 'value'; args: unknown[] } | { to: 'reset' | 'current' };

/** Whether a change of this setting can raise a flag: only then are its values read (constText). */
const flaggable = (name: string) =>
  READ_ONLY_SETTINGS.has(name) ||
  SECURITY_SETTINGS.has(name) ||
  name === 'search_path' ||
  name in LEXICAL_SETTINGS;

/**
 * Flags a change of one setting, whatever spelled it (SET, SET LOCAL, RESET, set_config, a startup
 * setting, ALTER ROLE/DATABASE/SYSTEM … SET, a function's SET clause): the flags follow from the
 * setting's resulting value, never from the spelling.
 */
function flagSettingChange(name: string, change: SettingChange, w: StatementWalker): void {
  // Values of other settings are never read, so their numbers never key the analysis cache exactly.
  if (!flaggable(name)) return;
  const values = change.to === 'value' ? change.args.map((a) => constText(a, w)) : [];
  const value = values.length === 1 ? values[0] : undefined;
  // A reset value comes from server configuration the statement does not show: not provably read-only
  // (the proxy's startup pin makes it so for read-only policies, but the analysis cannot rely on that).
  if (READ_ONLY_SETTINGS.has(name) && !(value !== undefined && TRUTHY.has(value.toLowerCase())))
    w.flags.add('read-write-transaction');
  if (SECURITY_SETTINGS.has(name)) w.flags.add('security-setting');
  if (name === 'search_path' && (change.to !== 'value' || searchPathDemotesCatalog(values)))
    w.flags.add('security-setting');
  const lexical = LEXICAL_SETTINGS[name];
  // RESET and SET … TO DEFAULT are fine ONLY because the proxy pins these settings in the upstream
  // startup packet, which makes the pinned value the reset value; FROM CURRENT keeps the pinned value,
  // since no statement may change it.
  if (lexical && change.to === 'value' && !(value !== undefined && lexical(value.toLowerCase()))) {
    w.flags.add('lexical-setting');
    w.lexicalSettings.add(name);
  }
}

/** A VariableSetStmt's change (kinds VAR_SET_VALUE, VAR_SET_DEFAULT, VAR_SET_CURRENT, VAR_RESET). */
function variableSetChange(body: Obj): SettingChange {
  if (body.kind === 'VAR_SET_VALUE') return { to: 'value', args: Array.isArray(body.args) ? body.args : [] };
  return { to: body.kind === 'VAR_SET_CURRENT' ? 'current' : 'reset' };
}

/** Flags the setting a (possibly nested) VariableSetStmt changes. */
function flagVariableSet(body: Obj, w: StatementWalker): void {
  const name = String(body.name ?? '').toLowerCase();
  if (name === 'transaction' || name === 'session characteristics') {
    if (asksReadWrite(body.args, w)) w.flags.add('read-write-transaction');
  } else if (body.kind !== 'VAR_RESET_ALL') {
    flagSettingChange(name, variableSetChange(body), w);
  }
}

const DCL = new Set([
  'GrantStmt',
  'GrantRoleStmt',
  'CreateRoleStmt',
  'AlterRoleStmt',
  'AlterRoleSetStmt',
  'DropRoleStmt',
  'AlterDefaultPrivilegesStmt',
  'AlterSystemStmt',
  'ReassignOwnedStmt',
  'DropOwnedStmt',
]);

const DDL_PREFIX =
  /^(Create|Alter|Drop|Define|Rename|Comment|Import|SecLabel|Refresh|CompositeType|IndexStmt|ViewStmt|RuleStmt)/;

/** Fields of statement nodes whose RangeVars the statement writes (or alters, locks, maintains). */
const TARGET_FIELDS = new Set(['relation', 'relations', 'rels', 'view', 'rel', 'objects', 'table']);

/** Node types whose SQL command name is not their type name spelled out. */
const COMMAND_NAMES: Record<string, string> = {
  IndexStmt: 'CREATE INDEX',
  ViewStmt: 'CREATE VIEW',
  RuleStmt: 'CREATE RULE',
  CreateStmt: 'CREATE TABLE',
  CompositeTypeStmt: 'CREATE TYPE',
  DefineStmt: 'CREATE',
  CreateTrigStmt: 'CREATE TRIGGER',
  CreateSeqStmt: 'CREATE SEQUENCE',
  CreatedbStmt: 'CREATE DATABASE',
  DropdbStmt: 'DROP DATABASE',
  CheckPointStmt: 'CHECKPOINT',
};

/** "CreateFunctionStmt" → "CREATE FUNCTION". */
function commandOf(type: string): string {
  if (COMMAND_NAMES[type]) return COMMAND_NAMES[type];
  return type
    .replace(/Stmt$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase();
}

function str(node: unknown): string | undefined {
  if (isObj(node) && isObj(node.String)) return node.String.sval as string | undefined;
  return undefined;
}

/**
 * The table an INSERT/UPDATE/MERGE writes and the columns it sets (`*`: all, or not told): values in the
 * statement text may be values of those columns. DELETE sets none.
 */
function writtenColumns(type: string, body: Obj): { relation: string; columns: string[] } | undefined {
  const r = body.relation;
  if (type === 'DeleteStmt' || !isObj(r)) return undefined;
  const relation = r.schemaname ? `${String(r.schemaname)}.${String(r.relname)}` : String(r.relname);
  const list = type === 'InsertStmt' ? body.cols : type === 'UpdateStmt' ? body.targetList : undefined;
  const columns = Array.isArray(list)
    ? list.map((t) => (isObj(t) && isObj(t.ResTarget) ? String(t.ResTarget.name).toLowerCase() : '*'))
    : [];
  return { relation, columns: columns.length ? [...new Set(columns)] : ['*'] };
}

function names(list: unknown): string[] {
  return Array.isArray(list) ? list.map(str).filter((s): s is string => s !== undefined) : [];
}

/**
 * The value of a DefElem / A_Const argument as text, or undefined when it is not a constant. A number
 * read here decides the facts (EXPLAIN (ANALYZE 1)), which `w` records so the cache keys it exactly.
 */
function constText(node: unknown, w: StatementWalker): string | undefined {
  if (!isObj(node)) return undefined;
  if (isObj(node.String)) return String(node.String.sval ?? '');
  if (isObj(node.Boolean)) return node.Boolean.boolval ? 'true' : 'false';
  if (isObj(node.Integer)) {
    w.numbersMatter = true;
    return String(node.Integer.ival ?? 0);
  }
  if (isObj(node.A_Const)) {
    const c = node.A_Const;
    if (isObj(c.sval)) return String(c.sval.sval ?? '');
    if (isObj(c.boolval)) return c.boolval.boolval ? 'true' : 'false';
    w.numbersMatter = true;
    if (isObj(c.ival)) return String(c.ival.ival ?? 0);
    if (isObj(c.fval)) return String(c.fval.fval);
  }
  if (isObj(node.TypeCast)) return constText(node.TypeCast.arg, w);
  return undefined;
}

/**
 * The select-list expressions an ORDER BY / GROUP BY item names by position (ORDER BY 2) or by output
 * name, also inside ROLLUP/CUBE/GROUPING SETS. A position past a `*` cannot be counted: every entry.
 */
function outputsReferenced(item: unknown, targets: unknown[]): unknown[] {
  if (!isObj(item)) return [];
  const vals = targets.map((t) => (isObj(t) && isObj(t.ResTarget) ? t.ResTarget : undefined));
  if (isObj(item.A_Const) && isObj(item.A_Const.ival)) {
    const n = Number(item.A_Const.ival.ival ?? 0);
    const star = vals.slice(0, n).some((v) => isObj(v?.val) && JSON.stringify(v?.val).includes('A_Star'));
    return star ? vals.map((v) => v?.val) : [vals[n - 1]?.val];
  }
  if (isObj(item.GroupingSet)) {
    return (Array.isArray(item.GroupingSet.content) ? item.GroupingSet.content : []).flatMap((c) =>
      outputsReferenced(c, targets),
    );
  }
  if (isObj(item.RowExpr)) {
    return (Array.isArray(item.RowExpr.args) ? item.RowExpr.args : []).flatMap((c) =>
      outputsReferenced(c, targets),
    );
  }
  const fields = isObj(item.ColumnRef) && Array.isArray(item.ColumnRef.fields) ? item.ColumnRef.fields : [];
  const name = fields.length === 1 ? str(fields[0]) : undefined;
  return name === undefined ? [] : vals.filter((v) => v?.name === name).map((v) => v?.val);
}

/** A string constant, also cast ('x'::text); undefined for anything else. */
function stringConst(node: unknown): string | undefined {
  if (!isObj(node)) return undefined;
  if (isObj(node.TypeCast)) return stringConst(node.TypeCast.arg);
  return isObj(node.A_Const) && isObj(node.A_Const.sval) ? String(node.A_Const.sval.sval ?? '') : undefined;
}

/** A setting's name as PostgreSQL spells them (custom ones have a dot), within NAMEDATALEN. */
const SETTING_NAME = /^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$/i;

/** Whether a column reference names the `name` column of the pg_settings item known as `alias`. */
function isSettingsName(ref: string[], alias: string): boolean {
  return ref.length === 1 ? ref[0] === 'name' : ref.length === 2 && ref[0] === alias && ref[1] === 'name';
}

/**
 * For a select over pg_settings alone whose WHERE restricts `name` to constants (a top-level AND of
 * `name = 'c'`, `name IN ('c', …)` or `name = ANY (ARRAY['c', …])`), the names its rows can carry.
 * The relation must be pg_settings itself, not a CTE of that name; the constants must be spelled as
 * setting names, so no padding or truncation by the column's type can make a row equal to one.
 */
function settingsRowsOf(body: Obj, scope: Scope): { alias: string; names: string[] } | undefined {
  const from = Array.isArray(body.fromClause) && body.fromClause.length === 1 ? body.fromClause[0] : null;
  const rv = isObj(from) && isObj(from.RangeVar) ? from.RangeVar : null;
  if (!rv || rv.relname !== 'pg_settings' || rv.catalogname) return undefined;
  if (rv.schemaname !== undefined && rv.schemaname !== 'pg_catalog') return undefined;
  const alias = isObj(rv.alias) ? String(rv.alias.aliasname) : 'pg_settings';
  if (!scope.from.get(alias)?.table) return undefined;
  const where = body.whereClause;
  const conjuncts =
    isObj(where) && isObj(where.BoolExpr) && where.BoolExpr.boolop === 'AND_EXPR'
      ? (where.BoolExpr.args as unknown[])
      : [where];
  for (const c of conjuncts) {
    const e = isObj(c) && isObj(c.A_Expr) ? c.A_Expr : null;
    if (!e || names(e.name).join() !== '=') continue;
    const column = (n: unknown) =>
      isObj(n) && isObj(n.ColumnRef) && isSettingsName(names(n.ColumnRef.fields), alias);
    let values: unknown[] | undefined;
    if (e.kind === 'AEXPR_OP' && column(e.lexpr)) values = [e.rexpr];
    else if (e.kind === 'AEXPR_OP' && column(e.rexpr)) values = [e.lexpr];
    else if (e.kind === 'AEXPR_IN' && column(e.lexpr) && isObj(e.rexpr) && isObj(e.rexpr.List))
      values = e.rexpr.List.items as unknown[];
    else if (e.kind === 'AEXPR_OP_ANY' && column(e.lexpr) && isObj(e.rexpr) && isObj(e.rexpr.A_ArrayExpr))
      values = e.rexpr.A_ArrayExpr.elements as unknown[];
    const strings = (values ?? []).map(stringConst);
    if (
      strings.length &&
      strings.every((v): v is string => v !== undefined && SETTING_NAME.test(v) && v.length < 64)
    )
      return { alias, names: strings };
  }
  return undefined;
}

/**
 * A scope of a query: the CTEs visible in it and what its FROM clause names, by alias — each mapped to
 * the base relations it reads (a table itself; for a subquery or CTE, every relation read inside it).
 */
interface Scope {
  ctes: Map<string, string[]>;
  /** value: a function's result, which may be a scalar (x.f may then call any one-argument f on it). */
  from: Map<string, { relations: string[]; table: boolean; value?: boolean }>;
}

/** The name an unaliased function in FROM goes by: its own (a single function, not ROWS FROM). */
function functionAlias(body: Obj): string | undefined {
  const fns = Array.isArray(body.functions) ? body.functions : [];
  const items = fns.length === 1 && isObj(fns[0]) && isObj(fns[0].List) ? fns[0].List.items : undefined;
  const call = Array.isArray(items) && isObj(items[0]) && isObj(items[0].FuncCall) ? items[0].FuncCall : null;
  return body.is_rowsfrom || !call ? undefined : names(call.funcname).pop();
}

class StatementWalker {
  readonly relations: RelationAccess[] = [];
  readonly functions: FunctionUse[] = [];
  readonly columns: ColumnUse[] = [];
  readonly operators: string[] = [];
  readonly attributes: AttributeUse[] = [];
  readonly castTypes: string[] = [];
  /** How a column reference met now is used (see ColumnUsage). */
  private usage: ColumnUsage = 'expression';
  /** Inside a set operation or a recursive CTE, a plain output column is derived: the server loses its origin. */
  private derivedOutput = false;
  /**
   * Whether the rows of the select being walked reach the client as they are (the statement's own
   * select, a FROM subquery or CTE of it): only there is a plain column plain output. A subquery in a
   * WHERE, a function argument, VALUES or OFFSET yields a value the server computes with.
   */
  private outputContext = false;
  /** Open collections of base relations read, one per subquery or CTE being walked. */
  private readonly collectors: Array<Set<string>> = [];
  readonly flags = new Set<StatementFlag>();
  readonly problems: string[] = [];
  /** A data-modifying statement (INSERT/UPDATE/DELETE/MERGE) appears anywhere: top level, WITH, COPY (…). */
  modifies = false;
  /** A numeric constant decided something (see constText). */
  numbersMatter = false;
  /** The settings a lexical-setting flag was raised for. */
  readonly lexicalSettings = new Set<string>();
  /** While a select list over pg_settings is walked: the setting names its WHERE allows (settingsRowsOf). */
  private settingsRows: { alias: string; names: string[] } | undefined;
  private readonly writeTargets = new WeakSet<object>();
  private readonly scopes: Scope[] = [];
  private depth = 0;

  walk(value: unknown, key = ''): void {
    if (Array.isArray(value)) {
      for (const v of value) this.walk(v, key);
      return;
    }
    if (!isObj(value)) return;
    const keys = Object.keys(value);
    if (keys.length === 1 && /^[A-Z]/.test(keys[0]) && isObj(value[keys[0]])) {
      this.node(keys[0], value[keys[0]] as Obj);
    } else if ('relname' in value) {
      this.rangeVar(value);
    } else if ('ctes' in value) {
      // An unwrapped WithClause is handled by the statement that owns it.
      this.problems.push(`WITH clause in an unexpected position (${key})`);
    } else {
      for (const k of keys) this.walk(value[k], k);
    }
  }

  private node(type: string, body: Obj): void {
    switch (type) {
      case 'RangeVar':
        return this.rangeVar(body);
      case 'SelectStmt':
        return this.select(body);
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        return this.modify(body);
      case 'FuncCall':
        this.funcCall(body);
        return this.walkFields(body, ['funcname']);
      case 'A_Expr':
        this.operator(body.name);
        return this.walkFields(body, ['name']);
      case 'ColumnRef':
        return this.columnRef(body);
      case 'A_Indirection':
        // (value).name is a field of a composite value — or the function name(value).
        for (const i of Array.isArray(body.indirection) ? body.indirection : []) {
          const name = str(i);
          if (name !== undefined) this.attributes.push({ name });
        }
        return this.walkFields(body, []);
      case 'TypeCast':
        this.typeCast(body.typeName);
        return this.walkFields(body, ['typeName']);
      case 'ColumnDef':
      case 'RangeTableFuncCol':
        // In a query, a column definition list (json_to_record(…) AS x(a t), XMLTABLE) converts to its
        // types; in CREATE/ALTER TABLE it only names them.
        if (this.scopes.length) this.typeCast(body.typeName);
        return this.walkFields(body, ['typeName']);
      case 'VariableSetStmt':
        // A function's SET clause: in force whenever the function runs.
        flagVariableSet(body, this);
        return this.walkFields(body, []);
      case 'JoinExpr': {
        const read = this.collect(() => {
          this.walk(body.larg, 'larg');
          this.walk(body.rarg, 'rarg');
        });
        this.withContext('predicate', false, () => {
          this.walk(body.quals, 'quals');
          // USING (col) and NATURAL compare columns of both sides (and a FULL join's merged column
          // has no origin the wire could mask).
          for (const col of names(body.usingClause)) this.useColumn([...read], col, 'predicate');
          if (body.isNatural) this.useColumn([...read], '*', 'predicate');
        });
        const alias = isObj(body.join_using_alias)
          ? body.join_using_alias
          : isObj(body.alias)
            ? body.alias
            : null;
        if (alias)
          this.scopes[this.scopes.length - 1]?.from.set(String(alias.aliasname), {
            relations: [...read],
            table: false,
          });
        return;
      }
      case 'RangeSubselect':
      case 'RangeFunction': {
        // A FROM subquery passes its rows on; a function in FROM computes from its arguments.
        const keep = type === 'RangeSubselect' ? this.outputContext : false;
        const read = this.collect(() =>
          this.withContext(this.usage, keep, () => this.walkFields(body, ['alias'])),
        );
        const value = type === 'RangeFunction';
        const alias = isObj(body.alias)
          ? (body.alias.aliasname as string)
          : value
            ? functionAlias(body)
            : undefined;
        if (alias)
          this.scopes[this.scopes.length - 1]?.from.set(alias, { relations: [...read], table: false, value });
        return;
      }
      default:
        if (/Stmt$/.test(type) && this.depth > 0 && type !== 'SelectStmt') {
          // Utility statements cannot nest inside queries; if the tree says otherwise, do not guess.
          this.problems.push(`unexpected nested ${type}`);
        }
        return this.walkFields(body, []);
    }
  }

  private walkFields(body: Obj, skip: string[]): void {
    for (const [k, v] of Object.entries(body)) if (!skip.includes(k)) this.walk(v, k);
  }

  /** Marks the RangeVars directly under the named fields as targets the statement writes. */
  markTargets(body: Obj, fields: Iterable<string>): void {
    for (const f of fields) {
      const v = body[f];
      for (const item of Array.isArray(v) ? v : [v]) {
        if (!isObj(item)) continue;
        if ('relname' in item) this.writeTargets.add(item);
        else if (isObj(item.RangeVar)) this.writeTargets.add(item.RangeVar);
        else if (isObj(item.VacuumRelation) && isObj(item.VacuumRelation.relation)) {
          this.writeTargets.add(item.VacuumRelation.relation);
        }
      }
    }
  }

  private rangeVar(rv: Obj): void {
    const name = rv.relname as string;
    const schema = rv.schemaname as string | undefined;
    const access = this.writeTargets.has(rv) ? 'write' : 'read';
    const alias = isObj(rv.alias) ? (rv.alias.aliasname as string) : name;
    const scope = this.scopes[this.scopes.length - 1];
    // A CTE name can stand for a relation that is read; a write target is always a real table.
    if (access === 'read' && !schema && !rv.catalogname) {
      const cte = this.scopes.findLast((s) => s.ctes.has(name))?.ctes.get(name);
      if (cte) {
        scope?.from.set(alias, { relations: cte, table: false });
        for (const c of this.collectors) for (const r of cte) c.add(r);
        return;
      }
    }
    const existing = this.relations.find(
      (r) => r.name === name && r.schema === schema && r.access === access,
    );
    if (!existing) this.relations.push({ schema, name, access });
    const qualified = schema ? `${schema}.${name}` : name;
    // With a column alias list (FROM customers c(i, n)) its columns go by other names: treat it as derived.
    const renamed = isObj(rv.alias) && Array.isArray(rv.alias.colnames) && rv.alias.colnames.length > 0;
    scope?.from.set(alias, { relations: [qualified], table: !renamed });
    for (const c of this.collectors) c.add(qualified);
  }

  /** Runs `fn` and returns the base relations read while it ran. */
  private collect(fn: () => void): Set<string> {
    const read = new Set<string>();
    this.collectors.push(read);
    try {
      fn();
    } finally {
      this.collectors.pop();
    }
    return read;
  }

  private withUsage(usage: ColumnUsage, fn: () => void): void {
    const saved = this.usage;
    this.usage = usage;
    try {
      fn();
    } finally {
      this.usage = saved;
    }
  }

  private withContext(usage: ColumnUsage, outputContext: boolean, fn: () => void): void {
    const saved = this.outputContext;
    this.outputContext = outputContext;
    try {
      this.withUsage(usage, fn);
    } finally {
      this.outputContext = saved;
    }
  }

  /** The statement's own select (or what it declares, prepares, copies): its rows go to the client. */
  topLevel(fn: () => void): void {
    this.withContext(this.usage, true, fn);
  }

  private withDerivedOutput(fn: () => void): void {
    const saved = this.derivedOutput;
    this.derivedOutput = true;
    try {
      fn();
    } finally {
      this.derivedOutput = saved;
    }
  }

  /** Re-labels the column uses recorded since `start` (e.g. what a SELECT feeds into a write). */
  relabel(start: number, from: ColumnUsage[], to: ColumnUsage): void {
    for (let i = start; i < this.columns.length; i++)
      if (from.includes(this.columns[i].usage)) this.columns[i].usage = to;
  }

  useColumn(relations: string[], column: string, usage: ColumnUsage): void {
    this.columns.push({
      relation: relations.length === 1 ? relations[0] : undefined,
      relations,
      column,
      usage,
    });
  }

  get columnCount(): number {
    return this.columns.length;
  }

  /** WITH: CTE names are visible to the statement body, and to later CTEs (all of them, if RECURSIVE). */
  private withClause(withClause: unknown, scope: Scope): void {
    if (!isObj(withClause)) return;
    const ctes = (Array.isArray(withClause.ctes) ? withClause.ctes : [])
      .map((c) => (isObj(c) && isObj(c.CommonTableExpr) ? c.CommonTableExpr : null))
      .filter((c): c is Obj => c !== null);
    const recursive = Boolean(withClause.recursive);
    // A recursive CTE reads itself: what it reads is only known after the walk, so it is given every
    // relation the whole statement reads ('*').
    if (recursive) for (const c of ctes) scope.ctes.set(c.ctename as string, ['*']);
    for (const c of ctes) {
      this.depth++;
      const walkQuery = () => this.inScope(() => this.walk(c.ctequery, 'ctequery'));
      const read = this.collect(() => (recursive ? this.withDerivedOutput(walkQuery) : walkQuery()));
      this.depth--;
      if (!recursive) scope.ctes.set(c.ctename as string, [...read]);
    }
  }

  private inScope(fn: () => void): void {
    this.scopes.push({ ctes: new Map(), from: new Map() });
    try {
      fn();
    } finally {
      this.scopes.pop();
    }
  }

  private select(body: Obj): void {
    const outputs = this.outputContext;
    const outerRows = this.settingsRows;
    this.settingsRows = undefined;
    this.inScope(() => {
      const scope = this.scopes[this.scopes.length - 1];
      this.withClause(body.withClause, scope);
      if (isObj(body.intoClause)) {
        this.flags.add('creates-table');
        this.markTargets(body.intoClause, ['rel']);
        this.walk(body.intoClause.rel, 'rel');
      }
      if (Array.isArray(body.lockingClause) && body.lockingClause.length) this.flags.add('row-lock');
      const start = this.columnCount;
      // FROM first, so the select list and WHERE resolve aliases.
      this.withContext('expression', outputs, () => this.walk(body.fromClause, 'fromClause'));
      this.depth++;
      this.settingsRows = settingsRowsOf(body, scope);
      for (const t of Array.isArray(body.targetList) ? body.targetList : []) this.target(t, outputs);
      this.settingsRows = undefined;
      this.withContext('predicate', false, () => {
        for (const k of [
          'whereClause',
          'havingClause',
          'groupClause',
          'sortClause',
          'distinctClause',
          'windowClause',
        ]) {
          this.walk(body[k], k);
        }
        // ORDER BY / GROUP BY / DISTINCT ON name select-list entries by position or output name.
        const targets = Array.isArray(body.targetList) ? body.targetList : [];
        for (const k of ['groupClause', 'sortClause', 'distinctClause']) {
          for (const item of Array.isArray(body[k]) ? body[k] : []) {
            const node = isObj(item) && isObj(item.SortBy) ? item.SortBy.node : item;
            // ORDER BY 1 and ORDER BY 2 name different columns: positions decide the facts.
            if (JSON.stringify(node ?? null).includes('A_Const')) this.numbersMatter = true;
            for (const entry of outputsReferenced(node, targets)) this.walk(entry, k);
          }
        }
        // Plain DISTINCT compares whole output rows.
        if (
          Array.isArray(body.distinctClause) &&
          body.distinctClause.some((d) => !isObj(d) || Object.keys(d).length === 0)
        ) {
          for (const t of targets)
            this.walk(isObj(t) && isObj(t.ResTarget) ? t.ResTarget.val : t, 'distinctClause');
        }
      });
      // Set operations lose the origin of their columns: a plain column in a branch is derived output.
      // (Their branches come as bare SelectStmt bodies.)
      this.withDerivedOutput(() => {
        if (isObj(body.larg)) this.select(body.larg);
        if (isObj(body.rarg)) this.select(body.rarg);
      });
      this.withContext('expression', false, () =>
        this.walkFields(body, [
          'withClause',
          'intoClause',
          'fromClause',
          'targetList',
          'whereClause',
          'havingClause',
          'groupClause',
          'sortClause',
          'distinctClause',
          'windowClause',
          'larg',
          'rarg',
        ]),
      );
      this.depth--;
      if (isObj(body.intoClause)) this.relabel(start, ['output', 'expression'], 'write');
    });
    this.settingsRows = outerRows;
  }

  /** One entry of a select list: a plain column is output the wire can mask; anything else is computed. */
  private target(t: unknown, outputs: boolean): void {
    const rt = isObj(t) && isObj(t.ResTarget) ? t.ResTarget : null;
    if (!rt) return this.walk(t, 'targetList');
    const ref = isObj(rt.val) && isObj(rt.val.ColumnRef) ? rt.val.ColumnRef : null;
    // A bare FROM alias (SELECT t FROM t) is one composite value: the wire cannot mask inside it.
    const fields = ref && Array.isArray(ref.fields) ? ref.fields : [];
    const wholeRow = fields.length === 1 && this.scopes.some((sc) => sc.from.has(str(fields[0]) ?? '\0'));
    const plain = outputs && ref !== null && !wholeRow && !this.derivedOutput;
    const start = this.columnCount;
    this.withContext(plain ? 'output' : 'expression', false, () => this.walk(rt.val, 'val'));
    // Columns inside a computed entry (also a subquery's plain outputs) reach the client computed.
    if (!plain) this.relabel(start, ['output'], 'expression');
  }

  private modify(body: Obj): void {
    this.modifies = true;
    const target = isObj(body.relation) ? body.relation : {};
    if (target.relname === 'pg_settings' && (target.schemaname ?? 'pg_catalog') === 'pg_catalog') {
      // pg_settings' update rule runs set_config(name, setting) for each row: a change of any setting.
      this.functions.push({
        schema: 'pg_catalog',
        name: 'set_config',
        classification: classifyFunction('set_config'),
      });
    }
    if (this.depth > 0) this.flags.add('writable-cte');
    const start = this.columnCount;
    this.inScope(() => {
      const scope = this.scopes[this.scopes.length - 1];
      this.withClause(body.withClause, scope);
      this.markTargets(body, ['relation']);
      this.walk(body.relation, 'relation');
      // Reads of USING/FROM/source relations come next, so their aliases resolve.
      this.walk(body.fromClause, 'fromClause');
      this.walk(body.usingClause, 'usingClause');
      this.walk(body.sourceRelation, 'sourceRelation');
      this.depth++;
      this.withUsage('predicate', () => {
        this.walk(body.whereClause, 'whereClause');
        this.walk(body.joinCondition, 'joinCondition');
      });
      this.withUsage('write', () =>
        this.walkFields(body, [
          'withClause',
          'relation',
          'fromClause',
          'usingClause',
          'sourceRelation',
          'whereClause',
          'joinCondition',
        ]),
      );
      this.depth--;
    });
    // What an INSERT … SELECT, UPDATE … SET or RETURNING carries is written (or returned) computed.
    this.relabel(start, ['output', 'expression'], 'write');
  }

  private funcCall(body: Obj): void {
    const parts = names(body.funcname);
    const name = parts[parts.length - 1] ?? '';
    const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
    let classification = classifyFunction(name, schema);
    if (name === 'set_config' && (schema === undefined || schema === 'pg_catalog')) {
      // set_config is a SET of the setting it names: flagged as that SET would be, else an ordinary
      // setting. A name it cannot tell could be any setting: it stays a config change rules must permit.
      const args = Array.isArray(body.args) ? body.args : [];
      const named = constText(args[0], this);
      const settings = named !== undefined ? [named] : this.settingsRowNames(args[0]);
      if (settings) {
        const change: SettingChange = { to: 'value', args: [args[1]] };
        for (const setting of settings) flagSettingChange(setting.toLowerCase(), change, this);
        classification = { class: 'safe' };
      }
    }
    this.functions.push({ schema, name, classification });
  }

  /**
   * The settings a `name` column of pg_settings can hold in the select list being walked, when the
   * query restricts it to constants (pg_dump: `SELECT set_config(name, …) FROM pg_settings WHERE name =
   * 'restrict_nonsystem_relation_kind'`). Only the select list: it is computed for the rows WHERE let
   * through, whereas the planner may evaluate quals in any order.
   */
  private settingsRowNames(arg: unknown): string[] | undefined {
    const rows = this.settingsRows;
    const ref = isObj(arg) && isObj(arg.ColumnRef) ? names(arg.ColumnRef.fields) : [];
    if (!rows || !isSettingsName(ref, rows.alias)) return undefined;
    return rows.names;
  }

  private operator(nameList: unknown): void {
    const parts = names(nameList);
    // Unqualified operators are built-in unless the database defines its own (see catalog.ts).
    if (parts.length === 1 && !this.operators.includes(parts[0])) this.operators.push(parts[0]);
    if (parts.length > 1 && parts[0] !== 'pg_catalog') {
      // OPERATOR(myschema.+) runs a user function.
      this.functions.push({
        schema: parts[0],
        name: `operator(${parts.join('.')})`,
        classification: { class: 'unknown' },
      });
    }
  }

  /**
   * A cast to a type outside pg_catalog runs the type's input function, a domain's CHECK expressions or
   * a user cast: user code. Unqualified names are pg_catalog's unless the catalog has a user type.
   */
  private typeCast(typeName: unknown): void {
    const parts = isObj(typeName) ? names(typeName.names) : [];
    if (parts.length === 1 && !this.castTypes.includes(parts[0])) this.castTypes.push(parts[0]);
    if (parts.length > 1 && !SYSTEM_SCHEMAS.has(parts[parts.length - 2])) {
      this.functions.push({ name: `cast to ${parts.join('.')}`, classification: { class: 'unknown' } });
    }
  }

  private columnRef(body: Obj): void {
    const fields = Array.isArray(body.fields) ? body.fields : [];
    const parts = fields.map((f) => (isObj(f) && 'A_Star' in f ? '*' : (str(f) ?? '?')));
    const usage = this.usage;
    const push = (relations: string[], column: string) =>
      this.columns.push({
        relation: relations.length === 1 && relations[0] !== '*' ? relations[0] : undefined,
        relations,
        column,
        usage,
      });
    // Innermost scope first: correlated subqueries see the outer FROM too.
    const lookup = (alias: string) => this.scopes.findLast((sc) => sc.from.has(alias))?.from.get(alias);
    if (parts.length === 1) {
      const [col] = parts;
      const whole = col === '*' ? undefined : lookup(col);
      // A bare FROM alias is a whole-row reference (SELECT t FROM t) — unless a table has a column of
      // that name, which PostgreSQL prefers: both are candidates.
      if (whole) push(whole.relations, '*');
      // An unqualified name may be any visible table's column, or any output of a visible subquery or
      // CTE — whose names need not match their sources' (SELECT e FROM (SELECT email e …) s): for those,
      // every column of what they read is a candidate.
      const tables = new Set<string>();
      const derived = new Set<string>();
      for (const sc of this.scopes) {
        for (const f of sc.from.values()) for (const r of f.relations) (f.table ? tables : derived).add(r);
      }
      if (tables.size) push([...tables], col);
      if (derived.size) push([...derived], '*');
      if (!tables.size && !derived.size) push(['*'], col);
    } else {
      const col = parts[parts.length - 1];
      const source = lookup(parts[parts.length - 2]);
      // Attribute notation: c.to_jsonb is to_jsonb(c) when c has no column to_jsonb, a call on the whole
      // row. Only the catalog knows c's columns and the database's functions (catalog.ts decides). A
      // function's result (g in generate_series(1, 2) g), or a name the walker does not place, may be a
      // scalar value, which any one-argument function takes.
      if (col !== '*' && source && !source.value) {
        const relations = source.relations.length ? source.relations : ['*'];
        this.attributes.push({ name: col, row: { relations, table: source.table, usage } });
      } else if (col !== '*') {
        this.attributes.push({ name: col });
      }
      // Through a subquery or CTE alias a column's name may differ from its source's: every column of
      // what it reads is a candidate.
      if (!source) push(['*'], col);
      else if (source.table) push(source.relations, col);
      else push(source.relations.length ? source.relations : ['*'], '*');
    }
  }
}

interface Classified {
  command: string;
  kind: StatementKind;
  details?: StatementFacts['details'];
}

/** Whether EXPLAIN runs the statement. PostgreSQL lets the last ANALYZE option win. */
function explainAnalyze(options: unknown, w: StatementWalker): boolean {
  let analyze = false;
  for (const o of Array.isArray(options) ? options : []) {
    const d = isObj(o) && isObj(o.DefElem) ? o.DefElem : null;
    if (!d || d.defname !== 'analyze') continue;
    const v = d.arg === undefined ? 'true' : constText(d.arg, w)?.toLowerCase();
    if (v !== undefined && TRUTHY.has(v)) analyze = true;
    else if (v !== undefined && FALSY.has(v)) analyze = false;
    else {
      w.problems.push('EXPLAIN with an ANALYZE option that is not a constant');
      return true;
    }
  }
  return analyze;
}

/** Whether a transaction option list (DefElems) asks for READ WRITE. */
function asksReadWrite(options: unknown, w: StatementWalker): boolean {
  for (const o of Array.isArray(options) ? options : []) {
    const d = isObj(o) && isObj(o.DefElem) ? o.DefElem : null;
    if (d?.defname === 'transaction_read_only' && !TRUTHY.has(constText(d.arg, w) ?? '0')) return true;
  }
  return false;
}

/** LOCKMODE AccessShareLock (storage/lockdefs.h), as LockStmt.mode carries it. */
const ACCESS_SHARE_LOCK = 1;

/** Statements whose command and kind do not depend on their content. */
const FIXED_STATEMENTS: Record<string, Classified> = {
  ClosePortalStmt: { command: 'CLOSE', kind: 'session' },
  ListenStmt: { command: 'LISTEN', kind: 'session' },
  UnlistenStmt: { command: 'UNLISTEN', kind: 'session' },
  // NOTIFY reaches other sessions: a side effect.
  NotifyStmt: { command: 'NOTIFY', kind: 'write' },
  DiscardStmt: { command: 'DISCARD', kind: 'session' },
  ConstraintsSetStmt: { command: 'SET CONSTRAINTS', kind: 'transaction' },
};

const TRANSACTION_COMMANDS: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK TO SAVEPOINT',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

/** COPY's options as written (legacy `CSV QUOTE AS '@'` gives the same DefElems); value null: a list or `*`. */
function copyOptions(list: unknown, w: StatementWalker): Array<{ name: string; value: string | null }> {
  if (!Array.isArray(list)) return [];
  return list.flatMap((o) => {
    if (!isObj(o) || !isObj(o.DefElem)) return [];
    const d = o.DefElem;
    const value = d.arg === undefined ? 'true' : (constText(d.arg, w) ?? null);
    return [{ name: String(d.defname).toLowerCase(), value }];
  });
}

/** Classifies the top-level statement and walks it. */
function classify(type: string, body: Obj, w: StatementWalker): Classified {
  switch (type) {
    case 'SelectStmt': {
      w.topLevel(() => w.walk({ SelectStmt: body }));
      if (w.flags.has('creates-table')) return { command: 'SELECT INTO', kind: 'ddl' };
      if (w.flags.has('row-lock')) return { command: 'SELECT FOR UPDATE/SHARE', kind: 'write' };
      return { command: 'SELECT', kind: 'read' };
    }
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      w.walk({ [type]: body });
      return {
        command: commandOf(type),
        kind: 'write',
        details: {
          writes: writtenColumns(type, body),
          // What a reviewer must not miss: no WHERE clause, so the write reaches every row of the table.
          ...((type === 'UpdateStmt' || type === 'DeleteStmt') && body.whereClause === undefined
            ? { everyRow: true as const }
            : {}),
        },
      };
    case 'CopyStmt': {
      const direction = body.is_from ? 'from' : 'to';
      const target = body.is_program
        ? 'program'
        : body.filename
          ? 'file'
          : direction === 'from'
            ? 'stdin'
            : 'stdout';
      if (target === 'program') w.flags.add('server-program');
      if (target === 'file') w.flags.add('server-file');
      if (direction === 'from') w.markTargets(body, ['relation']);
      w.walk(body.relation, 'relation');
      const start = w.columnCount;
      w.topLevel(() => w.walk(body.query, 'query'));
      if (direction === 'to') {
        // What COPY TO sends out, column by column: a table's columns (all, or those listed), or a query's output.
        w.relabel(start, ['output'], 'copy');
        if (isObj(body.relation)) {
          const r = body.relation;
          const rel = r.schemaname ? `${r.schemaname}.${r.relname}` : String(r.relname);
          const listed = names(body.attlist);
          for (const col of listed.length ? listed : ['*']) w.useColumn([rel], col, 'copy');
        }
      }
      w.walk(body.whereClause, 'whereClause');
      const kind =
        target === 'program' || target === 'file' ? 'utility' : direction === 'from' ? 'write' : 'read';
      return {
        command: `COPY ${direction.toUpperCase()} ${target.toUpperCase()}`,
        kind,
        details: { copy: { direction, target, options: copyOptions(body.options, w) } },
      };
    }
    case 'ExplainStmt': {
      const analyze = explainAnalyze(body.options, w);
      const inner = isObj(body.query) ? Object.entries(body.query)[0] : undefined;
      if (!inner || !isObj(inner[1])) return { command: 'EXPLAIN', kind: 'unknown' };
      const innerFacts = classify(inner[0], inner[1], w);
      if (analyze) {
        w.flags.add('explain-analyze');
        return {
          command: `EXPLAIN ANALYZE ${innerFacts.command}`,
          kind: innerFacts.kind,
          details: { explainAnalyze: true },
        };
      }
      // Plain EXPLAIN plans without executing: nothing is written.
      for (const r of w.relations) r.access = 'read';
      w.flags.delete('writable-cte');
      w.flags.delete('row-lock');
      w.flags.delete('creates-table');
      w.modifies = false;
      return { command: `EXPLAIN ${innerFacts.command}`, kind: 'read', details: { explainAnalyze: false } };
    }
    case 'CreateTableAsStmt': {
      w.flags.add('creates-table');
      w.markTargets(isObj(body.into) ? body.into : {}, ['rel']);
      w.walk(body.into, 'into');
      const start = w.columnCount;
      w.walk(body.query, 'query');
      w.relabel(start, ['output', 'expression'], 'write');
      const matview = body.objtype === 'OBJECT_MATVIEW';
      return { command: matview ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS', kind: 'ddl' };
    }
    case 'VariableSetStmt': {
      const name = String(body.name ?? '').toLowerCase();
      flagVariableSet(body, w);
      w.walk(body.args, 'args');
      const verb = body.kind === 'VAR_RESET' || body.kind === 'VAR_RESET_ALL' ? 'RESET' : 'SET';
      return {
        command: verb,
        kind: 'session',
        details: { setting: body.kind === 'VAR_RESET_ALL' ? 'all' : name },
      };
    }
    case 'VariableShowStmt':
      return { command: 'SHOW', kind: 'read', details: { setting: String(body.name ?? '').toLowerCase() } };
    case 'TransactionStmt': {
      const command = TRANSACTION_COMMANDS[String(body.kind)] ?? 'TRANSACTION';
      if (asksReadWrite(body.options, w)) w.flags.add('read-write-transaction');
      if (/PREPARED|PREPARE TRANSACTION/.test(command)) w.flags.add('two-phase');
      return { command, kind: 'transaction' };
    }
    case 'PrepareStmt': {
      const inner = isObj(body.query) ? Object.entries(body.query)[0] : undefined;
      if (!inner || !isObj(inner[1])) return { command: 'PREPARE', kind: 'unknown' };
      const c = classify(inner[0], inner[1], w);
      return { command: `PREPARE ${c.command}`, kind: c.kind, details: { prepared: String(body.name) } };
    }
    case 'ExecuteStmt':
      w.flags.add('executes-prepared');
      w.walk(body.params, 'params');
      return { command: 'EXECUTE', kind: 'unknown', details: { prepared: String(body.name) } };
    case 'DeallocateStmt':
      return {
        command: 'DEALLOCATE',
        kind: 'session',
        details: { prepared: body.name ? String(body.name) : 'all' },
      };
    case 'DeclareCursorStmt': {
      const inner = isObj(body.query) ? Object.entries(body.query)[0] : undefined;
      if (!inner || !isObj(inner[1])) return { command: 'DECLARE', kind: 'unknown' };
      const c = classify(inner[0], inner[1], w);
      return { command: `DECLARE CURSOR ${c.command}`, kind: c.kind };
    }
    case 'FetchStmt':
      return { command: body.ismove ? 'MOVE' : 'FETCH', kind: 'read' };
    case 'ClosePortalStmt':
    case 'ListenStmt':
    case 'UnlistenStmt':
    case 'NotifyStmt':
    case 'DiscardStmt':
    case 'ConstraintsSetStmt':
      return { ...FIXED_STATEMENTS[type] };
    case 'DoStmt':
      w.flags.add('opaque-code');
      return { command: 'DO', kind: 'utility' };
    case 'CallStmt':
      w.flags.add('opaque-code');
      w.walk(body.funccall, 'funccall');
      return { command: 'CALL', kind: 'utility' };
    case 'TruncateStmt':
      w.markTargets(body, ['relations']);
      w.walk(body.relations, 'relations');
      return { command: 'TRUNCATE', kind: 'write', details: { everyRow: true } };
    case 'LockStmt':
      if (body.mode === ACCESS_SHARE_LOCK) {
        // It conflicts only with ACCESS EXCLUSIVE, the lock a plain SELECT takes too (pg_dump takes it).
        w.walk(body.relations, 'relations');
        return { command: 'LOCK', kind: 'read' };
      }
      // Other modes block writers or readers: utility, like maintenance.
      return maintenance(type, body, w);
    case 'VacuumStmt':
    case 'ClusterStmt':
    case 'ReindexStmt':
    case 'CheckPointStmt':
    case 'LoadStmt':
      return maintenance(type, body, w);
    default: {
      const kind: StatementKind | null = DCL.has(type) ? 'dcl' : DDL_PREFIX.test(type) ? 'ddl' : null;
      if (!kind) {
        w.problems.push(`statement type ${type} is not recognised by Airlock`);
        return { command: commandOf(type), kind: 'unknown' };
      }
      // ALTER ROLE/DATABASE/SYSTEM … SET: the setting applies to sessions to come.
      if (isObj(body.setstmt)) flagVariableSet(body.setstmt, w);
      w.markTargets(body, TARGET_FIELDS);
      w.walk(body, type);
      if (type === 'DropStmt') {
        dropTargets(body, w);
        return {
          command: `DROP ${String(body.removeType)
            .replace(/^OBJECT_/, '')
            .replace(/_/g, ' ')}`,
          kind,
        };
      }
      return { command: commandOf(type), kind };
    }
  }
}

/** Maintenance and locking statements: utility, on the relations they name. */
function maintenance(type: string, body: Obj, w: StatementWalker): Classified {
  w.markTargets(body, TARGET_FIELDS);
  w.walk(body, type);
  const command = type === 'VacuumStmt' ? (body.is_vacuumcmd ? 'VACUUM' : 'ANALYZE') : commandOf(type);
  return { command, kind: 'utility' };
}

/** DROP TABLE/VIEW … name their objects as name lists, not RangeVars. */
function dropTargets(body: Obj, w: StatementWalker): void {
  if (!/OBJECT_(TABLE|VIEW|MATVIEW|FOREIGN_TABLE|SEQUENCE|INDEX)$/.test(String(body.removeType))) return;
  for (const o of Array.isArray(body.objects) ? body.objects : []) {
    const parts = isObj(o) && isObj(o.List) ? names(o.List.items) : [];
    if (parts.length) {
      w.relations.push({
        schema: parts.length > 1 ? parts[parts.length - 2] : undefined,
        name: parts[parts.length - 1],
        access: 'write',
      });
    }
  }
}

function factsOf(stmt: ParseNode, text: string): { facts: StatementFacts; numbersMatter: boolean } {
  const [type, body] = Object.entries(stmt)[0] ?? ['', undefined];
  const w = new StatementWalker();
  const c: Classified = isObj(body) ? classify(type, body, w) : { command: '?', kind: 'unknown' };
  if (!isObj(body)) w.problems.push('empty statement node');
  let kind = c.kind;
  // A data-modifying CTE (or COPY (DELETE … RETURNING) TO STDOUT) is a write, whatever the top level says.
  if (w.modifies && (kind === 'read' || kind === 'session')) kind = 'write';
  if (kind === 'unknown' && !w.flags.has('executes-prepared') && w.problems.length === 0) {
    w.problems.push(`cannot classify ${c.command}`);
  }
  const facts: StatementFacts = {
    text,
    command: c.command,
    kind,
    flags: [...w.flags],
    relations: w.relations,
    functions: w.functions,
    columns: dedupeColumns(w.columns),
    operators: w.operators,
    ...(w.attributes.length ? { attributes: w.attributes } : {}),
    ...(w.castTypes.length ? { castTypes: w.castTypes } : {}),
    details: w.lexicalSettings.size ? { ...c.details, lexical: [...w.lexicalSettings] } : (c.details ?? {}),
    problems: w.problems,
  };
  return { facts, numbersMatter: w.numbersMatter };
}

function dedupeColumns(cols: ColumnUse[]): ColumnUse[] {
  const seen = new Set<string>();
  return cols.filter((c) => {
    const k = `${c.relations.join(',')}\0${c.column}\0${c.usage}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Analyses a string of statements. An unparseable string is an analysis failure (the gate denies). */
export function analyzeSql(text: string): SqlAnalysis {
  const parsed = parseStatements(text);
  if (!parsed.ok) return parsed;
  const each = parsed.statements.map((s) =>
    factsOf(s.stmt, text.slice(s.location, s.location + s.length).trim()),
  );
  return { ok: true, statements: each.map((e) => e.facts), numbersMatter: each.some((e) => e.numbersMatter) };
}
