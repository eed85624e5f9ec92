import type { AuthPreset, AuthPresetName } from '../../types/index.ts'

/**
 * Access-token conventions of common authorization servers, for client-credentials tokens. Each
 * preset says what to expect of a token, never which keys to trust: the key source, `issuer` and
 * `audience` are always the partner's own, exact values. Any field can be overridden in `auth`.
 */
export const authPresets: Readonly<Record<AuthPresetName, Readonly<AuthPreset>>> = deepFreeze({
  /** RFC 9068 §2: `typ: at+jwt` and all seven required claims. The default. */
  rfc9068: {
    typ: 'at+jwt',
    requiredClaims: ['sub', 'client_id', 'jti'],
    requiredClaimValues: {},
    scopeClaims: ['scope'],
    clientIdClaim: 'client_id',
    audienceClaim: 'aud'
  },
  /** Auth0's default "Auth0 token profile" (an API set to the RFC 9068 profile uses 'rfc9068'). */
  auth0: {
    typ: 'JWT',
    requiredClaims: ['sub', 'azp'],
    requiredClaimValues: {},
    scopeClaims: ['scope'],
    clientIdClaim: 'azp',
    audienceClaim: 'aud'
  },
  /** Okta custom authorization servers: no `typ` header, scopes in the `scp` array, client in `cid`. */
  okta: {
    typ: null,
    requiredClaims: ['sub', 'cid', 'jti'],
    requiredClaimValues: {},
    scopeClaims: ['scp'],
    clientIdClaim: 'cid',
    audienceClaim: 'aud'
  },
  /** Microsoft Entra ID v2.0 access tokens: app permissions in `roles`, delegated ones in `scp`. */
  entra: {
    typ: 'JWT',
    requiredClaims: ['sub', 'azp', 'tid'],
    requiredClaimValues: {},
    scopeClaims: ['roles', 'scp'],
    clientIdClaim: 'azp',
    audienceClaim: 'aud'
  },
  /** Amazon Cognito: access tokens carry no `aud`; the app client id is in `client_id`. */
  cognito: {
    typ: null,
    requiredClaims: ['sub', 'client_id', 'jti', 'token_use'],
    requiredClaimValues: { token_use: 'access' },
    scopeClaims: ['scope'],
    clientIdClaim: 'client_id',
    audienceClaim: 'client_id'
  },
  /** Keycloak: the payload's `typ: Bearer` tells an access token from an ID token (`typ: ID`). */
  keycloak: {
    typ: 'JWT',
    requiredClaims: ['sub', 'azp', 'jti', 'typ'],
    requiredClaimValues: { typ: 'Bearer' },
    scopeClaims: ['scope'],
    clientIdClaim: 'azp',
    audienceClaim: 'aud'
  }
})

function deepFreeze<T extends object> (value: T): T {
  for (const inner of Object.values(value)) if (inner !== null && typeof inner === 'object') deepFreeze(inner)
  return Object.freeze(value)
}
