import type { OidcSettings } from './settings';

/** Why a sign-in did not happen or ended, for a person (the message) and for code (the reason). */
export type SignInFailure =
  | 'issuer-unreachable'
  | 'unknown-client'
  | 'cancelled'
  | 'expired'
  | 'state-mismatch'
  | 'rejected'
  | 'session-ended'
  | 'not-signed-in';

export class SignInError extends Error {
  constructor(
    readonly reason: SignInFailure,
    message: string,
  ) {
    super(message);
  }
}

interface OAuthErrorShape {
  error?: unknown;
  error_description?: unknown;
  code?: unknown;
  cause?: unknown;
}

/**
 * Turns what openid-client and fetch throw into a SignInError that says what to do. Protocol error
 * descriptions come from the provider, so they are quoted but never trusted to carry the advice.
 */
export function explainOidcError(err: unknown, settings: OidcSettings): SignInError {
  if (err instanceof SignInError) return err;
  const e = (err ?? {}) as OAuthErrorShape;
  const oauthError = typeof e.error === 'string' ? e.error : undefined;
  const detail = typeof e.error_description === 'string' ? ` (${e.error_description})` : '';
  switch (oauthError) {
    case 'invalid_client':
    case 'unauthorized_client':
      return new SignInError(
        'unknown-client',
        `the identity provider ${settings.issuer} does not accept client id "${settings.clientId}"${detail}: check identity.clientId in the config and that the client is registered as a public native app`,
      );
    case 'access_denied':
      return new SignInError('cancelled', `sign-in was cancelled at the identity provider${detail}`);
    case 'expired_token':
      return new SignInError(
        'expired',
        'the device code expired before anyone signed in with it: run `airlock login --device` again',
      );
    case 'invalid_grant':
      return new SignInError(
        'rejected',
        `the identity provider refused the grant${detail}: run \`airlock login\` again`,
      );
    case undefined:
      break;
    default:
      return new SignInError('rejected', `the identity provider answered ${oauthError}${detail}`);
  }
  if (isNetworkFailure(err)) {
    return new SignInError(
      'issuer-unreachable',
      `cannot reach the identity provider at ${settings.issuer} (${networkCause(err)}): check identity.issuer and your network`,
    );
  }
  return new SignInError('rejected', `sign-in failed: ${(err as Error)?.message ?? String(err)}`);
}

function isNetworkFailure(err: unknown): boolean {
  const e = err as OAuthErrorShape & { name?: string; message?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return true;
  if (e?.message === 'fetch failed') return true;
  // openid-client wraps the fetch failure in its own error (OAUTH_… code) with the TypeError as cause.
  return e?.cause !== undefined && e.cause !== err && isNetworkFailure(e.cause);
}

function networkCause(err: unknown): string {
  let e = err as { cause?: unknown; code?: unknown; message?: string; name?: string } | undefined;
  while (e?.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  if (typeof e?.code === 'string') return e.code;
  return e?.name === 'TimeoutError' ? 'timed out' : (e?.message ?? 'no answer');
}
