import assert from 'node:assert/strict';
import { DemoUnderTest, newSince, runFootprint } from '../helpers/airlock-demo';
import { approveDevice, loginAt } from '../helpers/oidc-provider';

/**
 * `airlock demo` (what `npm run demo` runs) end to end, from the built bundle: its own identity provider,
 * control plane and database; a real sign-in through what it prints; psql through the printed line,
 * decided for the person signed in; Ctrl-C leaves no process and no temp folder.
 */
describe('airlock demo: sign-in, decisions per group, clean stop', function () {
  this.timeout(180_000);
  let demo: DemoUnderTest | undefined;

  afterEach(async () => {
    await demo?.stop();
    demo = undefined;
  });

  // The same statement for both: developers are denied support tickets, reviewers read them (masked).
  const SAME_STATEMENT = 'SELECT body FROM support_tickets ORDER BY id LIMIT 3';

  it('dev signs in at the printed address: the control plane verifies the token, support tickets are denied (42501); Ctrl-C removes everything', async () => {
    const before = runFootprint();
    demo = DemoUnderTest.start();
    const url = await demo.authorizationUrl();
    assert.match(
      demo.output,
      /Control plane: +http:\/\/127\.0\.0\.1:\d+ — plain http on loopback, for this demo only/,
    );
    // Without a desktop the device code is offered beside the address.
    assert.match(demo.output, /on any device and enter the code \S+/);
    // With server binaries, the production store: a database of the demo's own cluster.
    assert.match(demo.output, /store: database airlock_control_plane in the demo's PostgreSQL\n/);

    // The person's browser: the provider's login page as dev, then back to the demo's loopback address.
    const callback = await loginAt(url.origin, url.href, 'dev');
    assert.match(callback.href, /^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
    const landing = await fetch(callback);
    assert.equal(landing.status, 200);
    assert.match(await landing.text(), /Signed in to Airlock/);

    await demo.psqlLine();
    assert.match(
      demo.output,
      /Signed in as dev@example\.com \(groups: developers\), verified by http:\/\/127\.0\.0\.1:\d+\./,
    );
    assert.match(demo.output, /server http:\/\/127\.0\.0\.1:\d+: you may reach\n {2}demo \(postgres\)\n/);
    assert.match(demo.output, /deciding for dev@example\.com/);

    const denied = await demo.psql(SAME_STATEMENT);
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      /ERROR: {2}42501: airlock: denied: Support tickets are read by reviewers, not developers/,
    );
    assert.match(denied.stderr, /support-tickets-for-reviewers/);
    // Everything else the demo promises still holds for dev: reads arrive masked.
    const read = await demo.psql('SELECT email FROM customers ORDER BY id LIMIT 1');
    assert.equal(read.code, 0, read.stderr);
    assert.match(read.stdout.trim(), /^\*\*\*@example\.com$/);

    assert.equal(await demo.interrupt(), 0, demo.errors);
    demo = undefined;
    assert.deepEqual(newSince(before), [], 'the demo left nothing behind');
  });

  it('rev signs in with --device: the same statement returns the tickets, their secrets masked', async () => {
    const before = runFootprint();
    demo = DemoUnderTest.start(['--device']);
    const { verificationUri, userCode } = await demo.deviceCode();
    assert.doesNotMatch(demo.output, /\/auth\?/, '--device offers the device code only');
    await approveDevice(new URL(verificationUri).origin, userCode, 'rev');

    await demo.psqlLine();
    assert.match(demo.output, /Signed in as rev@example\.com \(groups: reviewers\)/);
    const allowed = await demo.psql(SAME_STATEMENT);
    assert.equal(allowed.code, 0, allowed.stderr);
    const rows = allowed.stdout.trim().split('\n');
    assert.equal(rows.length, 3);
    assert.match(rows[0], /^Please update my card to /);
    // The sample tickets carry a card number, an e-mail address and a cloud key in free text: none
    // arrives in clear.
    assert.doesNotMatch(allowed.stdout, /\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b/);
    assert.doesNotMatch(allowed.stdout, /[a-z0-9.]+@[a-z0-9-]+\.[a-z]+/i);
    assert.doesNotMatch(allowed.stdout, /AKIAIOSFODNN7EXAMPLE/);

    assert.equal(await demo.interrupt(), 0, demo.errors);
    demo = undefined;
    assert.deepEqual(newSince(before), [], 'the demo left nothing behind');
  });

  it('Ctrl-C while waiting for the sign-in stops and removes everything started so far', async () => {
    const before = runFootprint();
    demo = DemoUnderTest.start();
    await demo.authorizationUrl();
    assert.equal(await demo.interrupt(), 0, demo.errors);
    demo = undefined;
    assert.deepEqual(newSince(before), [], 'the demo left nothing behind');
  });
});
