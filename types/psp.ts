import type { EventEmitter } from 'node:events'
import type { Dispatcher } from 'undici'
import type { VaultedPaymentMethodBase } from './vault.ts'

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

/** The destination's answer, as relayed by the PSP: the route's 200 body (README, "Response and error contract"). */
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

/** The destination's answer as a PSP relays it: a status, headers in any of the PSPs' shapes, a body. */
export interface DestinationAnswer { status: number, headers?: unknown, body?: unknown }

export interface ForwardInput<TRecord> {
  record: TRecord & VaultedPaymentMethodBase
  destination: PreparedDestination
  /** Present only when Rokt sent an Idempotency-Key: already derived, at most 64 characters. */
  idempotencyKey?: string
  /**
   * Names this forward at the PSP, where it has a field for it (Stripe `metadata`, Adyen
   * `merchantReference`, Checkout.com `reference`, Braintree's `Trace-Id` header), and in the
   * audit events and the `onForward` metric: `reconcile` finds the forward by it. `rcf_` and 32
   * hex digits, derived from the PSP idempotency key (so Rokt's retries with one Idempotency-Key
   * share it), else random. Never customer data.
   */
  correlationId: string
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
  /**
   * Forward the card; throw PspError (502) or PspTimeoutError (504) on failure. The PspError's
   * code (an identifier such as the PSP's error code) is the audit event's `reason`.
   */
  forward: (input: ForwardInput<TRecord>) => Promise<ForwardResult>
  /**
   * Asks the PSP whether the forward named by `correlationId` happened and what the destination
   * answered (`npx fastify-rokt-card-forwarding reconcile`). Optional: without it, the PSP's
   * dashboard or support is the only way to tell.
   */
  reconcile?: (correlationId: string, options?: ReconcileOptions) => Promise<ReconcileResult>
  /**
   * What the PSP must be told or hold for this destination beyond its details (a secret to
   * register, a format to ask for), as short lines: `doctor` prints them. Optional.
   */
  onboarding?: (destination: PreparedDestination) => string[]
  /** Close the adapter's dispatcher; called once when the app closes. */
  close?: () => Promise<void>
  /** @internal phantom type carrying the record shape */
  readonly __record?: TRecord
}

export interface ReconcileOptions {
  /** The PSP's own id of the forward (Checkout.com `fwd_…`, from the audit event's `pspReference`), for PSPs that look forwards up only by it. */
  pspReference?: string
  /** Search forwards created from this time on. Default: 24 hours ago. */
  since?: Date
  /** …and up to this time. Default: now. */
  until?: Date
  signal?: AbortSignal
}

/** One forward the PSP has a record of. */
export interface ReconciledForward {
  /** The PSP's id of the forward (Stripe `fwdreq_…`, Checkout.com `fwd_…`). */
  pspReference: string
  /** When the PSP created it (ISO-8601, UTC). */
  createdAt: string
  /** The destination's answer, when the PSP recorded one (absent: the destination never answered). */
  destination?: { status: number, headers: Record<string, string>, body: unknown }
}

/**
 * What the PSP says: `found` (it has these forwards: each says whether the destination
 * answered), `not_found` (none in what was searched), `cannot_tell` (it has no lookup for this;
 * `how` says what can tell: a webhook, the dashboard, support).
 */
export type ReconcileResult =
  | { outcome: 'found', forwards: ReconciledForward[] }
  | { outcome: 'not_found', searched: string }
  | { outcome: 'cannot_tell', how: string }

/** A destination as the partner configures it under `destinations`. */
export interface DestinationOptions {
  url: string
  headers?: Record<string, string>
  body?: BodyTemplate
}

export interface PspTimeouts {
  /** TCP + TLS connect, ms. Default 3000. */
  connectMs?: number
  /** Until the PSP's response headers, ms. Default 20000 (PSPs allow the destination 15 s or more). */
  headersMs?: number
  /** Between body chunks, ms. Default 10000. */
  bodyMs?: number
}

export interface CircuitBreakerOptions {
  /** Consecutive failures (PSP 5xx, timeouts, transport errors; never a PSP 4xx) that open the circuit. Default 5. */
  failureThreshold?: number
  /** How long an open circuit fails fast before it lets one half-open probe through, ms. Default 30000. */
  coolDownMs?: number
}

/** How an adapter reaches its PSP: the options every adapter (and `createPspClient`) takes. */
export interface PspTransportOptions {
  /** Origin (and optional base path) of the PSP API: https, or http on a loopback address (the sandbox). Each adapter has its PSP's default. */
  baseUrl?: string
  timeouts?: PspTimeouts
  /** A dispatcher of the partner's (a proxy agent, say); otherwise one undici Agent per adapter. */
  dispatcher?: Dispatcher
  /** Fail fast (503) after consecutive PSP failures; `false` turns it off. Default 5 failures, 30 s cool-down. */
  circuitBreaker?: CircuitBreakerOptions | false
}

export interface PspClientOptions extends PspTransportOptions {
  /** The PSP's name, for error messages */
  psp: string
  baseUrl: string
  /** Largest PSP response accepted, bytes. Default 1 MiB. */
  maxResponseBytes?: number
  /** Connections kept to the PSP. Default 64. */
  connections?: number
}

/**
 * What aborts a PSP call: an AbortSignal, or what undici takes in its place, an EventEmitter that
 * emits `abort` and has `aborted` and `reason` (the route gives the built-in adapters one: it is
 * cheaper to make than an AbortSignal).
 */
export type PspAbortSignal = AbortSignal | (EventEmitter & { readonly aborted: boolean, readonly reason: unknown })

export interface PspRequest {
  headers: Record<string, string>
  body?: string
  signal?: PspAbortSignal
}

export interface PspResponse {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  /** Parsed JSON */
  body: unknown
  durationMs: number
}

/** The transport an adapter calls its PSP through: PSP faults come back as 502/503/504 errors tagged with why. */
export interface PspClient {
  post: (path: string, request: PspRequest) => Promise<PspResponse>
  get: (path: string, request: PspRequest) => Promise<PspResponse>
  close: () => Promise<void>
}
