import { isWord } from './scan-helpers';
import type { Detector, Finding } from './types';

// Custom detectors from policy: a regular expression, or a dictionary of words and phrases.

/**
 * A custom regex detector; its pre-check (`mightMatch`) is exact and costs one regex test.
 * @internal
 */
export class PatternDetector implements Detector {
  private readonly probe: RegExp;

  constructor(
    readonly name: string,
    private readonly re: RegExp,
  ) {
    this.probe = new RegExp(re.source, re.flags.replace('g', ''));
  }

  find(text: string): Finding[] {
    const out: Finding[] = [];
    const re = this.re;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) {
        // Never a zero-length finding; step over the position (a whole code point under 'u').
        re.lastIndex = m.index + (re.unicode && (text.codePointAt(m.index) ?? 0) > 0xffff ? 2 : 1);
        continue;
      }
      out.push({ detector: this.name, start: m.index, end: m.index + m[0].length });
    }
    return out;
  }

  /** False only when `find` certainly finds nothing. */
  mightMatch(text: string): boolean {
    return this.probe.test(text);
  }
}

/** Strings a pattern must not match emptily: zero-length matches mean it can match "nothing". */
const EMPTY_PROBES = [
  '',
  ' ',
  'a',
  'A',
  'z',
  '0',
  '9',
  '_',
  '-',
  '.',
  '@',
  '\n',
  'ab',
  'a b',
  'é',
  'x1 y2-z3',
];

/**
 * A custom detector from policy: a regex (JavaScript syntax; compiled once; 'g' added; reject patterns
 * that can match the empty string, with a clear Error message). Whether a pattern can match the empty
 * string is checked on a set of probe strings ('' , letters, digits, punctuation, whitespace): `a*`,
 * `x?`, `a|`, `\b`, `(?=a)`, `$` are rejected. A zero-length match the probes miss (say `(?<=key)`) is
 * skipped at run time, never reported. Patterns are the policy author's: nested unbounded repetitions
 * can backtrack badly, as with any JavaScript regex.
 */
export function regexDetector(
  name: string,
  pattern: string,
  options?: { caseInsensitive?: boolean },
): Detector {
  const flags = options?.caseInsensitive ? 'gi' : 'g';
  let re: RegExp;
  try {
    re = new RegExp(pattern, flags);
  } catch (err) {
    throw new Error(
      `content detector "${name}": invalid regular expression /${pattern}/: ${(err as Error).message}`,
    );
  }
  for (const probe of EMPTY_PROBES) {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    let steps = 0;
    while ((m = re.exec(probe)) !== null && steps++ < 8) {
      if (m[0].length === 0) {
        throw new Error(
          `content detector "${name}": the pattern /${pattern}/ can match the empty string ` +
            `(at ${m.index} in ${JSON.stringify(probe)}); make every part of it match at least one character`,
        );
      }
    }
  }
  return new PatternDetector(name, re);
}

/**
 * A custom detector from policy: whole-word matches of any listed word/phrase (case-insensitive by
 * default). "Whole word": not preceded or followed by a letter, digit or mark of any script, or '_'.
 * Case-insensitive means each UTF-16 unit lowercased on its own (String.prototype.toLowerCase where that
 * keeps one unit: "ZÜRICH" matches "Zürich"; "ß" does not match "SS"). Whitespace inside a phrase matches
 * any run of whitespace ("New York" matches "New  York" and "New\nYork"). Where phrases overlap, the
 * longest wins at a given start. The words go into a trie walked by one pass over the text, so a list of
 * thousands costs about as much as a list of one.
 */
export function dictionaryDetector(
  name: string,
  words: string[],
  options?: { caseSensitive?: boolean },
): Detector {
  return new DictionaryDetector(name, words, options?.caseSensitive ?? false);
}

interface TrieNode {
  next: Map<number, TrieNode>;
  /** The node after a whitespace run, if a phrase continues with one. */
  space: TrieNode | null;
  terminal: boolean;
}

const newNode = (): TrieNode => ({ next: new Map(), space: null, terminal: false });
const isSpaceCode = (c: number) =>
  c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff; // prettier-ignore

/** Lowercase of one UTF-16 unit, when that is one unit (else the unit itself). */
const foldCache = new Map<number, number>();
function foldUnit(c: number): number {
  if (c < 0x80) return c >= 0x41 && c <= 0x5a ? c + 32 : c;
  let f = foldCache.get(c);
  if (f === undefined) {
    const lower = String.fromCharCode(c).toLowerCase();
    f = lower.length === 1 ? lower.charCodeAt(0) : c;
    foldCache.set(c, f);
  }
  return f;
}

const UNICODE_WORD = /^[\p{L}\p{N}\p{M}_]$/u;
const wordCache = new Map<number, boolean>();
/** A letter, digit or mark of any script, or '_' (code point). */
function isWordCodePoint(cp: number): boolean {
  if (cp < 0x80) return isWord(cp);
  let w = wordCache.get(cp);
  if (w === undefined) {
    w = UNICODE_WORD.test(String.fromCodePoint(cp));
    if (wordCache.size < 65536) wordCache.set(cp, w);
  }
  return w;
}

function wordBefore(text: string, i: number): boolean {
  if (i === 0) return false;
  const c = text.charCodeAt(i - 1);
  if (c < 0x80) return isWord(c);
  const cp = c >= 0xdc00 && c <= 0xdfff && i >= 2 ? (text.codePointAt(i - 2) ?? c) : c;
  return isWordCodePoint(cp);
}

function wordAt(text: string, i: number): boolean {
  if (i >= text.length) return false;
  const c = text.charCodeAt(i);
  return c < 0x80 ? isWord(c) : isWordCodePoint(text.codePointAt(i) ?? c);
}

/** @internal */
export class DictionaryDetector implements Detector {
  private readonly root = newNode();
  /** The root's children by ASCII code, for the per-position lookup. */
  private readonly asciiRoot: Array<TrieNode | undefined> = new Array(128).fill(undefined);

  constructor(
    readonly name: string,
    words: string[],
    private readonly caseSensitive: boolean,
  ) {
    let count = 0;
    for (const word of words) {
      const phrase = word.trim();
      if (phrase.length === 0) continue;
      count++;
      let node = this.root;
      for (let k = 0; k < phrase.length; k++) {
        const c = phrase.charCodeAt(k);
        if (isSpaceCode(c)) {
          while (k + 1 < phrase.length && isSpaceCode(phrase.charCodeAt(k + 1))) k++;
          node.space ??= newNode();
          node = node.space;
          continue;
        }
        const key = caseSensitive ? c : foldUnit(c);
        let child = node.next.get(key);
        if (child === undefined) {
          child = newNode();
          node.next.set(key, child);
        }
        node = child;
      }
      node.terminal = true;
    }
    if (count === 0) throw new Error(`content detector "${name}": the word list is empty`);
    for (const [key, child] of this.root.next) if (key < 128) this.asciiRoot[key] = child;
  }

  find(text: string): Finding[] {
    const out: Finding[] = [];
    this.scan(text, out, false);
    return out;
  }

  /** False only when `find` certainly finds nothing (it is find, stopping at the first match). */
  mightMatch(text: string): boolean {
    return this.scan(text, null, true);
  }

  private scan(text: string, out: Finding[] | null, first: boolean): boolean {
    const n = text.length;
    const cs = this.caseSensitive;
    let found = false;
    let i = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      const start =
        c < 0x80 ? this.asciiRoot[cs ? c : foldUnit(c)] : this.root.next.get(cs ? c : foldUnit(c));
      if (start !== undefined && !wordBefore(text, i)) {
        const end = this.walk(text, start, i + 1);
        if (end > 0) {
          found = true;
          if (first) return true;
          out?.push({ detector: this.name, start: i, end });
          i = end;
          continue;
        }
      }
      i++;
    }
    return found;
  }

  /** The end of the longest phrase from `node` at `k` that ends at a word boundary, or -1. */
  private walk(text: string, node: TrieNode, k: number): number {
    const n = text.length;
    let best = -1;
    for (;;) {
      if (node.terminal && !wordAt(text, k)) best = k;
      if (k >= n) break;
      const c = text.charCodeAt(k);
      if (node.space !== null && isSpaceCode(c)) {
        k++;
        while (k < n && isSpaceCode(text.charCodeAt(k))) k++;
        node = node.space;
        continue;
      }
      const child = node.next.get(this.caseSensitive ? c : foldUnit(c));
      if (child === undefined) break;
      node = child;
      k++;
    }
    return best;
  }
}

/**
 * Whether a detector can find something in `text`: exact and cheaper than `find` for our own custom
 * detectors; any other Detector can only be asked to find.
 * @internal
 */
export function detectorMightMatch(d: Detector, text: string): boolean {
  if (d instanceof PatternDetector || d instanceof DictionaryDetector) return d.mightMatch(text);
  return d.find(text).length > 0;
}
