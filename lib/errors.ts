import createError from '@fastify/error'

export const UnauthorizedError = createError('CARD_FORWARDING_UNAUTHORIZED', 'Invalid or missing bearer token', 401)
export const IpNotAllowedError = createError('CARD_FORWARDING_IP_NOT_ALLOWED', 'Client address not allowed', 403)
export const InsufficientScopeError = createError('CARD_FORWARDING_INSUFFICIENT_SCOPE', 'Token lacks the required scope', 403)
export const PaymentMethodNotFoundError = createError('CARD_FORWARDING_PAYMENT_METHOD_NOT_FOUND', 'No payment method matches this reference and these identifiers', 404)
export const UnknownDestinationError = createError('CARD_FORWARDING_UNKNOWN_DESTINATION', 'Unknown destination', 422)
export const UnsupportedMediaTypeError = createError('CARD_FORWARDING_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', 415)
export const AuthUnavailableError = createError('CARD_FORWARDING_AUTH_UNAVAILABLE', 'Token keys are unavailable, retry later', 503)
/** The PSP refused, failed or answered garbage. The message names the PSP and its error code only. */
export const PspError = createError<'CARD_FORWARDING_PSP_ERROR', 502, [string, string, ErrorOptions?]>('CARD_FORWARDING_PSP_ERROR', '%s forward failed: %s', 502)
export const PspTimeoutError = createError<'CARD_FORWARDING_PSP_TIMEOUT', 504, [string, ErrorOptions?]>('CARD_FORWARDING_PSP_TIMEOUT', '%s did not answer in time', 504)

const SAFE_CODE = /^[A-Za-z0-9_.-]{1,64}$/

/** A PSP's own error code, kept only when it is a plain identifier: never free text that could hold a secret. */
export function safeCode (code: unknown): string {
  return typeof code === 'string' && SAFE_CODE.test(code) ? code : 'unknown'
}
