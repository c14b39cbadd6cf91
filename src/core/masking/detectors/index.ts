/**
 * Content detectors: personal data and secrets found inside text values. Each built-in detector finds
 * candidates with a linear scan (a hand-written loop, `indexOf`, or a regular expression whose every
 * repetition is bounded or unambiguous) and then validates them (Luhn and issuer ranges, SSN ranges, IBAN
 * mod-97 and country lengths, IPv4 octets, `isIPv6`, JWT header/payload JSON, …), so plain numbers, version
 * strings and random tokens are left alone. No detector backtracks on long inputs: 100k digits or 100k '@'
 * are scanned in linear time.
 *
 * Offsets are UTF-16 code units of the input, [start, end).
 *
 * What each built-in detector matches (all case-sensitive unless said otherwise):
 *
 * - card: 13–19 digits, either contiguous or in groups of 3–8 digits separated by single spaces or single
 *   dashes (one kind per number: "4111 1111 1111 1111", "4111-1111-1111-1111", "3782 822463 10005");
 *   Luhn-valid; an issuer range with its lengths: Visa 4 (13, 16, 19), Mastercard 51–55 and 2221–2720
 *   (16), Amex 34/37 (15), Discover 6011/644–649/65, UnionPay 62, JCB 3528–3589 (16–19), Diners 300–305/
 *   36/38 (14–19), Maestro 50/56–69 (13–19; Maestro's 12-digit numbers are not matched). Not next to a
 *   letter, digit or '_' (so hex ids and UUIDs stay alone), and not the fractional or integer part of a
 *   decimal ("0.4111…", "4111….5"). Inside a longer run of grouped numbers the card's own groups are
 *   found ("qty 12345 4111 1111 1111 1111").
 * - email: local part of [A-Za-z0-9._%+-] and Latin letters (U+00C0–U+024F), at most 64 characters;
 *   '@'; a domain of at least two dot-separated labels (letters, digits, '-', Latin letters; no label
 *   starting or ending with '-'), the last one a TLD of 2+ ASCII letters or an "xn--" label. Quoted
 *   local parts are not matched. "a@b", "foo@bar" and "user@localhost" are not addresses.
 * - phone (separators or a '+' are required, so bare digit runs such as order ids never match):
 *   - international: '+', a country code not starting with 0, then 8–15 digits in all, in groups that
 *     may be separated by one space, dot or dash and may be parenthesised ("+1 (555) 123-4567",
 *     "+44 (0)20 7946 0958" — a "(0)" trunk prefix is not counted — "+4930123456", "+33 1 23 45 67 89");
 *     not "+" glued to a preceding letter or digit (arithmetic), and not a two-group "+123.45" decimal.
 *   - North American: optional "+1" or "1" prefix, then "(555) 123-4567", "(555)123-4567",
 *     "555-123-4567", "555.123.4567" or "555 123 4567" (the two separators alike unless the area code is
 *     parenthesised; with spaces the area code must start with 2–9).
 *   - national with a trunk 0 (UK, DE, FR, …): a first group of "0" plus 1–4 digits (not "00"),
 *     optionally parenthesised, then groups of 2–8 digits, all separated by the same single space, dot,
 *     dash or slash; 9–12 digits in all ("020 7946 0958", "07700 900123", "030 1234567",
 *     "(030) 1234567", "030/1234567", "01 23 45 67 89", "01.23.45.67.89"). Dates (8 digits) do not
 *     qualify.
 *   None of them glued to a longer dotted or dashed number or a word.
 * - ssn: US SSN "ddd-dd-dddd" or "ddd dd dddd" (one separator kind); area not 000, 666 or 900–999,
 *   group not 00, serial not 0000; not part of a longer number or word. Nine bare digits are not matched.
 * - iban: two uppercase letters, two check digits, then the BBAN (uppercase letters and digits), either
 *   contiguous or in groups of four separated by single spaces; the length must be the country's
 *   (a table of 77 countries, all of SEPA among them) or, for any other country code, 15–34; mod-97 must
 *   be 1. Lowercase IBANs are not matched.
 * - ipv4: four dot-separated decimal octets 0–255 without leading zeros, not next to a letter or digit,
 *   and not part of a longer dotted number (so "1.2.3.4.5" is not an address).
 * - ipv6: a run of hex digits, ':' and '.' with at least two ':' and one hex digit that `net.isIPv6`
 *   accepts (full, "::"-compressed, embedded IPv4); not next to a letter, digit or '_' (so "std::vector"
 *   and "x::int" casts are not addresses). A zone suffix ("%eth0") is left outside the finding.
 * - jwt: "eyJ" + base64url, '.', base64url, '.', optional base64url; the header and the payload must
 *   decode to JSON objects.
 * - aws-key: access key ids (AKIA, ASIA, AROA, AIDA, ANPA, ANVA, AIPA + 16 of [A-Z0-9]) with no letter
 *   or digit around them; a 40-character secret ([A-Za-z0-9/+=], with at least one lowercase letter, '/'
 *   or '+') that follows or precedes a key id with only separators (whitespace , ; : | = quotes) and at
 *   most 12 of them in between; and a 40-character secret after a label such as aws_secret_access_key,
 *   AWS_SECRET_ACCESS_KEY, SecretAccessKey, secret_key ("=", ":", "=>", optional quotes).
 * - github-token: ghp_, gho_, ghu_, ghs_, ghr_ + 36 to 251 letters/digits (36 today; GitHub may lengthen
 *   them); github_pat_ + 22 + '_' + 59 letters/digits.
 * - slack-token: xoxa-, xoxb-, xoxp-, xoxr-, xoxs- + digits + '-' + 8 or more letters, digits and
 *   dashes ("xoxb-123456789012-1234567890123-AbC…"); webhook URLs
 *   "https://hooks.slack.com/services/T…/B…/…" (http or https).
 * - private-key: "-----BEGIN … PRIVATE KEY-----" (RSA, EC, DSA, OPENSSH, ENCRYPTED, plain, and
 *   "PGP PRIVATE KEY BLOCK") through the next "-----END … PRIVATE KEY-----"; without an END marker, through
 *   the end of the text (fail closed).
 *
 * Cost: one pass over the text computes cheap features (digit and ':' counts, '@', "eyJ", key prefixes,
 * digit-separator-digit, …); each detector has a gate on them — a necessary condition for any finding —
 * and runs only when it holds, so most values cost that one pass and nothing else.
 *
 * One module per family — cards, email, phones, national-ids, bank-accounts, network, secrets — each a
 * scan and its validation; features.ts is the one pass, builtin.ts binds each family to its gate,
 * custom.ts holds the policy's own detectors (regex, dictionary).
 */
export { BUILTIN_DETECTORS, type BuiltinDetector, type Detector, type Finding } from './types';
export { FEATURE, textFeatures } from './features';
export { isCardNumber } from './cards';
export { IBAN_LENGTHS, isValidIban } from './bank-accounts';
export { BuiltinDetectorImpl, builtinDetector, wholeValueKind } from './builtin';
export {
  DictionaryDetector,
  PatternDetector,
  detectorMightMatch,
  dictionaryDetector,
  regexDetector,
} from './custom';
