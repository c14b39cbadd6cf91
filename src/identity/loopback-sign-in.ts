import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import type { GrantResult } from './grant';
import type { Issuer } from './issuer';
import { requestParameters } from './settings';
import { SignInError, explainOidcError } from './sign-in-error';

/** A browser sign-in under way: open `authorizationUrl`, then wait for `completed`. */
export interface PendingSignIn {
  /** The authorization request only (client id, scopes, state, PKCE challenge): no token, no secret. */
  readonly authorizationUrl: URL;
  /** The tokens once the browser came back; a SignInError otherwise. */
  readonly completed: Promise<GrantResult>;
  /** Gives up: closes the loopback listener, `completed` rejects with reason `cancelled`. */
  cancel(): void;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/**
 * Authorization code + PKCE (S256) as a public native client (RFC 8252): a listener on 127.0.0.1 at an
 * ephemeral port takes the one redirect to /callback, checks `state`, redeems the code with the
 * verifier that never left this process, answers a page saying the tab may close, and closes. The code
 * in the redirect is worthless without the verifier, so another local process seeing it gains nothing.
 */
export async function startLoopbackSignIn(
  issuer: Issuer,
  options: { timeoutMs?: number } = {},
): Promise<PendingSignIn> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const authorizationUrl = oidc.buildAuthorizationUrl(issuer.client, {
    ...requestParameters(issuer.settings),
    redirect_uri: redirectUri,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });

  let settle!: { resolve: (r: GrantResult) => void; reject: (e: SignInError) => void };
  const completed = new Promise<GrantResult>((resolve, reject) => (settle = { resolve, reject }));
  // The browser may answer before anyone awaits: a failure then must not count as unhandled.
  completed.catch(() => undefined);
  let done = false;
  // The first answer on /callback is the only one considered, whatever it holds.
  let answered = false;
  const finish = (outcome: { tokens: GrantResult } | { error: SignInError }) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    server.close();
    server.closeIdleConnections();
    if ('tokens' in outcome) settle.resolve(outcome.tokens);
    else settle.reject(outcome.error);
  };
  const timer = setTimeout(
    () =>
      finish({
        error: new SignInError(
          'expired',
          `no answer from the browser within ${Math.round((options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)} s: run \`airlock login\` again (or \`airlock login --device\` where no browser can reach this machine)`,
        ),
      }),
    options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  );
  timer.unref();

  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', redirectUri);
    if (req.method !== 'GET' || url.pathname !== '/callback' || answered) {
      res.writeHead(404).end();
      return;
    }
    answered = true;
    // The answer to another sign-in (or a forged one) must not be redeemed: this sign-in ends.
    if (url.searchParams.get('state') !== state) {
      answer(
        res,
        400,
        'This sign-in answer does not belong to the sign-in Airlock started. Nothing was signed in.',
      );
      finish({
        error: new SignInError(
          'state-mismatch',
          'the browser came back with an answer for a different sign-in (state mismatch); nothing was signed in: run `airlock login` again',
        ),
      });
      return;
    }
    oidc
      .authorizationCodeGrant(issuer.client, url, { pkceCodeVerifier: verifier, expectedState: state })
      .then(
        (tokens) => {
          answer(res, 200, 'Signed in to Airlock. You can close this tab.');
          finish({ tokens });
        },
        (err: unknown) => {
          const error = explainOidcError(err, issuer.settings);
          answer(res, 400, `Airlock could not sign you in: ${error.message}`);
          finish({ error });
        },
      );
  });

  return {
    authorizationUrl,
    completed,
    cancel: () => finish({ error: new SignInError('cancelled', 'sign-in was cancelled') }),
  };
}

function answer(res: http.ServerResponse, status: number, text: string): void {
  const escaped = text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // The page's own URL carries the authorization code: never send it on as a referrer.
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'",
    connection: 'close',
  });
  res.end(
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Airlock</title></head><body><p>${escaped}</p></body></html>`,
  );
}
