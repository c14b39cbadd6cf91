import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { startInteractiveSignIn } from '../../src/cli/interactive-sign-in';
import { connectIssuer, type Issuer } from '../../src/identity/issuer';
import { oidcSettings } from '../../src/identity/settings';
import {
  TEST_RESOURCE,
  startTestIdentityProvider,
  type TestIdentityProvider,
} from '../helpers/oidc-provider';

/**
 * Both sign-ins offered at once (a shell without a desktop): whichever the person completes wins, and
 * the other is withdrawn — the loopback address stops answering, the device grant stops polling.
 */
describe('interactive sign-in: the address and the device code offered together', function () {
  this.timeout(60_000);
  let idp: TestIdentityProvider;
  let issuer: Issuer;

  before(async () => {
    idp = await startTestIdentityProvider({ deviceInterval: 1 });
    issuer = await connectIssuer(
      oidcSettings({
        issuer: idp.issuer,
        clientId: idp.clientId,
        scopes: ['openid', 'email', 'groups'],
        resource: TEST_RESOURCE,
      }),
    );
  });

  after(() => idp?.close());

  async function offerBoth(): Promise<{
    completed: Promise<unknown>;
    url: URL;
    userCode: string;
  }> {
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString('utf8')));
    const pending = await startInteractiveSignIn(issuer, 'either', out);
    const url = /^ {2}(http:\/\/\S+\/auth\?\S+)$/m.exec(text)?.[1];
    const userCode = /enter the code (\S+)\n/.exec(text)?.[1];
    assert.ok(url && userCode, text);
    return { completed: pending.completed, url: new URL(url), userCode };
  }

  it('the device code wins: the loopback address no longer answers', async () => {
    const { completed, url, userCode } = await offerBoth();
    await idp.approveDevice(userCode, 'rev');
    assert.ok(((await completed) as { access_token?: string }).access_token);
    const redirect = new URL(url.searchParams.get('redirect_uri') as string);
    await assert.rejects(fetch(redirect), /fetch failed/);
  });

  it('the browser wins: the device grant stops polling', async () => {
    const { completed, url } = await offerBoth();
    // The device grant is under way (polling) when the person signs in in the browser.
    const polling = idp.devicePolls.length;
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(idp.devicePolls.length > polling, 'the device grant polls while waiting');
    const back = await idp.loginAt(url.href, 'dev');
    assert.equal((await fetch(back)).status, 200);
    assert.ok(((await completed) as { access_token?: string }).access_token);
    const polls = idp.devicePolls.length;
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(idp.devicePolls.length, polls, 'no device poll after the browser sign-in');
  });
});
