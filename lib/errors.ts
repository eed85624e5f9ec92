import createError from '@fastify/error'

// The edge refusals carry no stack trace: they are expected answers, never logged as faults, and an
// unauthenticated flood should cost as little as possible (capturing one was ~5% of a rejection's CPU).
export const UnauthorizedError = createError('CARD_FORWARDING_UNAUTHORIZED', 'Invalid or missing bearer token', 401, Error, false)
export const IpNotAllowedError = createError('CARD_FORWARDING_IP_NOT_ALLOWED', 'Client address not allowed', 403, Error, false)
export const InsufficientScopeError = createError('CARD_FORWARDING_INSUFFICIENT_SCOPE', 'Token lacks the required scope', 403, Error, false)
export const PaymentMethodNotFoundError = createError('CARD_FORWARDING_PAYMENT_METHOD_NOT_FOUND', 'No payment method matches this reference and these identifiers', 404)
export const UnknownDestinationError = createError('CARD_FORWARDING_UNKNOWN_DESTINATION', 'Unknown destination', 422)
export const UnsupportedMediaTypeError = createError('CARD_FORWARDING_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', 415)
export const AuthUnavailableError = createError('CARD_FORWARDING_AUTH_UNAVAILABLE', 'Token keys are unavailable, retry later', 503)
const PspErrorBase = createError<'CARD_FORWARDING_PSP_ERROR', 502, [string, string, ErrorOptions?]>('CARD_FORWARDING_PSP_ERROR', '%s forward failed: %s', 502)
const PspTimeoutErrorBase = createError<'CARD_FORWARDING_PSP_TIMEOUT', 504, [string, ErrorOptions?]>('CARD_FORWARDING_PSP_TIMEOUT', '%s did not answer in time', 504)

/**
 * The PSP refused, failed or answered garbage. The message names the PSP and its error code only,
 * and the code is the failure's audit `reason`: every adapter, custom ones included, gets a reason
 * by throwing `new PspError(name, code)`. A code that is not a plain identifier becomes `unknown`,
 * so free text from a PSP (which may quote a key or a card) never reaches the caller or a log.
 */
export class PspError extends PspErrorBase {
  reason: string
  constructor (psp: string, code: string, options?: ErrorOptions) {
    const reason = safeCode(code)
    // The base formats every argument it is given: pass options only when there are some.
    if (options === undefined) super(psp, reason)
    else super(psp, reason, options)
    this.reason = reason
  }
}

/** The PSP did not answer in time. Its audit `reason` is `timeout` unless the transport names the timeout. */
export class PspTimeoutError extends PspTimeoutErrorBase {
  reason: string
  constructor (psp: string, options?: ErrorOptions) {
    if (options === undefined) super(psp)
    else super(psp, options)
    this.reason = 'timeout'
  }
}
/** The PSP's circuit is open after consecutive failures: answered at once, nothing sent. Retry-After says when to come back. */
export const PspUnavailableError = createError<'CARD_FORWARDING_PSP_UNAVAILABLE', 503, [string]>('CARD_FORWARDING_PSP_UNAVAILABLE', '%s is unavailable, retry later', 503)
export const InvalidIdempotencyKeyError = createError<'CARD_FORWARDING_INVALID_IDEMPOTENCY_KEY', 400>('CARD_FORWARDING_INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 printable ASCII characters', 400)
export const IdempotencyKeyReusedError = createError<'CARD_FORWARDING_IDEMPOTENCY_KEY_REUSED', 422>('CARD_FORWARDING_IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with a different body', 422)
export const RequestInProgressError = createError<'CARD_FORWARDING_REQUEST_IN_PROGRESS', 409>('CARD_FORWARDING_REQUEST_IN_PROGRESS', 'A forward for this reference or Idempotency-Key is already in progress', 409)
export const ShuttingDownError = createError<'CARD_FORWARDING_SHUTTING_DOWN', 503, [ErrorOptions?]>('CARD_FORWARDING_SHUTTING_DOWN', 'The server is shutting down, retry with the same Idempotency-Key', 503)

/** An RFC 6749 §5.2 refusal of the token endpoint: its body is `{ error }`, never a library message. */
export class OAuthError extends Error {
  statusCode: number
  error: string
  constructor (statusCode: number, error: string) {
    super(error)
    this.statusCode = statusCode
    this.error = error
  }
}

/**
 * What a PSP call that threw tells us about the forward: `not_sent` (no byte of the request left,
 * so nothing was forwarded) or `unknown` (the PSP may have forwarded the card). Errors an adapter
 * raises from a PSP answer carry neither: the PSP said it failed.
 */
export type PspOutcome = 'not_sent' | 'unknown'

/** What a failure carries besides its code: for the audit log and the answer's headers, never sent as text. */
export interface FailureDetails {
  /** A short fixed identifier of why, e.g. connection_refused, headers_timeout, FAST_JWT_EXPIRED. */
  reason?: string
  outcome?: PspOutcome
  /** Seconds the caller should wait before retrying (sent as Retry-After). */
  retryAfter?: number
  /** The verified client a refusal concerns, once the token is verified. */
  client?: string
  /** The PSP's own id of a forward it answered for (Checkout.com's `fwd_…`), for reconciliation. */
  pspReference?: string
}

export type Failure<E extends Error = Error> = E & FailureDetails

/** Tags an error with its failure details: the one way every module does it. */
export function tagFailure<E extends Error> (error: E, details: FailureDetails): Failure<E> {
  return Object.assign(error, details)
}

/** The failures of a forward that are already the plugin's own answer (any other error of an adapter is wrapped). */
export function isForwardFailure (error: unknown): error is Failure<Error & { code: string, statusCode: number }> {
  return error instanceof PspError || error instanceof PspTimeoutError || error instanceof PspUnavailableError || error instanceof ShuttingDownError
}

const SAFE_CODE = /^[A-Za-z0-9_.-]{1,64}$/

/** A PSP's own error code, kept only when it is a plain identifier: never free text that could hold a secret. */
export function safeCode (code: unknown): string {
  return typeof code === 'string' && SAFE_CODE.test(code) ? code : 'unknown'
}
