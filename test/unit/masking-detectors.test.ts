import assert from 'node:assert/strict';
import { ContentScanner } from '../../src/core/masking/content-scanner';
import {
  BUILTIN_DETECTORS,
  builtinDetector,
  dictionaryDetector,
  isCardNumber,
  isValidIban,
  regexDetector,
  type BuiltinDetector,
  type Detector,
  type Finding,
} from '../../src/core/masking/detectors';

// Fake data only. Token-shaped values are assembled at run time so that this file holds no literal that
// secret scanners would flag.
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const fakeJwt = (payload: object = { sub: '1234567890', name: 'Test User', iat: 1516239022 }) =>
  `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}.${'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'}`;
const alnum = (n: number, seed = 7) => {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < n; i++) s += chars[(i * 31 + seed * 17 + ((i * i) % 7)) % chars.length];
  return s;
};
const fakeGithub = (prefix = 'ghp') => `${prefix}_${alnum(36)}`;
const fakeGithubPat = () => `github_${'pat'}_${alnum(22, 3)}_${alnum(59, 5)}`;
const fakeSlack = (kind = 'b') => `xox${kind}-123456789012-1234567890123-${alnum(24, 2)}`;
const fakeWebhook = () => `https://hooks.slack.com/services/T${'00000000'}/B${'00000000'}/${'X'.repeat(24)}`;
const AWS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const dashes = '-'.repeat(5);
const pem = (label: string, end = true) =>
  `${dashes}BEGIN ${label}${dashes}\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n` +
  (end ? `${dashes}END ${label}${dashes}` : '');

/** IBAN check digits computed independently (BigInt), for the unknown-country case. */
function withCheckDigits(country: string, bban: string): string {
  const digits = (bban + country + '00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  const check = 98n - (BigInt(digits) % 97n);
  return `${country}${String(check).padStart(2, '0')}${bban}`;
}

/** Appends the Luhn check digit. */
function luhnComplete(partial: string): string {
  for (let d = 0; d <= 9; d++) {
    const n = partial + d;
    let sum = 0;
    for (let i = 0; i < n.length; i++) {
      let v = Number(n[n.length - 1 - i]);
      if (i % 2 === 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
      sum += v;
    }
    if (sum % 10 === 0) return n;
  }
  throw new Error('unreachable');
}

/** mightContain() must hold wherever a detector finds something: alone and among all built-ins. */
const allScanner = new ContentScanner(
  BUILTIN_DETECTORS.map(builtinDetector),
  () => 'redact',
  Buffer.alloc(0),
);
function assertMightContain(d: Detector, text: string) {
  assert.equal(new ContentScanner([d], () => 'redact', Buffer.alloc(0)).mightContain(text), true, text);
  if ((BUILTIN_DETECTORS as readonly string[]).includes(d.name))
    assert.equal(allScanner.mightContain(text), true);
}

/** The matched substrings; wherever there is one, the scanner's pre-check is checked to say so. */
function texts(d: Detector, text: string): string[] {
  const found = d.find(text);
  if (found.length > 0) assertMightContain(d, text);
  return found.map((f) => text.slice(f.start, f.end));
}

/** Each positive must be found whole, alone and inside a sentence; each negative must give nothing. */
function table(name: BuiltinDetector, positives: string[], negatives: string[]) {
  describe(name, () => {
    const d = builtinDetector(name);
    for (const p of positives) {
      it(`finds ${JSON.stringify(p.length > 70 ? p.slice(0, 67) + '…' : p)}`, () => {
        assert.deepEqual(texts(d, p), [p]);
        const sentence = `Note: value (${p}) was seen, see ${p}\nend`;
        assert.deepEqual(texts(d, sentence), [p, p]);
        for (const f of d.find(sentence)) assert.equal(f.detector, name);
        assertMightContain(d, p);
        assertMightContain(d, sentence);
      });
    }
    for (const n of negatives) {
      it(`ignores ${JSON.stringify(n.length > 70 ? n.slice(0, 67) + '…' : n)}`, () => {
        assert.deepEqual(texts(d, n), []);
      });
    }
  });
}

describe('masking detectors', () => {
  it('has the twelve built-in names and refuses unknown ones', () => {
    assert.equal(BUILTIN_DETECTORS.length, 12);
    for (const n of BUILTIN_DETECTORS) assert.equal(builtinDetector(n).name, n);
    assert.throws(() => builtinDetector('nope' as BuiltinDetector), /unknown content detector "nope"/);
    assert.throws(() => builtinDetector('toString' as BuiltinDetector), /unknown content detector/);
  });

  table(
    'card',
    [
      '4111111111111111',
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '4222222222222', // Visa, 13 digits
      '5555555555554444',
      '5555 5555 5555 4444',
      '2223003122003222', // Mastercard 2-series
      '378282246310005',
      '3782 822463 10005', // Amex 4-6-5
      '371449635398431',
      '6011111111111117',
      '6011-1111-1111-1117',
      '3530111333300000', // JCB
      '30569309025904', // Diners, 14 digits
      '6200000000000005', // UnionPay
      '6759649826438453', // Maestro
    ],
    [
      '4111111111111112', // Luhn
      '4111 1111 1111 1112',
      '1234567812345670', // Luhn-valid, no issuer starts with 1
      '7111111111111111',
      '411111111111111', // Visa with 15 digits
      '3782822463100050', // Amex with 16 digits
      '41111111111111111111', // part of a longer digit run
      '94111111111111111',
      'x4111111111111111', // glued to a word
      '4111111111111111x',
      '0.4111111111111111', // fractional part of a decimal
      '4111111111111111.25',
      '4111 1111-1111 1111', // mixed separators
      '4111  1111  1111  1111', // double spaces
      '4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1', // not card grouping
      '411111111111', // 12 digits
      'order 1234567890123', // 13 digits, no issuer
      '550e8400-e29b-41d4-a716-446655440000',
    ],
  );

  it('card: takes a card out of a longer space-separated run of numbers, and checks ranges', () => {
    const d = builtinDetector('card');
    assert.deepEqual(texts(d, 'qty 12345 4111 1111 1111 1111 99'), ['4111 1111 1111 1111']);
    assert.equal(isCardNumber(luhnComplete('222100000000000')), true); // Mastercard 2221
    assert.equal(isCardNumber(luhnComplete('272099999999999')), true); // Mastercard 2720
    assert.equal(isCardNumber(luhnComplete('272100000000000')), false); // above 2720
    assert.equal(isCardNumber(luhnComplete('222000000000000')), false); // below 2221
    assert.equal(isCardNumber(luhnComplete('360000000000000')), true); // Diners 36, 16 digits
    assert.equal(isCardNumber(luhnComplete('34000000000000')), true); // Amex 34, 15 digits
    assert.equal(isCardNumber(luhnComplete('340000000000000')), false); // Amex with 16 digits
    assert.equal(isCardNumber(luhnComplete('352800000000000')), true); // JCB 3528
    assert.equal(isCardNumber(luhnComplete('359000000000000')), false); // above JCB
    assert.equal(isCardNumber(luhnComplete('30600000000000')), false); // Diners ends at 305
    assert.equal(isCardNumber(luhnComplete('64400000000000000')), true); // Discover 644, 18 digits
    assert.equal(isCardNumber(luhnComplete('510000000000')), false); // Mastercard 51 has 16 digits, not 13…
    assert.equal(isCardNumber(luhnComplete('560000000000')), true); // …but Maestro 56, 13 digits: yes
  });

  table(
    'email',
    [
      'john.doe@example.com',
      'john.doe+tag@example.com',
      'first_last-x@sub.example.co.uk',
      'a@example.io',
      'ADA.LOVELACE@EXAMPLE.ORG',
      'user%route@example.net',
      'José.García@example.es',
      'ada@mail.xn--p1ai',
      '1234@example.com',
    ],
    [
      'a@b',
      'foo@bar',
      'user@localhost',
      '@example.com',
      'ada@example.c',
      'ada@-example.com',
      'ada@example..com',
      'ada@.example.com',
      'ada@123.456',
      'x'.repeat(65) + '@example.com',
      '@@@@',
      'ada @ example.com',
    ],
  );

  it('email: leaves sentence punctuation and credentials context outside the finding', () => {
    const d = builtinDetector('email');
    assert.deepEqual(texts(d, 'write to ada@example.org.'), ['ada@example.org']);
    assert.deepEqual(texts(d, '<ada@example.org>, "bob@example.com"'), [
      'ada@example.org',
      'bob@example.com',
    ]);
    assert.deepEqual(texts(d, 'mailto:ada@example.org?subject=hi'), ['ada@example.org']);
    assert.deepEqual(texts(d, '...ada@example.org'), ['ada@example.org']);
    // The password in a URL becomes the local part: it is masked with the host.
    assert.deepEqual(texts(d, 'postgres://app:s3cret@db.example.com:5432/x'), ['s3cret@db.example.com']);
    assert.deepEqual(texts(d, 'a@example.com@example.org'), ['a@example.com']);
  });

  table(
    'phone',
    [
      '+1 (555) 123-4567',
      '+1 555 123 4567',
      '+14155552671',
      '+44 20 7946 0958',
      '+44 (0)20 7946 0958',
      '+49 30 1234567',
      '+49-30-1234567',
      '+33 1 23 45 67 89',
      '+33.1.23.45.67.89',
      '(555) 123-4567',
      '(555)123-4567',
      '555-123-4567',
      '555.123.4567',
      '555 123 4567',
      '1-555-123-4567',
      '+1-555-123-4567',
      '020 7946 0958',
      '07700 900123',
      '030 1234567',
      '030-1234567',
      '030/1234567',
      '(030) 1234567',
      '089 123456',
      '0171 1234567',
      '01 23 45 67 89',
      '01.23.45.67.89',
    ],
    [
      '5551234567', // an order id: no separators
      '1234567890',
      '+1234567', // 7 digits
      '+12345678901234567', // 17 digits
      '+0 5551234567', // no country code starts with 0
      '2024-01-15',
      '2024-01-15 10:30:00+02',
      '01.02.2024',
      '15/01/2024',
      '555-1234',
      '555-123-45678',
      '12-555-123-4567',
      '555-123-4567-89',
      'x+14155552671',
      '3+14155552671',
      '+1234567.89',
      '3.14159265',
      '123-45-6789', // an SSN shape
      '0.123456789',
      '00 44 20 7946 0958',
      '1.2.3.4',
      '155 123 4567', // area code starting with 1, space separated
    ],
  );

  table(
    'ssn',
    ['123-45-6789', '123 45 6789', '078-05-1120', '899-99-9999'],
    [
      '000-12-3456',
      '666-12-3456',
      '900-12-3456',
      '999-12-3456',
      '123-00-4567',
      '123-45-0000',
      '123456789',
      '123-45-67890',
      '1123-45-6789',
      '123-45-6789-1',
      '123-45 6789',
      '12-345-6789',
      'A123-45-6789',
      '1.123-45-6789',
    ],
  );

  table(
    'iban',
    [
      'DE89370400440532013000',
      'DE89 3704 0044 0532 0130 00',
      'GB82WEST12345698765432',
      'GB82 WEST 1234 5698 7654 32',
      'FR1420041010050500013M02606',
      'FR14 2004 1010 0505 0001 3M02 606',
      'NL91ABNA0417164300',
      'BE68539007547034',
      'CH9300762011623852957',
      'ES9121000418450200051332',
      'IT60X0542811101000000123456',
      'NO9386011117947',
      withCheckDigits('ZZ', 'ABCD1234567890'), // not in the table: 15–34 accepted
    ],
    [
      'DE89370400440532013001', // checksum
      'DE88370400440532013000',
      'GB82 WEST 1234 5698 7654 33',
      'DE8937040044053201300', // 21 characters for a 22-character country
      'DE893704004405320130001', // longer token
      'de89370400440532013000', // lowercase
      'XDE89370400440532013000',
      'DE89370400440532013000X',
      withCheckDigits('ZZ', 'ABCD123456'), // 14 characters
      'AB12',
    ],
  );

  it('iban: validates mod-97', () => {
    assert.equal(isValidIban('DE89370400440532013000'), true);
    assert.equal(isValidIban('DE89370400440532013001'), false);
    assert.equal(isValidIban('GB82WEST12345698765432'), true);
  });

  table(
    'ipv4',
    ['10.0.0.1', '192.168.1.255', '8.8.8.8', '255.255.255.255', '0.0.0.0', '172.16.0.1'],
    [
      '1.2.3.4.5', // a version string
      '1.2.3.4.5.6',
      '256.1.1.1',
      '1.2.3',
      '01.2.3.4',
      '10.0.0.01',
      'v1.2.3.4',
      '1.2.3.4a',
      '3.14',
      '1.1.1.1000',
    ],
  );

  it('ipv4: ports, CIDR and sentence ends stay outside', () => {
    const d = builtinDetector('ipv4');
    assert.deepEqual(texts(d, 'host 10.1.2.3:5432, net 10.0.0.0/8. Ping 10.0.0.1.'), [
      '10.1.2.3',
      '10.0.0.0',
      '10.0.0.1',
    ]);
  });

  table(
    'ipv6',
    [
      '2001:db8::1',
      '2001:0db8:0000:0000:0000:ff00:0042:8329',
      '::1',
      'fe80::1',
      '::ffff:192.168.1.1',
      'FE80::ABCD:1',
      '2001:db8:85a3::8a2e:370:7334',
      '0:0:0:0:0:ffff:10.0.0.1',
    ],
    [
      'std::vector',
      "'1'::int",
      'x::int',
      '12:30:45',
      '00:1a:2b:3c:4d:5e', // a MAC address
      '::',
      '1:2:3',
      'a::b::c',
      'Note: see',
      'http://example.com:8080',
      '2001:db8::1::2',
      '12345::1',
    ],
  );

  it('ipv6: brackets, ports and zone ids stay outside', () => {
    const d = builtinDetector('ipv6');
    assert.deepEqual(texts(d, '[2001:db8::1]:8080 and fe80::1%eth0, also 2001:db8::2.'), [
      '2001:db8::1',
      'fe80::1',
      '2001:db8::2',
    ]);
  });

  const jwt = fakeJwt();
  table(
    'jwt',
    [
      jwt,
      `${b64url({ alg: 'none' })}.${b64url({ sub: 'x' })}.`, // unsigned: empty signature
      `${b64url({ typ: 'JWT', alg: 'EdDSA', kid: 'k1' })}.${b64url({ scope: 'read write', exp: 1 })}.${alnum(86)}`,
    ],
    [
      'eyJhYmMi.eyJkZWYi.xyz', // the segments are not JSON
      'aGVsbG8.d29ybGQ.Zm9v', // random base64url
      b64url({ alg: 'HS256' }), // one segment
      `${b64url({ alg: 'HS256' })}.${Buffer.from('[1,2]').toString('base64url')}.sig`, // payload not an object
      `${b64url({ alg: 'HS256' })}.${Buffer.from('hello').toString('base64url')}.sig`,
      `x${jwt}`, // glued
    ],
  );

  table(
    'aws-key',
    [AWS_KEY_ID, 'ASIAIOSFODNN7EXAMPLE', 'AROAIOSFODNN7EXAMPLE', 'AIDAIOSFODNN7EXAMPLE'],
    [
      'AKIAIOSFODNN7EXAMPL',
      'AKIAIOSFODNN7EXAMPLEX',
      'XAKIAIOSFODNN7EXAMPLE',
      'AKIAiosfodnn7example',
      'AXYZIOSFODNN7EXAMPLE',
      AWS_SECRET, // a 40-character string alone
      'secret_key = short',
      'aws_secret_access_key = ' + AWS_SECRET + 'X', // 41 characters
    ],
  );

  it('aws-key: secrets next to a key id or after a label', () => {
    const d = builtinDetector('aws-key');
    assert.deepEqual(texts(d, `${AWS_KEY_ID},${AWS_SECRET}`), [AWS_KEY_ID, AWS_SECRET]);
    assert.deepEqual(texts(d, `id ${AWS_KEY_ID} secret ${AWS_SECRET}`), [AWS_KEY_ID]); // a word between
    assert.deepEqual(texts(d, `${AWS_SECRET}\t${AWS_KEY_ID}`), [AWS_SECRET, AWS_KEY_ID]);
    for (const line of [
      `aws_secret_access_key = ${AWS_SECRET}`,
      `AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`,
      `"SecretAccessKey": "${AWS_SECRET}"`,
      `secret_key: '${AWS_SECRET}'`,
      `aws-secret-key => ${AWS_SECRET}`,
      `aws_secret_access_key:\t\t${AWS_SECRET}`,
    ]) {
      assert.deepEqual(texts(d, line), [AWS_SECRET], line);
      assertMightContain(d, line);
    }
  });

  table(
    'github-token',
    [
      fakeGithub('ghp'),
      fakeGithub('gho'),
      fakeGithub('ghu'),
      fakeGithub('ghs'),
      fakeGithub('ghr'),
      fakeGithubPat(),
    ],
    [
      fakeGithub('ghp').slice(0, -1), // 35 characters
      fakeGithub('ghx'),
      `x${fakeGithub('ghp')}`,
      `${fakeGithub('ghp')}_x`,
      `github_${'pat'}_${alnum(21)}_${alnum(59)}`,
    ],
  );

  table(
    'slack-token',
    [fakeSlack('b'), fakeSlack('p'), fakeSlack('a'), fakeWebhook(), fakeWebhook().replace('https', 'http')],
    [
      fakeSlack('c'),
      'xoxb-123',
      `x${fakeSlack('b')}`,
      'https://example.com/services/T00000000/B00000000/XXXX',
      'hooks.slack.com/services/T00000000/B00000000/XXXX', // no scheme
    ],
  );

  table(
    'private-key',
    [
      pem('RSA PRIVATE KEY'),
      pem('EC PRIVATE KEY'),
      pem('OPENSSH PRIVATE KEY'),
      pem('ENCRYPTED PRIVATE KEY'),
      pem('PRIVATE KEY'),
      pem('DSA PRIVATE KEY'),
      pem('PGP PRIVATE KEY BLOCK'),
    ],
    [pem('PUBLIC KEY'), pem('CERTIFICATE'), '-----BEGIN PRIVATE KEY', '-----END RSA PRIVATE KEY-----'],
  );

  it('private-key: without an END marker masks to the end of the text (fail closed)', () => {
    const d = builtinDetector('private-key');
    const text = `config: ${pem('RSA PRIVATE KEY', false)}and more`;
    assert.deepEqual(d.find(text), [{ detector: 'private-key', start: 8, end: text.length }]);
    const two = `${pem('EC PRIVATE KEY')} between ${pem('PRIVATE KEY')}`;
    assert.deepEqual(texts(d, two), [pem('EC PRIVATE KEY'), pem('PRIVATE KEY')]);
    // Escaped newlines (a key inside JSON) are still one block.
    const escaped = JSON.stringify({ key: pem('PRIVATE KEY') });
    assert.deepEqual(texts(d, escaped), [JSON.stringify(pem('PRIVATE KEY')).slice(1, -1)]);
  });

  describe('offsets', () => {
    it('are UTF-16 code units of the input', () => {
      const text = '😀 é ada@example.com';
      const [f] = builtinDetector('email').find(text);
      assert.deepEqual(f, { detector: 'email', start: 5, end: 20 });
      assert.equal(text.slice(f.start, f.end), 'ada@example.com');
    });
  });

  describe('custom regex detectors', () => {
    it('finds every match, with the detector name', () => {
      const d = regexDetector('employee-id', 'EMP-\\d{6}');
      assert.equal(d.name, 'employee-id');
      assert.deepEqual(d.find('EMP-123456 and EMP-654321, not emp-111111'), [
        { detector: 'employee-id', start: 0, end: 10 },
        { detector: 'employee-id', start: 15, end: 25 },
      ]);
      assert.deepEqual(d.find('EMP-123456'), d.find('EMP-123456'), 'the compiled regex is reused safely');
    });

    it('is case-insensitive on request', () => {
      const d = regexDetector('emp', 'EMP-\\d{6}', { caseInsensitive: true });
      assert.deepEqual(texts(d, 'emp-111111 Emp-222222'), ['emp-111111', 'Emp-222222']);
    });

    it('rejects patterns that can match the empty string, with a clear message', () => {
      for (const p of [
        '',
        'a*',
        'x?',
        'a|',
        '\\b',
        '(?=a)',
        '$',
        '^',
        '(?:)',
        '\\d{0,3}',
        '[a-z]*?',
        '(?!x)',
      ]) {
        assert.throws(
          () => regexDetector('bad', p),
          (err: Error) =>
            /content detector "bad": the pattern .* can match the empty string/.test(err.message),
          p,
        );
      }
    });

    it('rejects invalid patterns with the detector name', () => {
      assert.throws(
        () => regexDetector('broken', '(abc'),
        /content detector "broken": invalid regular expression/,
      );
    });

    it('never reports a zero-length match the probes could not see', () => {
      const d = regexDetector('after-key', '(?<=key)');
      assert.deepEqual(d.find('key value key'), []);
    });
  });

  describe('custom dictionary detectors', () => {
    const d = dictionaryDetector('clients', [
      'Acme Corp',
      'Project Falcon',
      'New York',
      'New York City',
      'C++',
      'a.b',
    ]);

    it('finds whole words and phrases, case-insensitively by default', () => {
      assert.deepEqual(texts(d, 'ACME CORP. signed; acme corp too'), ['ACME CORP', 'acme corp']);
      assert.deepEqual(texts(d, 'Acme Corporation, MyAcme Corp'), []);
      assert.deepEqual(texts(d, 'Project\n  Falcon'), ['Project\n  Falcon']);
      assert.deepEqual(texts(d, 'we like C++ and a.b but not axb'), ['C++', 'a.b']);
    });

    it('prefers the longest phrase', () => {
      assert.deepEqual(texts(d, 'in New York City today, New York tomorrow, New Yorkers never'), [
        'New York City',
        'New York',
      ]);
    });

    it('is case-sensitive on request', () => {
      const cs = dictionaryDetector('cs', ['Falcon'], { caseSensitive: true });
      assert.deepEqual(texts(cs, 'Falcon falcon FALCON'), ['Falcon']);
    });

    it('keeps offsets right where lowercasing changes lengths', () => {
      const text = 'İstanbul office: Acme Corp';
      const [f] = d.find(text);
      assert.equal(text.slice(f.start, f.end), 'Acme Corp');
      const tr = dictionaryDetector('tr', ['istanbul']);
      assert.deepEqual(texts(tr, 'ISTANBUL and İstanbul'), ['ISTANBUL']); // 'İ' lowercases to two units
    });

    it('matches words with marks, digits and emoji, and tells mightContain the truth', () => {
      const m = dictionaryDetector('m', ['Cafe\u0301', 'R2-D2', '😀 party']);
      assert.deepEqual(texts(m, 'the Cafe\u0301 crew, r2-d2 and 😀  PARTY!'), [
        'Cafe\u0301',
        'r2-d2',
        '😀  PARTY',
      ]);
      assert.deepEqual(texts(m, 'Cafe\u0301s R2-D2x'), []);
      const s = m as unknown as { mightMatch(text: string): boolean };
      assert.equal(s.mightMatch('hello r2-d2'), true);
      assert.equal(s.mightMatch('hello r2-d3'), false);
    });

    it('uses Unicode word boundaries', () => {
      const u = dictionaryDetector('cities', ['Zürich', 'José']);
      assert.deepEqual(texts(u, 'ZÜRICH, Zürichsee, José, Joséphine'), ['ZÜRICH', 'José']);
    });

    it('refuses an empty word list', () => {
      assert.throws(
        () => dictionaryDetector('empty', []),
        /content detector "empty": the word list is empty/,
      );
      assert.throws(() => dictionaryDetector('blank', ['  ', '']), /the word list is empty/);
    });

    it('handles a long list', () => {
      const words = Array.from({ length: 5000 }, (_, i) => `customer${i}`);
      const big = dictionaryDetector('big', words);
      assert.deepEqual(texts(big, 'customer4999 customer12 customer50000 xcustomer1'), [
        'customer4999',
        'customer12',
      ]);
    });
  });

  describe('linear time on adversarial inputs', () => {
    // Each must finish (mocha's timeout is the bound); results are asserted, not timings.
    const n = 100_000;
    const cases: Array<[string, string, string[]]> = [
      ['digits', '4'.repeat(n), []],
      ['@', '@'.repeat(n), []],
      ['local part then @', 'a'.repeat(n) + '@example.com', []],
      ['a@ repeated', 'a@'.repeat(n / 2), []],
      ['colons', ':'.repeat(n), []],
      ['hex and colons', 'a:'.repeat(n / 2), []],
      ['digit groups', '1 '.repeat(n / 2), []],
      ['dashed digits', '1-'.repeat(n / 2), []],
      ['dotted digits', '1.'.repeat(n / 2), []],
      ['plus digits', '+1'.repeat(n / 2), []],
      ['trunk zeros', '0 '.repeat(n / 2), []],
      ['parentheses', '(1'.repeat(n / 2), []],
      ['eyJ', 'eyJ'.repeat(n / 3), []],
      ['eyJ dots', 'eyJ.'.repeat(n / 4), []],
      ['AKIA', 'AKIA'.repeat(n / 4), []],
      ['uppercase', 'A'.repeat(n), []],
      ['ghp_', 'ghp_'.repeat(n / 4), []],
      ['xoxb-', 'xoxb-'.repeat(n / 5), []],
      ['BEGIN', '-----BEGIN '.repeat(n / 11), []],
      ['key=', 'key='.repeat(n / 4), []],
      ['secret labels', 'aws_secret_access_key='.repeat(n / 22), []],
      ['iban-like', 'DE89'.repeat(n / 4), []],
      ['alnum', alnum(n), []],
      ['quote and spaces', "'".repeat(n / 2) + ' '.repeat(n / 2), []],
    ];
    for (const [label, text] of cases) {
      it(`${label} (${text.length} chars)`, () => {
        for (const name of BUILTIN_DETECTORS) {
          const found: Finding[] = builtinDetector(name).find(text);
          // Only the fail-closed private-key cases may find something here.
          if (name !== 'private-key') assert.deepEqual(found, [], `${name} on ${label}`);
        }
      });
    }

    it('a missing END after 100k characters still masks to the end', () => {
      const text = `${dashes}BEGIN RSA PRIVATE KEY${dashes}` + 'A'.repeat(n);
      assert.deepEqual(builtinDetector('private-key').find(text), [
        { detector: 'private-key', start: 0, end: text.length },
      ]);
    });

    it('many real findings in one long text', () => {
      const text = 'ada@example.com 4111 1111 1111 1111 10.0.0.1 '.repeat(2000);
      const found = ['email', 'card', 'ipv4'].map(
        (d) => builtinDetector(d as BuiltinDetector).find(text).length,
      );
      assert.deepEqual(found, [2000, 2000, 2000]);
    });
  });
});
