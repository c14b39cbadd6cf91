import {
  BuiltinDetectorImpl,
  detectorMightMatch,
  textFeatures,
  type Detector,
  type Finding,
} from './detectors';
import { MASK_STYLES, hashMask, maskFragment, type MaskStyle } from './masks';

/**
 * Finds and masks content (personal data, secrets) in text values with a set of detectors.
 *
 * Built-in detectors share one cheap pass over the text (textFeatures: digit and ':' counts, '@',
 * digit-separator-digit, "eyJ", AKIA-like prefixes, gh?_ / github_pat_, xox?- / ://hooks.slack.com/,
 * -----BEGIN, key labels); each detector runs only when its gate on those features holds (card needs 13
 * digits, ssn 9 digits and a separator between digits, email an '@', …). A gate is a necessary condition
 * for a finding, so mightContain() — the same pass and the gates, nothing else — never hides one; scan()
 * right after mightContain() on the same text reuses that pass. Custom detectors run their own regex.
 *
 * `styleFor` is asked once per detector name, at construction (its answers are cached). One scanner is
 * meant for one thread of work (it keeps the last text's features), which in Node is any.
 */
export class ContentScanner {
  private readonly builtins: BuiltinDetectorImpl[] = [];
  private readonly custom: Detector[] = [];
  // The features of the text mightContain() saw last, for the scan() that usually follows it.
  private lastText: string | null = null;
  private lastFeatures = 0;
  private readonly styles = new Map<string, MaskStyle>();

  constructor(
    detectors: Detector[],
    private readonly styleFor: (detector: string) => MaskStyle,
    private readonly hashKey: Buffer,
  ) {
    const seen = new Set<Detector>();
    for (const d of detectors) {
      if (seen.has(d)) continue;
      seen.add(d);
      if (d instanceof BuiltinDetectorImpl) this.builtins.push(d);
      else this.custom.push(d);
    }
    // Fail at configuration time, not on the first finding: unknown styles, hash without a key.
    for (const d of seen) {
      const style = this.style(d.name);
      if (!MASK_STYLES.includes(style)) {
        throw new Error(`content detector "${d.name}": unknown mask style "${String(style)}"`);
      }
      if (style === 'hash') hashMask('', hashKey);
    }
  }

  /** Replaces every finding in `text` (non-overlapping; on overlap the earliest start wins, then the longest). Returns the same string instance when nothing was found. */
  scan(text: string): { text: string; findings: number } {
    if (text.length === 0) return { text, findings: 0 };
    let findings: Finding[] | null = null;
    if (this.builtins.length > 0) {
      const features = text === this.lastText ? this.lastFeatures : textFeatures(text);
      this.lastText = null; // do not keep a large value alive
      if (features !== 0) {
        for (const d of this.builtins) {
          if (d.gate(features)) d.scanInto(text, features, (findings ??= []));
        }
      }
    }
    for (const d of this.custom) {
      const found = d.find(text);
      if (found.length === 0) continue;
      findings ??= [];
      for (const f of found) {
        // Defensive: a custom detector's offsets must lie in the text and not be empty.
        if (f.start >= 0 && f.end <= text.length && f.end > f.start) findings.push(f);
      }
    }
    if (findings === null || findings.length === 0) return { text, findings: 0 };
    if (findings.length > 1) findings.sort((a, b) => a.start - b.start || b.end - a.end);
    let out = '';
    let copied = 0;
    let count = 0;
    for (const f of findings) {
      if (f.start < copied) continue; // overlaps a finding already masked
      out +=
        text.slice(copied, f.start) +
        maskFragment(text.slice(f.start, f.end), this.style(f.detector), f.detector, this.hashKey);
      copied = f.end;
      count++;
    }
    return { text: out + text.slice(copied), findings: count };
  }

  /** Fast pre-check used on the hot path: false means scan() would certainly find nothing. */
  mightContain(text: string): boolean {
    if (text.length === 0) return false;
    this.lastText = null;
    if (this.builtins.length > 0) {
      const features = textFeatures(text);
      if (features !== 0) {
        for (const d of this.builtins) {
          if (d.gate(features)) {
            this.lastText = text;
            this.lastFeatures = features;
            return true;
          }
        }
      }
    }
    for (const d of this.custom) if (detectorMightMatch(d, text)) return true;
    return false;
  }

  private style(detector: string): MaskStyle {
    let s = this.styles.get(detector);
    if (s === undefined) {
      s = this.styleFor(detector);
      this.styles.set(detector, s);
    }
    return s;
  }
}
