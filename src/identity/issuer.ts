import * as oidc from 'openid-client';
import { explainOidcError } from './sign-in-error';
import type { OidcSettings } from './settings';

/** An OpenID provider as discovered, and the settings Airlock talks to it with. */
export interface Issuer {
  settings: OidcSettings;
  client: oidc.Configuration;
}

const REQUEST_TIMEOUT_SECONDS = 15;

/** Plain http only to a loopback issuer (the demo's): anything else could be read or altered on the way. */
export function isLoopbackHttp(issuer: URL): boolean {
  return issuer.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
}

/** Reads the provider's discovery document; a public client (no secret: the app runs on the workstation). */
export async function connectIssuer(settings: OidcSettings): Promise<Issuer> {
  const url = new URL(settings.issuer);
  if (url.protocol !== 'https:' && !isLoopbackHttp(url)) {
    throw new Error(
      `identity.issuer must be https (plain http only on a loopback address): ${settings.issuer}`,
    );
  }
  try {
    const client = await oidc.discovery(url, settings.clientId, undefined, oidc.None(), {
      execute: isLoopbackHttp(url) ? [oidc.allowInsecureRequests] : [],
      timeout: REQUEST_TIMEOUT_SECONDS,
    });
    client.timeout = REQUEST_TIMEOUT_SECONDS;
    return { settings, client };
  } catch (err) {
    throw explainOidcError(err, settings);
  }
}
