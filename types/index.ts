import type { FastifyRequest } from 'fastify'

/** A billing address as the partner's vault (or the PSP) knows it. Never card data. */
export interface BillingAddress {
  line1?: string
  line2?: string
  city?: string
  state?: string
  postalCode?: string
  /** ISO 3166-1 alpha-2 */
  country?: string
}

/** What Rokt sends, and what the vault knows, to tie a reference to one customer. */
export interface CustomerIdentifiers {
  email?: string
  customerId?: string
}

/** Fields every vault record may carry, whatever the PSP. */
export interface VaultedPaymentMethodBase {
  /** The key under `psps` of the adapter that holds this card. */
  psp: string
  billingAddress?: BillingAddress
  cardholderName?: string
  /** What the vault knows about the customer; every identifier Rokt sends must match one of these. */
  customerIdentifiers?: CustomerIdentifiers
}

export interface StripeVaultRecord { paymentMethod: string }
export interface AdyenVaultRecord { storedPaymentMethodId: string, shopperReference: string }
export interface BraintreeVaultRecord { paymentMethodToken: string }
export interface CheckoutComVaultRecord { sourceId: string }

/** The canonical tokens a destination body template may use. */
export type CardToken = 'card.number' | 'card.expMonth' | 'card.expYear' | 'card.cvc' | 'card.holderName'
export type BillingToken = 'billing.line1' | 'billing.line2' | 'billing.city' | 'billing.state' | 'billing.postalCode' | 'billing.country'
export type CanonicalToken = CardToken | BillingToken

/** A JSON body template whose string leaves may be exactly one canonical token, e.g. "{{card.number}}". */
export type BodyTemplate = { [key: string]: BodyTemplateValue }
export type BodyTemplateValue = string | number | boolean | null | BodyTemplateValue[] | { [key: string]: BodyTemplateValue }

/** One token found in a template, where it sits. */
export interface TemplateSlot {
  path: ReadonlyArray<string | number>
  token: CanonicalToken
}

/** A destination as configured by the partner, validated and prepared at registration. */
export interface PreparedDestination {
  /** The id Rokt sends, e.g. COM.ROKT.CATALOG */
  id: string
  url: string
  /** Headers Rokt asked for on every forward (its API key, say). Never logged. */
  headers: Readonly<Record<string, string>>
  template: BodyTemplate
  slots: readonly TemplateSlot[]
}

/** The destination's answer, as relayed by the PSP: the route's 200 body (DESIGN §4). */
export interface ForwardResult {
  status: number
  headers: Record<string, string>
  /** Parsed JSON when the destination answered JSON, else the raw string. */
  body: unknown
  /** The forward's duration in ms: the PSP's own figure where it gives one. */
  requestTime: number
  /** The PSP's whole response body, for `relay: 'psp'`. */
  pspBody: unknown
}

export interface ForwardInput<TRecord> {
  record: TRecord & VaultedPaymentMethodBase
  destination: PreparedDestination
  /** Present only when Rokt sent an Idempotency-Key: already derived, at most 64 characters. */
  idempotencyKey?: string
  /** Aborted when the request is abandoned; adapters pass it to undici. */
  signal?: AbortSignal
}

/**
 * A PSP's Forward API. Implement it for any PSP this package does not ship.
 * `TRecord` is the PSP-specific part of a vault record.
 */
export interface PspAdapter<TRecord extends object = Record<string, unknown>> {
  /** The PSP's name, for logs, metrics and error messages. */
  readonly name: string
  /** Registration time: throw an Error naming the problem if this destination cannot be served. */
  prepareDestination?: (destination: PreparedDestination) => void
  /** Request time: the record's PSP handle is well formed (false gives 404, nothing forwarded). */
  isRecord: (record: VaultedPaymentMethodBase & Record<string, unknown>) => record is VaultedPaymentMethodBase & TRecord & Record<string, unknown>
  /** Forward the card; throw PspError (502) or PspTimeoutError (504) on failure. */
  forward: (input: ForwardInput<TRecord>) => Promise<ForwardResult>
  /** Close the adapter's dispatcher; called once when the app closes. */
  close?: () => Promise<void>
  /** @internal phantom type carrying the record shape */
  readonly __record?: TRecord
}

/** A vault record: a discriminated union on `psp`, one member per registered adapter. */
export type VaultedPaymentMethod<Psps extends Record<string, PspAdapter<any>> = Record<string, PspAdapter<any>>> = {
  // The record shape is read inline: through a helper alias, TypeScript widens a resolver's
  // `psp: 'stripe'` to `string` while it infers Psps, and valid records fail to type-check.
  [K in keyof Psps & string]: Omit<VaultedPaymentMethodBase, 'psp'> & { psp: K } & (Psps[K] extends PspAdapter<infer R> ? R : never)
}[keyof Psps & string]

/** The body Rokt posts, after validation. */
export interface PaymentSharingRequest {
  partnerPaymentReference: string
  destination: string
  customerIdentifiers?: CustomerIdentifiers
}

export type ResolvePaymentMethod<Psps extends Record<string, PspAdapter<any>>> = (
  body: PaymentSharingRequest,
  request: FastifyRequest
) => Promise<VaultedPaymentMethod<Psps> | null | undefined> | VaultedPaymentMethod<Psps> | null | undefined

export interface DestinationOptions {
  url: string
  headers?: Record<string, string>
  body?: BodyTemplate
}

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
  /** Requests per client IP per window. Default 20 per 60 seconds. */
  rateLimit?: { max?: number, windowSeconds?: number }
}

export type AuditEventType =
  | 'accepted' | 'ip_denied' | 'auth_failed' | 'scope_denied' | 'validation_failed'
  | 'not_found' | 'forward_ok' | 'forward_failed' | 'forward_unknown' | 'duplicate_replayed'
  | 'internal_error' | 'token_issued' | 'token_denied'

/** What `onForward` receives: one forward, for metrics (no reference, no customer data). */
export interface ForwardMetric {
  psp: string
  destination: string
  /** ok: the PSP forwarded; failed: it did not; unknown: it may have (reconcile) */
  outcome: 'ok' | 'failed' | 'unknown'
  /** The PSP call, retries included, in ms */
  durationMs: number
  /** The status the route answered */
  statusCode: number
  /** The destination's status, when the PSP forwarded */
  destinationStatus?: number
  /** The error code, when it did not */
  code?: string
}

export interface AuditEvent {
  event: AuditEventType
  /** success for accepted, forward_ok and token_issued; failure for everything else */
  outcome: 'success' | 'failure'
  /** UTC ISO-8601 */
  time: string
  requestId: string
  /** The client address as trustProxy resolved it; control characters escaped, at most 64 characters. */
  ip: string
  /** The OAuth client (see `clientIdClaim`, else sub) of the verified token, when known; escaped, at most 128 characters. */
  actor?: string
  destination?: string
  /** A short SHA-256 of partnerPaymentReference, never the reference itself */
  referenceHash?: string
  psp?: string
  statusCode: number
  code?: string
  /**
   * Why, as a fixed identifier, for operators (never sent to the caller): a refused token
   * (FAST_JWT_EXPIRED, token_lifetime…) or a failed PSP call (connection_refused, headers_timeout, circuit_open…).
   */
  reason?: string
}

/** A response kept under an Idempotency-Key and replayed to identical retries. */
export interface StoredResponse {
  statusCode: number
  body: unknown
}

/** What `IdempotencyStore.begin` found under a key. */
export type IdempotencyClaim =
  | { state: 'claimed' }
  | { state: 'in_flight', fingerprint: string }
  | { state: 'completed', fingerprint: string, response: StoredResponse }

/**
 * Where Idempotency-Keys and in-flight locks live. The default is in memory, per process; back it
 * with a shared store (Redis, a database) when several instances serve Rokt. Keys are opaque
 * hashes of at most 80 characters; records hold no card data.
 */
export interface IdempotencyStore {
  /**
   * Atomically (SET NX): when `key` has no live record, create an in-flight record holding
   * `fingerprint` that expires after `leaseMs`, and answer `claimed`; otherwise answer what is there.
   */
  begin: (key: string, fingerprint: string, leaseMs: number) => Promise<IdempotencyClaim>
  /** Turn the in-flight record into a completed one holding `response`, kept for `ttlMs`. */
  complete: (key: string, response: StoredResponse, ttlMs: number) => Promise<void>
  /** Drop the record (the forward ended without a response worth replaying). */
  release: (key: string) => Promise<void>
}

/**
 * Load shedding with @fastify/under-pressure, on this plugin's routes only (same option names).
 * A threshold of 0 turns that check off.
 */
export interface LoadSheddingOptions {
  /** Mean event-loop delay over a sample, ms. Default 1000. */
  maxEventLoopDelay?: number
  /** V8 heap used, bytes. Default 90% of the heap limit. */
  maxHeapUsedBytes?: number
  /** Resident set size, bytes. Default 90% of the container's memory limit (or of the host's memory). */
  maxRssBytes?: number
  /** Event-loop utilisation, 0 to 1. Default 0 (off). */
  maxEventLoopUtilization?: number
  /** The Retry-After of a shed request, seconds. Default 5. */
  retryAfter?: number
  /** How often the metrics are sampled, ms. Default 1000. */
  sampleInterval?: number
}

export interface CardForwardingOptions<Psps extends Record<string, PspAdapter<any>> = Record<string, PspAdapter<any>>> {
  allowedIps: string[]
  auth: AuthOptions
  resolvePaymentMethod: ResolvePaymentMethod<Psps>
  psps: Psps
  destinations: Record<string, DestinationOptions>
  /** Route path. Default /v1/initiate-payment-sharing */
  path?: string
  /** 'destination' (default) relays the destination's body; 'psp' relays the PSP's whole response body. */
  relay?: 'destination' | 'psp'
  /** Allow http:// destination URLs on loopback (sandbox only). PSP baseUrls and jwksUrl accept loopback http without it. Default false. */
  allowInsecureUrls?: boolean
  /** Register even though the host sets trustProxy to true or a hop count. Default false. */
  allowUnsafeTrustProxy?: boolean
  /** Route body limit in bytes. Default 8192. */
  bodyLimit?: number
  /** One event per outcome, also logged at info level under `audit`. */
  onAudit?: (event: AuditEvent) => void
  /** Called once per forward attempted, with the PSP's latency and outcome: feed your metrics. */
  onForward?: (event: ForwardMetric) => void
  /**
   * Where Idempotency-Keys and the per-reference in-flight locks are kept. Default: in memory
   * (`memoryIdempotencyStore()`, 10 000 keys), which is right for one instance only.
   */
  idempotencyStore?: IdempotencyStore
  /** How long a successful response is replayed to retries with the same Idempotency-Key, ms. Default 24 h. */
  idempotencyTtlMs?: number
  /**
   * Retries of a forward that carries an Idempotency-Key, only for faults raised before the
   * request was sent (connection refused, connect timeout, DNS). Default 2; 0 turns them off.
   * A forward without a key is never retried.
   */
  connectRetries?: number
  /** First pause before such a retry, doubled each time (with jitter), ms. Default 100. */
  connectRetryDelayMs?: number
  /** Shed load with 503 + Retry-After before any other work; `false` turns it off. */
  loadShedding?: LoadSheddingOptions | false
  /**
   * On close, how long forwards in progress may run before they are abandoned (aborted, audited
   * `forward_unknown`), ms. Default 8000: keep your orchestrator's (or close-with-grace's) delay above it.
   */
  shutdownGraceMs?: number
  /** Issue the tokens ourselves (see TokenEndpointOptions); `auth` then gives no key source. */
  tokenEndpoint?: TokenEndpointOptions
}
