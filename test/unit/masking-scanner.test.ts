import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { ContentScanner } from '../../src/core/masking/content-scanner';
import {
  BUILTIN_DETECTORS,
  builtinDetector,
  dictionaryDetector,
  regexDetector,
  type BuiltinDetector,
  type Detector,
  type Finding,
} from '../../src/core/masking/detectors';
import { MASK_STYLES, maskFragment, maskValue, type MaskStyle } from '../../src/core/masking/masks';

// Fake data only; token-shaped values are assembled at run time (no literal for secret scanners to flag).
const KEY = randomBytes(32);
const OTHER_KEY = randomBytes(32);
const AWS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const JWT = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: '42', name: 'Test' })}.c2lnbmF0dXJlLXNpZw`;
const GITHUB = `ghp_${'aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5'}`;
const GITHUB_PAT = `github_${'pat'}_${'A1b2C3d4E5f6G7h8I9j0K1'}_${'x'.repeat(30)}${'Y9'.repeat(14)}Z`;
const SLACK = `xox${'b'}-123456789012-1234567890123-${'AbCdEfGhIjKlMnOpQrStUvWx'}`;
const WEBHOOK = `https://hooks.slack.com/services/T${'00000000'}/B${'00000000'}/${'X'.repeat(24)}`;
const marker = (edge: 'BEGIN' | 'END', label: string) => `${'-'.repeat(5)}${edge} ${label}${'-'.repeat(5)}`;
const PEM = `${marker('BEGIN', 'RSA PRIVATE KEY')}\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1P\n${marker('END', 'RSA PRIVATE KEY')}`;

const allBuiltins = () => BUILTIN_DETECTORS.map((n) => builtinDetector(n));
const scanner = (
  style: MaskStyle | ((d: string) => MaskStyle) = 'redact',
  detectors: Detector[] = allBuiltins(),
) => new ContentScanner(detectors, typeof style === 'function' ? style : () => style, KEY);

/** One example of every detector, as it would appear in a value. */
const POSITIVES: Record<BuiltinDetector, string[]> = {
  card: [
    '4111 1111 1111 1111',
    '4111-1111-1111-1111',
    '4111111111111111',
    '378282246310005',
    '6759649826438453',
  ],
  email: ['ada@example.com', 'john.doe+tag@sub.example.co.uk', 'José.García@example.es'],
  phone: [
    '+1 (555) 123-4567',
    '(555) 123-4567',
    '555-123-4567',
    '555.123.4567',
    '+14155552671',
    '+44 (0)20 7946 0958',
    '020 7946 0958',
    '030/1234567',
    '01 23 45 67 89',
  ],
  ssn: ['123-45-6789', '123 45 6789'],
  iban: ['DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432', 'NO9386011117947'],
  ipv4: ['10.0.0.1', '192.168.1.255'],
  ipv6: ['2001:db8::1', '::1', '::ffff:192.168.1.1', '2001:0db8:0000:0000:0000:ff00:0042:8329'],
  jwt: [JWT],
  'aws-key': [AWS_KEY_ID, `aws_secret_access_key = ${AWS_SECRET}`],
  'github-token': [GITHUB, GITHUB_PAT],
  'slack-token': [SLACK, WEBHOOK],
  'private-key': [PEM, `${marker('BEGIN', 'OPENSSH PRIVATE KEY')}\nb3BlbnNzaC1rZXktdjE`],
};

const hmac16 = (value: string, key: Buffer) =>
  'h:' + createHmac('sha256', key).update(Buffer.from(value, 'utf8')).digest('hex').slice(0, 16);

describe('masking: masks', () => {
  it('exports the four styles', () => {
    assert.deepEqual([...MASK_STYLES], ['redact', 'partial', 'hash', 'null']);
  });

  it('redact: a fixed token per kind', () => {
    assert.equal(maskValue('ada@example.com', 'redact', 'email', KEY), '[REDACTED:email]');
    assert.equal(maskValue('4111111111111111', 'redact', 'card', KEY), '[REDACTED:card]');
    assert.equal(maskValue('anything', 'redact', 'column', KEY), '[REDACTED]');
    assert.equal(maskValue('', 'redact', 'column', KEY), '[REDACTED]');
    assert.equal(maskValue('x', 'redact', 'employee-id', KEY), '[REDACTED:employee-id]');
  });

  describe('partial', () => {
    const cases: Array<[kind: string, value: string, masked: string]> = [
      ['card', '4111 1111 1111 1111', '**** **** **** 1111'],
      ['card', '4111-1111-1111-1111', '****-****-****-1111'],
      ['card', '4111111111111111', '************1111'],
      ['card', '3782 822463 10005', '**** ****** *0005'],
      ['email', 'john.doe@example.com', '***@example.com'],
      ['email', 'a@b.example.org', '***@b.example.org'],
      ['phone', '+1 (555) 123-4567', '+* (***) ***-**67'],
      ['phone', '555.123.4567', '***.***.**67'],
      ['phone', '+14155552671', '+*********71'],
      ['ssn', '123-45-6789', '***-**-6789'],
      ['ssn', '123 45 6789', '*** ** 6789'],
      ['iban', 'DE89370400440532013000', 'DE****************3000'],
      ['iban', 'DE89 3704 0044 0532 0130 00', 'DE** **** **** **** **30 00'],
      ['ipv4', '10.1.2.3', '10.*.*.*'],
      ['ipv4', '192.168.1.255', '192.*.*.*'],
      ['ipv6', '2001:db8::1', '2001:***::*'],
      ['ipv6', '::1', '::*'],
      ['aws-key', AWS_KEY_ID, 'AKIA****************'],
      ['aws-key', AWS_SECRET, '*'.repeat(40)],
      ['github-token', GITHUB, 'ghp_' + '*'.repeat(36)],
      ['github-token', GITHUB_PAT, 'github_pat_' + '*'.repeat(GITHUB_PAT.length - 11)],
      ['slack-token', SLACK, 'xoxb-' + '*'.repeat(SLACK.length - 5)],
      ['slack-token', WEBHOOK, 'https://hooks.slack.com/services/' + '*'.repeat(WEBHOOK.length - 33)],
      ['private-key', PEM, '[REDACTED:private-key]'],
      ['column', 'Ada Lovelace', '********lace'],
      ['column', '12345678', '********'],
      ['column', '123456789', '*****6789'],
      ['column', 'short', '*****'],
      ['column', '', ''],
      ['column', 'Zoë 😀😀😀😀 Müller', '***********ller'], // code points, not UTF-16 units
      ['employee-id', 'EMP-123456', '******3456'],
      // A column (or custom) value that is one known kind as a whole is masked as that kind.
      ['column', 'ada@example.com', '***@example.com'],
      ['column', 'ada@example.com    ', '***@example.com    '], // char(n) padding
      ['column', '4111 1111 1111 1111', '**** **** **** 1111'],
      ['column', '4111111111111111', '************1111'],
      ['column', '123-45-6789', '***-**-6789'],
      ['column', '+1 (555) 123-4567', '+* (***) ***-**67'],
      ['column', 'DE89370400440532013000', 'DE****************3000'],
      ['column', '10.1.2.3', '10.*.*.*'],
      ['column', GITHUB, 'ghp_' + '*'.repeat(36)],
      ['column', PEM, '[REDACTED:private-key]'],
      ['column', 'mail ada@example.com', '****************.com'], // not an address as a whole
      ['internal-mail', 'ada@example.com', '***@example.com'],
    ];
    for (const [kind, value, masked] of cases) {
      it(`${kind}: ${JSON.stringify(value.length > 40 ? value.slice(0, 37) + '…' : value)}`, () => {
        assert.equal(maskValue(value, 'partial', kind, KEY), masked);
        assert.equal(maskFragment(value, 'partial', kind, KEY), masked);
      });
    }

    it('jwt: keeps the header, hides payload and signature', () => {
      const [header, payload, sig] = JWT.split('.');
      assert.equal(
        maskValue(JWT, 'partial', 'jwt', KEY),
        `${header}.${'*'.repeat(payload.length)}.${'*'.repeat(sig.length)}`,
      );
    });
  });

  describe('hash', () => {
    it('is h: + 16 hex digits of HMAC-SHA-256 over the UTF-8 value', () => {
      for (const v of ['ada@example.com', '4111 1111 1111 1111', 'Zoë Müller 😀', '']) {
        const h = maskValue(v, 'hash', 'column', KEY);
        assert.match(h ?? '', /^h:[0-9a-f]{16}$/);
        assert.equal(h, hmac16(v, KEY));
      }
    });

    it('is deterministic and independent of the kind, so joins line up', () => {
      const a = maskValue('ada@example.com', 'hash', 'column', KEY);
      assert.equal(maskValue('ada@example.com', 'hash', 'column', Buffer.from(KEY)), a);
      assert.equal(maskFragment('ada@example.com', 'hash', 'email', KEY), a);
      assert.notEqual(maskValue('bob@example.com', 'hash', 'column', KEY), a);
    });

    it('depends on the key', () => {
      assert.notEqual(
        maskValue('ada@example.com', 'hash', 'column', KEY),
        maskValue('ada@example.com', 'hash', 'column', OTHER_KEY),
      );
    });

    it('refuses an empty key with a clear message', () => {
      assert.throws(
        () => maskValue('x', 'hash', 'column', Buffer.alloc(0)),
        /hash masking needs a non-empty key/,
      );
      assert.throws(() => maskFragment('x', 'hash', 'email', Buffer.alloc(0)), /non-empty key/);
      // Other styles do not need a key.
      assert.equal(maskValue('x', 'redact', 'column', Buffer.alloc(0)), '[REDACTED]');
    });
  });

  it('null: SQL NULL for a whole value, the redact token inside a text', () => {
    assert.equal(maskValue('ada@example.com', 'null', 'column', KEY), null);
    assert.equal(maskValue('ada@example.com', 'null', 'email', KEY), null);
    assert.equal(maskFragment('ada@example.com', 'null', 'email', KEY), '[REDACTED:email]');
    assert.equal(maskFragment('x', 'null', 'column', KEY), '[REDACTED]');
  });

  it('refuses an unknown style', () => {
    assert.throws(() => maskValue('x', 'blur' as MaskStyle, 'column', KEY), /unknown mask style "blur"/);
  });
});

describe('masking: content scanner', () => {
  it('masks a card with spaces, an e-mail and an AWS key in a support ticket; the rest is unchanged', () => {
    const before =
      'Ticket #4821 (priority: high)\nCustomer Ada Lovelace wrote on 2024-03-05 14:22:\n"My card ';
    const mid1 = ' was charged twice. Reach me at ';
    const mid2 = ' — also our dev left key ';
    const after = ' in the repo ¯\\_(ツ)_/¯. Order 55512345678, total 129.90 EUR."';
    const text = `${before}4111 1111 1111 1111${mid1}ada.lovelace@example.com${mid2}${AWS_KEY_ID}${after}`;
    const s = scanner();
    assert.equal(s.mightContain(text), true);
    const r = s.scan(text);
    assert.equal(r.findings, 3);
    assert.equal(r.text, `${before}[REDACTED:card]${mid1}[REDACTED:email]${mid2}[REDACTED:aws-key]${after}`);
    // Partial masks in the same places.
    const p = scanner('partial').scan(text);
    assert.equal(
      p.text,
      `${before}**** **** **** 1111${mid1}***@example.com${mid2}AKIA****************${after}`,
    );
  });

  it('returns the same string when nothing is found', () => {
    const s = scanner();
    for (const text of [
      '',
      'Ada Lovelace',
      'London',
      'order 1234567 shipped on 2024-03-05 14:22:10+00',
      'version 1.2.3.4.5, total 12.50',
      'std::vector<int> and x::int',
      'Zoë Müller, Kraków 😀',
      'a@b foo@bar',
    ]) {
      const r = s.scan(text);
      assert.equal(r.findings, 0, text);
      assert.equal(r.text, text);
    }
  });

  it('uses the style each detector asks for', () => {
    const styles: Record<string, MaskStyle> = { email: 'hash', card: 'partial', ssn: 'null' };
    const s = scanner((d) => styles[d] ?? 'redact');
    const r = s.scan('ada@example.com paid with 4111111111111111, ssn 123-45-6789, ip 10.0.0.1');
    assert.equal(
      r.text,
      `${hmac16('ada@example.com', KEY)} paid with ************1111, ssn [REDACTED:ssn], ip [REDACTED:ipv4]`,
    );
    assert.equal(r.findings, 4);
  });

  it('asks for the styles up front and refuses hash without a key', () => {
    const asked: string[] = [];
    new ContentScanner(
      [builtinDetector('email'), builtinDetector('card')],
      (d) => (asked.push(d), 'redact'),
      Buffer.alloc(0),
    );
    assert.deepEqual(asked.sort(), ['card', 'email']);
    assert.throws(
      () => new ContentScanner([builtinDetector('email')], () => 'hash', Buffer.alloc(0)),
      /hash masking needs a non-empty key/,
    );
    assert.throws(
      () => new ContentScanner([builtinDetector('email')], () => 'blur' as MaskStyle, KEY),
      /content detector "email": unknown mask style "blur"/,
    );
  });

  it('on overlap keeps the earliest start, then the longest', () => {
    const s = scanner('redact', [
      regexDetector('b', 'bcdef'),
      regexDetector('a', 'abc'),
      regexDetector('long', 'xyz123'),
      regexDetector('short', 'xyz'),
    ]);
    assert.deepEqual(s.scan('abcdef xyz123 xyz'), {
      text: '[REDACTED:a]def [REDACTED:long] [REDACTED:short]',
      findings: 3,
    });
  });

  it('merges built-in and custom detectors', () => {
    const s = scanner('redact', [
      ...allBuiltins(),
      regexDetector('employee-id', 'EMP-\\d{6}'),
      dictionaryDetector('project', ['Project Falcon']),
    ]);
    const r = s.scan('EMP-123456 (ada@example.com) works on project falcon.');
    assert.equal(r.text, '[REDACTED:employee-id] ([REDACTED:email]) works on [REDACTED:project].');
    assert.equal(s.mightContain('works on PROJECT FALCON'), true);
    assert.equal(s.mightContain('EMP-123456'), true);
    assert.equal(s.mightContain('works on Project Eagle'), false);
  });

  it('accepts any Detector implementation and ignores bad offsets', () => {
    const odd: Detector = {
      name: 'odd',
      find: (text: string): Finding[] => [
        { detector: 'odd', start: 0, end: 3 },
        { detector: 'odd', start: 5, end: 5 }, // empty
        { detector: 'odd', start: -1, end: 2 },
        { detector: 'odd', start: 4, end: text.length + 10 },
      ],
    };
    const s = scanner('redact', [odd]);
    assert.deepEqual(s.scan('abcdefgh'), { text: '[REDACTED:odd]defgh', findings: 1 });
    assert.equal(s.mightContain('abcdefgh'), true);
  });

  it('with no detectors finds nothing and never might', () => {
    const s = scanner('redact', []);
    assert.equal(s.mightContain('ada@example.com'), false);
    assert.deepEqual(s.scan('ada@example.com'), { text: 'ada@example.com', findings: 0 });
  });

  describe('mightContain never hides a finding', () => {
    const s = scanner();
    for (const [name, examples] of Object.entries(POSITIVES)) {
      for (const example of examples) {
        it(`${name}: ${JSON.stringify(example.length > 50 ? example.slice(0, 47) + '…' : example)}`, () => {
          for (const text of [example, `prefix ${example} suffix`, `(${example})`]) {
            const r = s.scan(text);
            assert.ok(r.findings >= 1, `scan finds ${name} in ${JSON.stringify(text)}`);
            assert.equal(s.mightContain(text), true);
            // With only that detector, too.
            const alone = scanner('redact', [builtinDetector(name as BuiltinDetector)]);
            assert.equal(alone.mightContain(text), true);
            assert.ok(alone.scan(text).findings >= 1);
          }
        });
      }
    }

    it('is false for plain names, cities and free text', () => {
      for (const text of ['Ada Lovelace', 'São Paulo', 'on hold', 'please refund the shipping cost', 'Zoë']) {
        assert.equal(s.mightContain(text), false, text);
      }
    });

    it('holds on random texts built from detector fragments (gates are necessary conditions)', () => {
      const fragments = [
        '4111', '1111', ' ', '-', '.', '/', '+', '(', ')', '0', '00', '20', '555', '123', '4567', '45',
        '6789', '@', 'ada', 'example', '.com', ':', '::', 'fe80', 'ffff', 'db8', 'eyJ', JWT.slice(0, 20),
        '.', 'AKIA', 'IOSFODNN7EXAMPLE', AWS_SECRET.slice(0, 20), AWS_SECRET.slice(20), '=', 'key', 'secret_',
        'aws_', '"', "'", 'ghp_', GITHUB.slice(4, 24), GITHUB.slice(24), 'xoxb', '-----BEGIN ', 'RSA ',
        'PRIVATE KEY-----', 'DE', '89', '3704', '0044', '0532', '0130', '10', '\n', 'é', '😀', '_', 'https://',
        'hooks.slack.com/services/T0/B0/x', '44', '7946', '0958', '(0)', '+1', '1-', 'GB82', 'WEST',
        // whole positives, so that noise around them is exercised too
        ...Object.values(POSITIVES).flat(),
      ]; // prettier-ignore
      let seed = 42;
      const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
      const single = BUILTIN_DETECTORS.map((n) => scanner('redact', [builtinDetector(n)]));
      let found = 0;
      for (let i = 0; i < 3000; i++) {
        let text = '';
        const parts = 1 + Math.floor(rand() * 14);
        for (let k = 0; k < parts; k++) text += fragments[Math.floor(rand() * fragments.length)];
        // The gated scan equals the ungated detector, and mightContain() covers it.
        for (const [k, name] of BUILTIN_DETECTORS.entries()) {
          const ungated = ungatedFind(name, text);
          const r = single[k].scan(text);
          assert.equal(r.findings, ungated.length, `${name} on ${JSON.stringify(text)}`);
          if (ungated.length > 0) {
            found++;
            assert.equal(single[k].mightContain(text), true, `${name} on ${JSON.stringify(text)}`);
            assert.equal(s.mightContain(text), true);
          }
        }
      }
      assert.ok(found > 1000, `the fragments produce findings (${found})`);
    });
  });

  describe('adversarial inputs complete with the right result', () => {
    // Results are asserted, not timings: mocha's timeout is the bound.
    const s = scanner();
    const n = 100_000;
    const cases: Array<[string, string, number]> = [
      ['100k digits', '7'.repeat(n), 0],
      ['100k @', '@'.repeat(n), 0],
      ['100k colons', ':'.repeat(n), 0],
      ['100k a then @', 'a'.repeat(n) + '@example.com', 0],
      ['"1 " × 50k', '1 '.repeat(n / 2), 0],
      ['"1." × 50k', '1.'.repeat(n / 2), 0],
      ['"+1" × 50k', '+1'.repeat(n / 2), 0],
      ['"eyJ." × 25k', 'eyJ.'.repeat(n / 4), 0],
      ['"AKIA" × 25k', 'AKIA'.repeat(n / 4), 0],
      ['"DE89" × 25k', 'DE89'.repeat(n / 4), 0],
      ['"f:" × 50k', 'f:'.repeat(n / 2), 0],
      ['"key=" × 25k', 'key='.repeat(n / 4), 0],
      ['cards × 5k', '4111 1111 1111 1111 '.repeat(5000), 5000],
      ['e-mails × 5k', 'ada@example.com, '.repeat(5000), 5000],
    ];
    for (const [label, text, findings] of cases) {
      it(label, () => {
        const r = s.scan(text);
        assert.equal(r.findings, findings);
        if (findings === 0) assert.equal(r.text, text);
        if (findings > 0) assert.equal(s.mightContain(text), true);
      });
    }
  });
});

/** The detector's scan without its feature gate (every feature bit and count set). */
function ungatedFind(name: BuiltinDetector, text: string): Finding[] {
  const impl = builtinDetector(name) as unknown as {
    scan(text: string, out: Finding[], features: number): void;
  };
  const out: Finding[] = [];
  impl.scan(text, out, -1);
  return out;
}
