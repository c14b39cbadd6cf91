import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { connectIssuer } from '../../src/identity/issuer';
import { startLoopbackSignIn } from '../../src/identity/loopback-sign-in';
import { OidcSession } from '../../src/identity/oidc-session';
import { refreshTokenFile } from '../../src/identity/refresh-token-store';
import { oidcSettings } from '../../src/identity/settings';
import {
  TEST_RESOURCE,
  startTestIdentityProvider,
  type TestIdentityProvider,
} from '../helpers/oidc-provider';
import { launchBrowser } from '../vscode/browser';

/** The browser sign-in in a real Chromium: the provider's pages filled in, the loopback page shown. */
describe('identity: browser sign-in in Chromium', function () {
  this.timeout(60_000);
  let idp: TestIdentityProvider;
  let browser: Browser;
  let dir: string;

  before(async () => {
    idp = await startTestIdentityProvider();
    browser = await launchBrowser();
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-identity-browser-'));
  });

  after(async () => {
    await browser?.close();
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the person signs in on the provider page; the loopback answers "you can close this tab"', async () => {
    const issuer = await connectIssuer(
      oidcSettings({
        issuer: idp.issuer,
        clientId: idp.clientId,
        scopes: ['openid', 'email', 'groups'],
        resource: TEST_RESOURCE,
      }),
    );
    const pending = await startLoopbackSignIn(issuer);
    const page = await browser.newPage();
    try {
      await page.goto(pending.authorizationUrl.href);
      await page.locator('input[name=login]').fill('rev');
      await page.locator('input[name=password]').fill('any');
      await page.locator('button[type=submit]').click();
      await page.locator('button[type=submit]', { hasText: 'Continue' }).click();
      await page.getByText('Signed in to Airlock. You can close this tab.').waitFor();
      assert.match(page.url(), /^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
    } finally {
      await page.close();
    }
    const session = await OidcSession.start(
      issuer,
      await pending.completed,
      refreshTokenFile(issuer.settings, dir),
    );
    try {
      assert.equal(session.current().user, 'rev@example.com');
      assert.deepEqual(session.current().groups, ['reviewers']);
    } finally {
      session.close();
    }
  });
});
