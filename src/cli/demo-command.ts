import path from 'node:path';
import { streamLogger } from '../core/log';
import { startDemoDatabase } from '../demo/demo-database';
import { Airlock } from '../engine/airlock';
import { writeReadyFile } from './ready-file';
import { untilSignal } from './run-until-signal';

export const demoUsage = `airlock demo [--ready-file PATH]

Starts a demo PostgreSQL with sample (fake) personal data and Airlock in front of it, and prints how to
connect with psql. Everything is temporary and stops on Ctrl-C.`;

const DEMO_PASSWORD_ENV = 'AIRLOCK_DEMO_UPSTREAM_PASSWORD';
/**
 * Reads with personal data masked, writes only on a person's approval (here, headless: denied), shipped
 * beside the bundle (dist/ → examples/).
 */
const DEMO_POLICY = path.resolve(__dirname, '..', 'examples', 'policies', 'demo.yaml');

export async function demoCommand(options: { 'ready-file'?: string }): Promise<number> {
  const log = streamLogger('info');
  const db = await startDemoDatabase(log);
  try {
    // The upstream password lives only in this process's memory and environment.
    if (db.password) process.env[DEMO_PASSWORD_ENV] = db.password;
    // Headless, nobody can approve: a statement that needs review is denied at once.
    const airlock = await Airlock.start(
      {
        connections: [
          {
            name: 'demo',
            kind: 'postgres',
            upstream: db.upstream,
            passwordEnv: DEMO_PASSWORD_ENV,
            listen: '127.0.0.1:0',
          },
        ],
        policy: DEMO_POLICY,
        allowUnsignedPolicy: true,
      },
      { log, approvals: null },
    );
    try {
      await airlock.connect();
    } catch (err) {
      await airlock.close();
      throw err;
    }
    if (options['ready-file']) await writeReadyFile(options['ready-file'], airlock.endpoints);
    const e = airlock.endpoints[0];
    process.stdout.write(
      [
        '',
        `Airlock demo is running (${db.engine} behind the Airlock proxy). Connect with:`,
        '',
        `  PGPASSWORD='${e.password}' psql "host=${e.host} port=${e.port} user=${e.user} dbname=${e.database}"`,
        '',
        'Try:  \\dt',
        '      SELECT * FROM customers LIMIT 5;            -- personal data arrives masked',
        '      SELECT body FROM support_tickets LIMIT 4;   -- cards, e-mails, keys in free text too',
        '      SELECT upper(email) FROM customers;         -- denied: it computes on a masked column',
        '      DELETE FROM customers;                      -- needs approval: denied here, asked in VS Code',
        'Press Ctrl-C to stop; the demo database is removed.',
        '',
      ].join('\n'),
    );
    await untilSignal();
    await airlock.close();
  } finally {
    await db.stop();
  }
  return 0;
}
