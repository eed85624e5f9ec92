import createError from '@fastify/error'
import { maskPans } from './redact.ts'

// The edge refusals carry no stack trace: they are expected answers, never logged as faults, and an
// unauthenticated flood should cost as little as possible (capturing one was ~5% of a rejection's CPU).
export const UnauthorizedError = createError('CARD_FORWARDING_UNAUTHORIZED', 'Invalid or missing bearer token', 401, Error, false)
export const IpNotAllowedError = createError('CARD_FORWARDING_IP_NOT_ALLOWED', 'Client address not allowed', 403, Error, false)
export const InsufficientScopeError = createError('CARD_FORWARDING_INSUFFICIENT_SCOPE', 'Token lacks the required scope', 403, Error, false)
export const PaymentMethodNotFoundError = createError('CARD_FORWARDING_PAYMENT_METHOD_NOT_FOUND', 'No payment method matches this reference and these identifiers', 404)
export const UnknownDestinationError = createError('CARD_FORWARDING_UNKNOWN_DESTINATION', 'Unknown destination', 422)
export const UnsupportedMediaTypeError = createError('CARD_FORWARDING_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', 415)
/** Anything that is not one of the plugin's own answers (a resolver or store that threw, a bug): never says why. */
export const InternalError = createError<'CARD_FORWARDING_INTERNAL_ERROR', 500, [ErrorOptions?]>('CARD_FORWARDING_INTERNAL_ERROR', 'Internal Server Error', 500)
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
/** The idempotency store failed, timed out or answered garbage: nothing is forwarded that cannot be locked. */
export const IdempotencyStoreUnavailableError = createError<'CARD_FORWARDING_STORE_UNAVAILABLE', 503, []>('CARD_FORWARDING_STORE_UNAVAILABLE', 'The idempotency store is unavailable, retry later', 503)
/** resolvePaymentMethod did not settle before the forward's deadline: no PSP was called. */
export const VaultTimeoutError = createError<'CARD_FORWARDING_VAULT_TIMEOUT', 504, []>('CARD_FORWARDING_VAULT_TIMEOUT', 'The payment method lookup did not finish in time', 504)

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
  /** A short fixed identifier of why, e.g. connection_refused, headers_timeout, claim_invalid:exp. */
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

export type StoreOperation = 'begin' | 'complete' | 'release'

/** What a failed store call tells the logs: the operation and a reason code, never a key, a value or the store's message. */
export type StoreFailure = Failure<InstanceType<typeof IdempotencyStoreUnavailableError>> & { operation: StoreOperation }

const REASON_WORD = /^[A-Z]{2,20}(?= |$)/
const REASON_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/

/**
 * A reason safe to log for a store's error: a Redis error code (ERR, NOSCRIPT, OOM, READONLY...),
 * the error's class name (ioredis' MaxRetriesPerRequestError, node-redis' ClientOfflineError), a
 * system code (ECONNREFUSED), or a few known messages. Never the message itself: a client's error
 * can carry the command's arguments.
 */
export function storeReason (err: unknown): string {
  if (!(err instanceof Error)) return 'error'
  const word = REASON_WORD.exec(err.message)?.[0]
  if (word !== undefined) return word
  const name = err.name !== 'Error' ? err.name : err.constructor?.name
  if (name !== undefined && name !== 'Error' && REASON_NAME.test(name)) return name
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && REASON_NAME.test(code)) return code
  if (err.message.startsWith('Connection is closed')) return 'connection_closed'
  if (err.message.includes('enableOfflineQueue')) return 'offline'
  if (err.message.startsWith('Command timed out')) return 'command_timeout'
  return 'error'
}

/**
 * The 503 for a store call that failed with `cause` (or for a reason of our own, such as a
 * timeout); the store's own 503 passes through, completed with what the route needs.
 */
export function storeUnavailable (operation: StoreOperation, cause: unknown, reason = storeReason(cause)): StoreFailure {
  const failure = (cause instanceof IdempotencyStoreUnavailableError ? cause : new IdempotencyStoreUnavailableError()) as StoreFailure
  failure.operation ??= operation
  failure.reason ??= reason
  failure.retryAfter ??= 1
  return failure
}

const SAFE_CODE = /^[A-Za-z0-9_.-]{1,64}$/

/** A PSP's own error code, kept only when it is a plain identifier: never free text that could hold a secret, nor a card number. */
export function safeCode (code: unknown): string {
  return typeof code === 'string' && SAFE_CODE.test(code) && maskPans(code) === code ? code : 'unknown'
}
