// What every detector is and finds, and the names of the built-in ones.

export const BUILTIN_DETECTORS = [
  'card',
  'email',
  'phone',
  'ssn',
  'iban',
  'ipv4',
  'ipv6',
  'jwt',
  'aws-key',
  'github-token',
  'slack-token',
  'private-key',
] as const;
export type BuiltinDetector = (typeof BUILTIN_DETECTORS)[number];

/** One match: [start, end) in UTF-16 code units of the input. */
export interface Finding {
  detector: string;
  start: number;
  end: number;
}

export interface Detector {
  readonly name: string;
  find(text: string): Finding[];
}
