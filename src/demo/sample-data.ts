/**
 * The demo database: a small shop whose customers carry fake personal data of every kind Airlock masks —
 * names, e-mails, phones, US SSNs, payment cards (Luhn-valid test numbers), IBANs — and support tickets
 * whose free text leaks some of it. Deterministic (seeded), so the demo and the tests see the same rows.
 */

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Margaret',
  'Dennis',
  'Radia',
  'Tim',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Hamilton',
  'Ritchie',
  'Perlman',
  'Berners',
];
const CITIES = ['Lisbon', 'Oslo', 'Austin', 'Lyon', 'Osaka', 'Porto', 'Denver', 'Turin'];
const PRODUCTS: Array<[string, number]> = [
  ['Mechanical keyboard', 129.0],
  ['USB-C dock', 89.5],
  ['27" monitor', 319.99],
  ['Noise-cancelling headphones', 249.0],
  ['Laptop stand', 39.9],
  ['Webcam', 74.25],
];

/** Mulberry32: tiny, seeded, good enough for sample data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function luhnCheckDigit(partial: string): number {
  let sum = 0;
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

function ibanCheckDigits(country: string, bban: string): string {
  const numeric = (bban + country + '00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let rem = 0;
  for (const ch of numeric) rem = (rem * 10 + Number(ch)) % 97;
  return String(98 - rem).padStart(2, '0');
}

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

export interface SampleCustomer {
  id: number;
  fullName: string;
  email: string;
  phone: string;
  ssn: string;
  cardNumber: string;
  iban: string;
  city: string;
}

export function sampleCustomers(count = 200, seed = 42): SampleCustomer[] {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10)).join('');
  const out: SampleCustomer[] = [];
  for (let id = 1; id <= count; id++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const cardBody = '4' + digits(14); // Visa-range test numbers
    const bban = digits(18);
    // SSNs in the 900-series area are never issued: realistic shape, not a real person's number.
    const ssn = `9${digits(2)}-${String(10 + Math.floor(rnd() * 89))}-${String(1000 + Math.floor(rnd() * 8999))}`;
    out.push({
      id,
      fullName: `${first} ${last}`,
      email: `${first}.${last}${id}@example.com`.toLowerCase(),
      phone: `+1 555 ${digits(3)} ${digits(4)}`,
      ssn,
      cardNumber: cardBody + luhnCheckDigit(cardBody),
      iban: `DE${ibanCheckDigits('DE', bban)}${bban}`,
      city: pick(CITIES),
    });
  }
  return out;
}

/** SQL that creates and fills the demo schema (run as the database owner). */
export function sampleDataSql(count = 200, seed = 42): string {
  const customers = sampleCustomers(count, seed);
  const rnd = prng(seed + 1);
  const lines: string[] = [
    `CREATE TABLE customers (
  id integer PRIMARY KEY,
  full_name text NOT NULL,
  email text NOT NULL UNIQUE,
  phone text,
  ssn text,
  card_number text,
  iban text,
  city text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);`,
    `CREATE TABLE products (id integer PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL);`,
    `CREATE TABLE orders (
  id serial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers(id),
  product_id integer NOT NULL REFERENCES products(id),
  quantity integer NOT NULL CHECK (quantity > 0),
  status text NOT NULL DEFAULT 'placed',
  ordered_at timestamptz NOT NULL
);`,
    `CREATE TABLE support_tickets (id serial PRIMARY KEY, customer_id integer REFERENCES customers(id), body text NOT NULL);`,
    `CREATE VIEW customer_contacts AS SELECT id, full_name, email, phone FROM customers;`,
  ];
  lines.push(
    'INSERT INTO products VALUES ' +
      PRODUCTS.map(([n, p], i) => `(${i + 1}, ${q(n)}, ${p})`).join(',\n  ') +
      ';',
  );
  lines.push(
    'INSERT INTO customers (id, full_name, email, phone, ssn, card_number, iban, city, created_at) VALUES\n  ' +
      customers
        .map(
          (c) =>
            `(${c.id}, ${q(c.fullName)}, ${q(c.email)}, ${q(c.phone)}, ${q(c.ssn)}, ${q(c.cardNumber)}, ${q(c.iban)}, ${q(c.city)}, ` +
            `timestamptz '2026-01-01' + interval '${c.id * 7} hours')`,
        )
        .join(',\n  ') +
      ';',
  );
  const orders: string[] = [];
  for (let i = 0; i < count * 3; i++) {
    const c = 1 + Math.floor(rnd() * count);
    const p = 1 + Math.floor(rnd() * PRODUCTS.length);
    const status = ['placed', 'shipped', 'delivered', 'returned'][Math.floor(rnd() * 4)];
    orders.push(
      `(${c}, ${p}, ${1 + Math.floor(rnd() * 3)}, '${status}', timestamptz '2026-02-01' + interval '${i * 3} hours')`,
    );
  }
  lines.push(
    'INSERT INTO orders (customer_id, product_id, quantity, status, ordered_at) VALUES\n  ' +
      orders.join(',\n  ') +
      ';',
  );
  const tickets = customers
    .slice(0, 20)
    .map((c, i) =>
      i % 4 === 0
        ? `(${c.id}, ${q(`Please update my card to ${c.cardNumber.replace(/(\d{4})(?=\d)/g, '$1 ')}, the old one expired.`)})`
        : i % 4 === 1
          ? `(${c.id}, ${q(`Refund to ${c.iban} please. You can reach me at ${c.email}.`)})`
          : i % 4 === 2
            ? `(${c.id}, ${q('Our integration broke after we rotated AKIAIOSFODNN7EXAMPLE; the dock arrived fine.')})`
            : `(${c.id}, ${q('Delivery was late but the keyboard is great.')})`,
    );
  lines.push('INSERT INTO support_tickets (customer_id, body) VALUES\n  ' + tickets.join(',\n  ') + ';');
  lines.push('ANALYZE;');
  return lines.join('\n\n') + '\n';
}
