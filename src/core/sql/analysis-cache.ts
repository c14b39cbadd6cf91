import { analyzeSql } from './analyze';
import type { SqlAnalysis } from './facts';

/**
 * The cache key for a statement string. Parsing costs more than a pooler's whole per-transaction work,
 * and statements that differ only in numbers (`… WHERE aid = 83734`) are the common case, so digits of
 * numeric literals are replaced by zeros of the same count: offsets stay valid and numbers never change
 * what a statement does. Anything whose tokens a simple scan could misjudge (quotes, dollar quotes,
 * comments, backslashes, non-ASCII) keeps its exact text as the key, so no crafted string can share a
 * benign entry.
 */
export function analysisCacheKey(text: string): string {
  let out = '';
  let runStart = -1;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x20;
    if (
      c === 0x27 ||
      c === 0x22 ||
      c === 0x5c ||
      c > 0x7e ||
      (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d)
    ) {
      return text; // ' " \ non-ASCII control
    }
    if (c === 0x24 && !(i + 1 < text.length && isDigit(text.charCodeAt(i + 1)))) return text; // $ not a $n param
    if ((c === 0x2d && text.charCodeAt(i + 1) === 0x2d) || (c === 0x2f && text.charCodeAt(i + 1) === 0x2a)) {
      return text; // -- and /* comments
    }
    if (isDigit(c)) {
      if (runStart < 0) runStart = i;
      continue;
    }
    if (runStart >= 0) {
      const before = runStart > 0 ? text.charCodeAt(runStart - 1) : 0x20;
      // Only a standalone number: not part of an identifier, a $n parameter, or 1e5-style exponent.
      const standalone = !isWordChar(before) && before !== 0x24 && !isWordChar(c);
      out += standalone ? '0'.repeat(i - runStart) : text.slice(runStart, i);
      runStart = -1;
    }
    if (i < text.length) out += text[i];
  }
  return out;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isWordChar = (c: number) =>
  isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24;

/**
 * A bounded LRU of analyses by cache key. The facts' statement texts come from the first string seen
 * for a key, so callers that show or record text take it from the request, not from cached facts.
 */
export class AnalysisCache {
  private readonly entries = new Map<string, SqlAnalysis>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity = 5000) {}

  analyze(text: string): SqlAnalysis {
    // Two key spaces: a normalised key must never find an entry stored under some other exact text.
    const normalized = 'n:' + analysisCacheKey(text);
    const exact = 'x:' + text;
    const cached = this.lookup(normalized) ?? this.lookup(exact);
    if (cached) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const analysis = analyzeSql(text);
    // Facts that a number decided are keyed by the exact text (EXPLAIN (ANALYZE 0) ≠ (ANALYZE 1)).
    this.entries.set(analysis.ok && analysis.numbersMatter ? exact : normalized, analysis);
    if (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    return analysis;
  }

  private lookup(key: string): SqlAnalysis | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Refresh recency: Map iteration order is insertion order.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }
}
