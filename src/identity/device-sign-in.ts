import * as oidc from 'openid-client';
import type { GrantResult } from './grant';
import type { Issuer } from './issuer';
import { requestParameters } from './settings';
import { SignInError, explainOidcError } from './sign-in-error';

/** A device sign-in under way: show the person `verificationUri` and `userCode`, then wait. */
export interface PendingDeviceSignIn {
  readonly verificationUri: string;
  /** The same page with the code filled in, when the provider offers one. */
  readonly verificationUriComplete?: string;
  readonly userCode: string;
  readonly expiresAt: Date;
  readonly completed: Promise<GrantResult>;
  cancel(): void;
}

/**
 * The device authorization grant (RFC 8628), for editors and shells without a browser on this machine:
 * the person signs in on any device; this side polls at the interval the provider asks for and slows
 * down when told to (openid-client does both).
 */
export async function startDeviceSignIn(issuer: Issuer): Promise<PendingDeviceSignIn> {
  let response: oidc.DeviceAuthorizationResponse;
  try {
    response = await oidc.initiateDeviceAuthorization(issuer.client, requestParameters(issuer.settings));
  } catch (err) {
    throw explainOidcError(err, issuer.settings);
  }
  const abort = new AbortController();
  const completed = oidc
    .pollDeviceAuthorizationGrant(issuer.client, response, undefined, { signal: abort.signal })
    .catch((err: unknown) => {
      if (abort.signal.aborted) throw new SignInError('cancelled', 'sign-in was cancelled');
      throw explainOidcError(err, issuer.settings);
    });
  // The grant may end before anyone awaits: a failure then must not count as unhandled.
  completed.catch(() => undefined);
  return {
    verificationUri: response.verification_uri,
    verificationUriComplete: response.verification_uri_complete,
    userCode: response.user_code,
    expiresAt: new Date(Date.now() + response.expires_in * 1000),
    completed,
    cancel: () => abort.abort(),
  };
}
