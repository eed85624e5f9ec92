/** The authorization servers whose access-token conventions ship as presets. */
export type AuthPresetName = 'rfc9068' | 'auth0' | 'okta' | 'entra' | 'cognito' | 'keycloak'

/**
 * How one authorization server shapes its access tokens. A preset never carries keys, issuers or
 * audiences: only which header `typ`, which claims and which scope/client conventions to expect.
 */
export interface AuthPreset {
  /** Required JWT `typ` header, compared case-insensitively with any `application/` prefix ignored; null: no check. */
  typ: string | null
  /** Claims that must be present besides iss, exp, iat and the audience claim. */
  requiredClaims: string[]
  /** Claims that must have exactly this string value (Cognito `token_use: 'access'`, Keycloak `typ: 'Bearer'`). */
  requiredClaimValues: Record<string, string>
  /** Claims that may carry scopes: a space-delimited string, or an array of strings (never for `scope` itself). */
  scopeClaims: string[]
  /** The claim naming the OAuth client (audit actor, `allowedClientIds`); `sub` when it is absent. */
  clientIdClaim: string
  /** The claim that must equal `audience`: `aud` (may be an array containing it), or Cognito's `client_id`. */
  audienceClaim: string
}

/**
 * Bearer-token verification. Exactly one key source (jwksUrl, publicKey or secret) unless the
 * plugin's own `tokenEndpoint` issues the tokens. Every field of `AuthPreset` may be set here to
 * override the chosen preset.
 */
export interface AuthOptions extends Partial<AuthPreset> {
  /** Pinned JWKS URL: https (http on loopback only, for the sandbox); never derived from a token. */
  jwksUrl?: string
  /** PEM public key (SPKI or PKCS#1) */
  publicKey?: string
  /** HMAC secret, at least 32 bytes */
  secret?: string
  /** Exact `iss` */
  issuer: string
  /** Exact audience (see `audienceClaim`) */
  audience: string
  /** Token conventions of the authorization server. Default 'rfc9068' (strict RFC 9068 `at+jwt`). */
  preset?: AuthPresetName
  /** Defaults to the one algorithm the key type implies (RS256 for a JWKS). */
  algorithms?: string[]
  /** A scope the token must carry (in one of `scopeClaims`), else 403 insufficient_scope. */
  requiredScope?: string
  /** Only these clients (by `clientIdClaim`) may call, else 403 insufficient_scope. Default: any. */
  allowedClientIds?: string[]
  /** Refuse tokens whose iat is older than this. Default 900. */
  maxTokenAgeSeconds?: number
  /** Refuse tokens issued to live longer than this (exp - iat). Default and maximum: maxTokenAgeSeconds. */
  maxTokenLifetimeSeconds?: number
  /** Leeway for exp, nbf and iat. Default 30, at most 60. */
  clockToleranceSeconds?: number
  /** Verified tokens remembered (LRU, until their exp or max age) so a reused token is verified once. Default 100; 0 turns it off. */
  tokenCacheSize?: number
  /** JWKS fetch timeout in ms. Default 2500. */
  jwksTimeoutMs?: number
  /** How long a fetched JWKS is fresh, ms: a key removed from it is refused within this. Default 600000. */
  jwksTtlMs?: number
  /** Least time between two JWKS fetches caused by unknown kids or failures, ms. Default 30000. */
  jwksCooldownMs?: number
}

/** A client of the built-in token endpoint. */
export interface TokenEndpointClient {
  clientId: string
  /** `hashClientSecret(secret)`: the secret itself is never configured. */
  secretHash: string
  /** Scopes this client may be granted. Default: [auth.requiredScope] when set, else none. */
  scopes?: string[]
}

/**
 * The built-in OAuth 2.0 token endpoint (RFC 6749 client_credentials) for partners without an
 * authorization server: `POST /oauth/token` issues RFC 9068 access tokens that the payment route
 * then verifies with the matching public key; `GET /.well-known/jwks.json` publishes that key.
 */
export interface TokenEndpointOptions {
  /** PKCS#8 PEM private key: P-256 (ES256) or Ed25519 (EdDSA). */
  privateKey: string
  clients: TokenEndpointClient[]
  /** Who may ask for tokens (Rokt's token-fetching addresses); IPv4/IPv6, single or CIDR. */
  allowedIps: string[]
  /**
   * Key rotation without refused tokens: PEM public keys accepted and published in the JWKS beside
   * `privateKey`'s (same algorithm, at most 3). Add the next key here everywhere, then make it
   * `privateKey` with the previous key here, then remove the previous key once `expiresInSeconds`
   * has passed (README, runbook).
   */
  rotationPublicKeys?: string[]
  /** Token lifetime. Default and maximum 300. */
  expiresInSeconds?: number
  /** Requests per client per window (with @fastify/rate-limit). Default 20 per 60 seconds, in memory. */
  rateLimit?: TokenRateLimitOptions
}

/**
 * The token endpoint's rate limit. A client is an IPv4 address, or the IPv6 prefix its address
 * falls in (a host is usually given a whole /64). In memory by default (bounded: the least recently
 * seen clients are forgotten first); shared by every instance when given a Redis client.
 */
export interface TokenRateLimitOptions {
  /** Requests per client per window. Default 20. */
  max?: number
  /** Default 60. */
  windowSeconds?: number
  /** IPv6 addresses are counted per prefix of this length. Default 64 (from 16 to 128). */
  ipv6PrefixLength?: number
  /** Clients the in-memory count keeps (least recently seen forgotten first). Default 5000. */
  cacheSize?: number
  /**
   * An ioredis client: the counts then live in Redis, shared by every instance. @fastify/rate-limit
   * defines its Lua script on it with `defineCommand`, so node-redis does not work here. Each check
   * is bounded to 1 s; Redis failing or slow is answered 503 `temporarily_unavailable` with Retry-After.
   */
  redis?: RateLimitRedisClient
}

/** What the rate limit needs of a Redis client: ioredis' `defineCommand` (and the command it defines). */
export interface RateLimitRedisClient {
  defineCommand: (name: string, definition: { lua: string, numberOfKeys?: number }) => unknown
}
