import type { StatementFacts } from '../sql/facts';

type CopyDetails = NonNullable<StatementFacts['details']['copy']>;

/**
 * The COPY TO options whose output the masker decodes exactly: PostgreSQL's text format (tab-separated
 * fields, backslash escapes, UTF-8). Every other option reshapes values after the detectors' point of
 * view (CSV quoting, QUOTE/ESCAPE/DELIMITER choices, another ENCODING's bytes, binary) — or is one this
 * list does not know yet — so under a masking policy it is refused rather than relayed half-masked.
 */
const DECODED: Record<string, (value: string | null) => boolean> = {
  format: (v) => v?.toLowerCase() === 'text',
  delimiter: (v) => v === '\t',
  // The null marker is written as is and never reshapes a value.
  null: (v) => v !== null,
  // A header line is one more row of the same format.
  header: (v) => v !== null && ['true', 'on', '1', 'false', 'off', '0'].includes(v.toLowerCase()),
  // PostgreSQL ignores case and non-alphanumerics in encoding names ("utf-8", "Unicode").
  encoding: (v) => v !== null && ['utf8', 'unicode'].includes(v.toLowerCase().replace(/[^a-z0-9]/g, '')),
};

/** Why the masker could not decode what this COPY TO sends (null: it can). COPY FROM sends nothing out. */
export function undecodableCopyOption(copy: CopyDetails): string | null {
  if (copy.direction !== 'to') return null;
  for (const o of copy.options) {
    const decoded = DECODED[o.name];
    if (!decoded || !decoded(o.value)) {
      const what =
        o.name === 'format' && o.value !== null
          ? `${o.value.toLowerCase()} COPY`
          : `COPY TO with ${o.name.toUpperCase()}${o.value === null ? '' : ` ${JSON.stringify(o.value)}`}`;
      return `${what} cannot be masked: under a masking policy COPY data is masked only in the default text format`;
    }
  }
  return null;
}
