import { isIPv6 } from 'node:net';
import { clearAfter, clearBefore, isDigit, isWord } from './scan-helpers';
import type { Finding } from './types';

// Network addresses: IPv4 and IPv6.

const IPV4 = /\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/g;

export function findIpv4s(text: string, out: Finding[]): void {
  const re = IPV4;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const end = start + m[0].length;
    if (isIpv4(m[0]) && clearBefore(text, start, '.') && clearAfter(text, end, '.')) {
      out.push({ detector: 'ipv4', start, end });
    } else {
      re.lastIndex = start + 1;
    }
  }
}

function isIpv4(s: string): boolean {
  let octet = 0;
  let len = 0;
  let lead0 = false;
  for (let k = 0; k <= s.length; k++) {
    const c = k < s.length ? s.charCodeAt(k) : 0x2e;
    if (c === 0x2e) {
      if (octet > 255 || (lead0 && len > 1)) return false;
      octet = 0;
      len = 0;
      continue;
    }
    if (len === 0) lead0 = c === 0x30;
    octet = octet * 10 + (c - 48);
    len++;
  }
  return true;
}

const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const isV6Char = (c: number) => isHex(c) || c === 0x3a || c === 0x2e;

export function findIpv6s(text: string, out: Finding[]): void {
  const n = text.length;
  let floor = 0;
  let colon: number;
  while ((colon = text.indexOf(':', floor)) !== -1) {
    // The maximal run of hex digits, ':' and '.' around this colon.
    let s = colon;
    while (s > floor && isV6Char(text.charCodeAt(s - 1))) s--;
    let e = colon + 1;
    while (e < n && isV6Char(text.charCodeAt(e))) e++;
    floor = e;
    // Sentence punctuation and a lone ':' at either end are not part of the address.
    while (s < e && text.charCodeAt(s) === 0x2e) s++;
    while (e > s && text.charCodeAt(e - 1) === 0x2e) e--;
    if (text.charCodeAt(s) === 0x3a && text.charCodeAt(s + 1) !== 0x3a) s++;
    if (text.charCodeAt(e - 1) === 0x3a && text.charCodeAt(e - 2) !== 0x3a) e--;
    if (e - s < 3 || e - s > 45) continue;
    if (isWord(text.charCodeAt(s - 1)) || isWord(text.charCodeAt(e))) continue;
    let colons = 0;
    let hex = 0;
    for (let k = s; k < e; k++) {
      const c = text.charCodeAt(k);
      if (c === 0x3a) colons++;
      else if (c !== 0x2e) hex++;
    }
    if (colons < 2 || hex === 0) continue;
    const candidate = text.slice(s, e);
    if (isIPv6(candidate)) out.push({ detector: 'ipv6', start: s, end: e });
  }
}
