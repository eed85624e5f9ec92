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

export interface AuthOptions {
  /** Pinned JWKS URL (https). Exactly one of jwksUrl, publicKey, secret. */
  jwksUrl?: string
  /** PEM public key (SPKI or PKCS#1) */
  publicKey?: string
  /** HMAC secret, at least 32 bytes */
  secret?: string
  issuer: string
  audience: string
  /** Defaults to the one algorithm the key type implies. */
  algorithms?: string[]
  requiredScope?: string
  /** Refuse tokens whose iat is older than this. Default 900. */
  maxTokenAgeSeconds?: number
  /** Leeway for exp, nbf and iat. Default 30, at most 60. */
  clockToleranceSeconds?: number
  /** Required JWT `typ` header (compared case-insensitively, `application/` prefix ignored). */
  typ?: string
  /** Claims that must be present besides exp, iss and aud. */
  requiredClaims?: string[]
  /** JWKS fetch timeout in ms. Default 2500. */
  jwksTimeoutMs?: number
}

export type AuditEventType =
  | 'accepted' | 'ip_denied' | 'auth_failed' | 'scope_denied' | 'validation_failed'
  | 'not_found' | 'forward_ok' | 'forward_failed' | 'forward_unknown' | 'duplicate_replayed'

export interface AuditEvent {
  event: AuditEventType
  /** UTC ISO-8601 */
  time: string
  requestId: string
  ip: string
  /** client_id or sub of the verified token, when known */
  actor?: string
  destination?: string
  /** A short SHA-256 of partnerPaymentReference, never the reference itself */
  referenceHash?: string
  psp?: string
  statusCode: number
  code?: string
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
  /** Allow http:// destination and PSP URLs (sandbox only). Default false. */
  allowInsecureUrls?: boolean
  /** Register even though the host sets trustProxy to true or a hop count. Default false. */
  allowUnsafeTrustProxy?: boolean
  /** Route body limit in bytes. Default 8192. */
  bodyLimit?: number
  onAudit?: (event: AuditEvent) => void
}
