import { isDeepStrictEqual } from 'node:util';
import { analyzeSql } from './analyze';
import type { SqlAnalysis } from './facts';

/**
 * The cache key for a statement string. Parsing costs more than a pooler's whole per-transaction work,
 * and statements that differ only in numbers (`… WHERE aid = 83734`) are the common case, so digits of
 * numeric literals are replaced by zeros of the same count: offsets stay valid, and the key is itself
 * the statement with zeros, which AnalysisCache analyses to check that the numbers decide nothing.
 * Runs of more than 9 digits stay as they are: past int4 the grammar reads another token (FCONST for
 * ICONST), so the same count of zeros would not stand for them. Anything whose tokens a simple scan
 * could misjudge (quotes, dollar quotes, comments, backslashes, non-ASCII) keeps its exact text as the
 * key, so no crafted string can share a benign entry.
 */
export function analysisCacheKey(text: string): string {
  let out = '';
  let copied = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    // ' " \ non-ASCII, control characters: keep the exact text.
    if (
      c === 0x27 ||
      c === 0x22 ||
      c === 0x5c ||
      c > 0x7e ||
      (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d)
    ) {
      return text;
    }
    if (c === 0x24) {
      // $ that does not start a $n parameter (dollar quoting)
      if (!(i + 1 < n && isDigit(text.charCodeAt(i + 1)))) return text;
      i++;
      while (i + 1 < n && isDigit(text.charCodeAt(i + 1))) i++;
      continue;
    }
    if ((c === 0x2d && text.charCodeAt(i + 1) === 0x2d) || (c === 0x2f && text.charCodeAt(i + 1) === 0x2a)) {
      return text; // -- and /* comments
    }
    if (!isDigit(c)) continue;
    const start = i;
    while (i + 1 < n && isDigit(text.charCodeAt(i + 1))) i++;
    // Only a standalone number: not part of an identifier or a 1e5-style exponent.
    const before = start > 0 ? text.charCodeAt(start - 1) : 0x20;
    const after = i + 1 < n ? text.charCodeAt(i + 1) : 0x20;
    if (!isWordChar(before) && !isWordChar(after) && i + 1 - start <= MAX_NORMALISED_DIGITS) {
      out += text.slice(copied, start) + '0'.repeat(i + 1 - start);
      copied = i + 1;
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** Every number of up to 9 digits is an int4: the same token, whatever its digits. */
const MAX_NORMALISED_DIGITS = 9;

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isWordChar = (c: number) =>
  isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24;

/**
 * A bounded LRU of analyses by cache key. The facts' statement texts come from the first string seen
 * for a key, so callers that show or record text take it from the request, not from cached facts.
 *
 * One statement never stands for another: an analysis is shared under the normalised key only when the
 * numbers provably decide nothing — the analysis read no number (numbersMatter), and the same statement
 * with zeros (the key itself) gives equal facts, so a number that changes what parses or how (ALTER
 * COLUMN 0 is a syntax error, ALTER COLUMN 2 is not) keeps the exact text as key. Failures are always
 * keyed exactly. The second analysis runs only on a miss that would be shared.
 */
export class AnalysisCache {
  /**
   * Two key spaces, so that a normalised key never finds an entry stored under some other exact text.
   * Entries carry the sequence number that orders their eviction.
   */
  private readonly normalized = new Map<string, { analysis: SqlAnalysis; seq: number }>();
  private readonly exact = new Map<string, { analysis: SqlAnalysis; seq: number }>();
  private seq = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly capacity = 5000) {}

  analyze(text: string): SqlAnalysis {
    const key = analysisCacheKey(text);
    const cached = this.lookup(this.normalized, key) ?? this.lookup(this.exact, text);
    if (cached) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const analysis = analyzeSql(text);
    // The key is the text with zeros: when it is the text itself, the analysis is the zeros' analysis.
    const shared =
      analysis.ok && !analysis.numbersMatter && (key === text || sameFacts(analysis, analyzeSql(key)));
    const [map, k] = shared ? [this.normalized, key] : [this.exact, text];
    map.set(k, { analysis, seq: ++this.seq });
    this.evict();
    return analysis;
  }

  /** Drops the oldest entry of either space once both together exceed the capacity. */
  private evict(): void {
    if (this.normalized.size + this.exact.size <= this.capacity) return;
    const n = this.normalized.entries().next().value;
    const x = this.exact.entries().next().value;
    if (n && (!x || n[1].seq < x[1].seq)) this.normalized.delete(n[0]);
    else if (x) this.exact.delete(x[0]);
  }

  /**
   * Least recently used, approximately: an entry is moved to the young end only once it has aged past
   * half the capacity, so a hit usually costs one Map lookup and nothing else.
   */
  private lookup(
    map: Map<string, { analysis: SqlAnalysis; seq: number }>,
    key: string,
  ): SqlAnalysis | undefined {
    const hit = map.get(key);
    if (hit && this.seq - hit.seq > this.capacity / 2) {
      map.delete(key);
      hit.seq = ++this.seq;
      map.set(key, hit);
    }
    return hit?.analysis;
  }
}

/** Whether two analyses have the same facts, statement texts aside. */
function sameFacts(a: SqlAnalysis, b: SqlAnalysis): boolean {
  if (!a.ok || !b.ok || a.statements.length !== b.statements.length) return false;
  return a.statements.every((s, i) =>
    isDeepStrictEqual({ ...s, text: '' }, { ...b.statements[i], text: '' }),
  );
}
