import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { DemoUnderTest } from '../helpers/airlock-demo';
import { launchBrowser } from '../vscode/browser';

/** `airlock demo`'s sign-in as a person does it: the printed address opened in Chromium. */
describe('airlock demo: browser sign-in in Chromium', function () {
  this.timeout(180_000);
  let browser: Browser | undefined;
  let demo: DemoUnderTest | undefined;

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it('rev signs in on the provider page; the demo then decides for rev', async () => {
    browser = await launchBrowser();
    demo = DemoUnderTest.start();
    const url = await demo.authorizationUrl();
    const page = await browser.newPage();
    try {
      await page.goto(url.href);
      await page.locator('input[name=login]').fill('rev');
      await page.locator('input[name=password]').fill('any');
      await page.locator('button[type=submit]').click();
      await page.locator('button[type=submit]', { hasText: 'Continue' }).click();
      await page.getByText('Signed in to Airlock. You can close this tab.').waitFor();
    } finally {
      await page.close();
    }
    await demo.psqlLine();
    assert.match(demo.output, /Signed in as rev@example\.com \(groups: reviewers\)/);
    const tickets = await demo.psql('SELECT count(*) FROM support_tickets');
    assert.equal(tickets.code, 0, tickets.stderr);
    assert.equal(tickets.stdout.trim(), '20');
    assert.equal(await demo.interrupt(), 0, demo.errors);
  });
});
