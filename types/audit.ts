export type AuditEventType =
  | 'accepted' | 'ip_denied' | 'auth_failed' | 'scope_denied' | 'validation_failed'
  | 'not_found' | 'forward_ok' | 'forward_failed' | 'forward_unknown' | 'duplicate_replayed'
  | 'internal_error' | 'token_issued' | 'token_denied' | 'store_unavailable'

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
  /** Why it did not (the PSP's error code, a transport fault…), as in the audit event */
  reason?: string
  /** The forward's correlation id (see AuditEvent.correlationId) */
  correlationId: string
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
  /** HMAC-SHA-256 of partnerPaymentReference under `referenceHashSecret`, 16 hex digits: never the reference itself */
  referenceHash?: string
  psp?: string
  statusCode: number
  code?: string
  /**
   * Why, as a fixed identifier, for operators (never sent to the caller): a refused token
   * (claim_missing:iss, claim_invalid:exp, token_lifetime…: README, Security) or a failed PSP call (connection_refused, headers_timeout, circuit_open…).
   */
  reason?: string
  /**
   * The forward's id at the PSP and in the audit log, once a PSP was chosen (accepted and every
   * forward_* event): give it to `reconcile`. Derived from the request, never customer data.
   */
  correlationId?: string
  /** The PSP's own id of a forward that failed, when its answer named one (Checkout.com's `fwd_…`): for `reconcile`. */
  pspReference?: string
}
