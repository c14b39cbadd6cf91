import { clearAfter, clearBefore } from './scan-helpers';
import type { Finding } from './types';

// National identifiers: US social security numbers.

const SSN = /\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}/g;

export function findSsns(text: string, out: Finding[]): void {
  const re = SSN;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const end = start + 11;
    const glue = m[0][3] === ' ' ? ' .-' : '.-';
    const s = m[0];
    const area = Number(s.slice(0, 3));
    const valid =
      area !== 0 &&
      area !== 666 &&
      area < 900 &&
      s.slice(4, 6) !== '00' &&
      s.slice(7) !== '0000' &&
      clearBefore(text, start, glue) &&
      clearAfter(text, end, glue);
    if (valid) out.push({ detector: 'ssn', start, end });
    else re.lastIndex = start + 1;
  }
}
