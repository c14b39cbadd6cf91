import type { SqlAnalysis, StatementFacts } from './facts';

/**
 * The statements a session PREPAREd in SQL, so that `EXECUTE name` is decided as what it runs. The
 * protocol adapter owns one per session; the gate reads it while deciding and updates it only for what
 * it allowed.
 */
export class PreparedStatements {
  private readonly byName = new Map<string, StatementFacts>();

  /** EXECUTE name is decided as the statement PREPAREd under that name (earlier, or in this request). */
  resolve(analysis: SqlAnalysis): SqlAnalysis {
    return resolvePrepared(analysis, this.byName);
  }

  /** The statements were allowed: remember what they prepare, forget what they deallocate. */
  remember(statements: StatementFacts[]): void {
    for (const s of statements) {
      const name = s.details.prepared;
      if (!name) continue;
      if (s.command.startsWith('PREPARE')) this.byName.set(name, s);
      else if (s.command === 'DEALLOCATE') {
        if (name === 'all') this.byName.clear();
        else this.byName.delete(name);
      }
    }
  }
}

/** As PreparedStatements.resolve, for a caller without a session (nothing was prepared before). */
export function resolvePrepared(
  analysis: SqlAnalysis,
  before: ReadonlyMap<string, StatementFacts> = new Map(),
): SqlAnalysis {
  if (!analysis.ok || !analysis.statements.some((s) => s.flags.includes('executes-prepared')))
    return analysis;
  const known = new Map(before);
  const statements = analysis.statements.map((s) => {
    const name = s.details.prepared;
    if (s.command.startsWith('PREPARE') && name) known.set(name, s);
    if (!s.flags.includes('executes-prepared') || !name) return s;
    const target = known.get(name);
    if (!target) {
      return {
        ...s,
        problems: [...s.problems, `EXECUTE of "${name}", which was not prepared through Airlock`],
      };
    }
    return {
      ...target,
      text: s.text,
      command: target.command.replace(/^PREPARE/, 'EXECUTE'),
      functions: [...target.functions, ...s.functions],
      flags: target.flags,
    };
  });
  return { ...analysis, statements };
}
