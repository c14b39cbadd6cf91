import type { IdentityConfig } from '../config/config';

/** What sign-in needs to know about the OpenID provider, with the defaults filled in. */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  scopes: readonly string[];
  groupsClaim: string;
  resource?: string;
}

export const DEFAULT_SCOPES = ['openid', 'email', 'profile', 'offline_access'] as const;

export function oidcSettings(config: IdentityConfig): OidcSettings {
  const scopes = config.scopes ?? [...DEFAULT_SCOPES];
  return {
    issuer: config.issuer,
    clientId: config.clientId,
    // Without `openid` there is no ID token, and so nobody to name.
    scopes: scopes.includes('openid') ? scopes : ['openid', ...scopes],
    groupsClaim: config.groupsClaim ?? 'groups',
    resource: config.resource,
  };
}

/** The parameters every grant sends besides its own: the scopes and, when configured, the resource. */
export function requestParameters(settings: OidcSettings): Record<string, string> {
  return {
    scope: settings.scopes.join(' '),
    ...(settings.resource ? { resource: settings.resource } : {}),
  };
}
