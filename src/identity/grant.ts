import type * as oidc from 'openid-client';

/** A token endpoint's answer as openid-client returns it (the ID token's claims through `claims()`). */
export type GrantResult = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
