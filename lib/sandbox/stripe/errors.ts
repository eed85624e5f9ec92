import type { DestinationUnreachableError } from '../outbound.ts'
import { UPSTREAM_402_SINCE } from './versions.ts'
import type { StripeErrorObject } from './wire.ts'

/** Stripe's error envelope `{ error: StripeErrorObject }`, and the errors the simulator answers with. */

export class StripeApiError extends Error {
  readonly status: number
  readonly detail: StripeErrorObject
  constructor (status: number, detail: StripeErrorObject) {
    super(detail.message)
    this.status = status
    this.detail = detail
  }
}

export function invalidRequest (status: number, message: string, code?: string, param?: string): StripeApiError {
  const detail: StripeErrorObject = { type: 'invalid_request_error', message }
  if (code !== undefined) {
    detail.code = code
    detail.doc_url = `https://stripe.com/docs/error-codes/${code.replaceAll('_', '-')}`
  }
  if (param !== undefined) detail.param = param
  return new StripeApiError(status, detail)
}

export const missing = (param: string) => invalidRequest(400, `Missing required param: ${param}.`, 'parameter_missing', param)
export const unknownParam = (param: string) => invalidRequest(400, `Received unknown parameter: ${param}`, 'parameter_unknown', param)
export const emptyParam = (param: string) => invalidRequest(400,
  `You passed an empty string for '${param}'. We assume empty values are an attempt to unset a parameter; ` +
  `however '${param}' cannot be unset. You should remove '${param}' from your request or supply a non-empty value.`,
  'parameter_invalid_empty', param)
export const invalidType = (param: string, kind: 'string' | 'array' | 'hash') =>
  invalidRequest(400, `Invalid ${kind}: ${param} must be a${kind === 'array' ? 'n' : ''} ${kind}`, undefined, param)
export const forwardingInvalid = (param: string, message: string) => invalidRequest(400, message, 'forwarding_api_invalid_parameter', param)

/** Stripe shows a wrong key with everything but its prefix and last four characters masked. */
export function maskApiKey (key: string): string {
  const m = /^([a-z]{2}_(?:test|live)_)(.{8,})$/s.exec(key)
  return m ? m[1] + '*'.repeat(m[2].length - 4) + m[2].slice(-4) : '*'.repeat(key.length)
}

/**
 * Maps a failure to reach the destination to Stripe's answer under API version `version` (its date).
 *
 * Source: Stripe changelog 2025-03-31.basil, "Updates the Vault and Forward API to return a 402
 * status code for upstream request timeouts": from that version a timeout *before Stripe
 * establishes a connection* answers 402 (safe to retry); "Previously, the Vault and Forward API
 * returned a 502 or 504 error for any errors with the upstream destination endpoint", and "Stripe
 * continues returning 502 or 504 errors for all other upstream errors". Hence: connect timeout ->
 * 402 (basil and later) or 504 (earlier), any later timeout -> 504, connection refused, reset or TLS
 * failure -> 502. The codes are stripe-node's `forwarding_api_upstream_connection_timeout` and
 * `forwarding_api_upstream_connection_error`. Not documented: the error `type` of these; assumed
 * `api_error` (the type Stripe uses for failures on its side of the request).
 */
export function upstreamFailure (err: DestinationUnreachableError, version: string = UPSTREAM_402_SINCE): { status: number, error: StripeErrorObject } {
  const code = (err.cause as { code?: unknown }).code
  if (code === 'UND_ERR_CONNECT_TIMEOUT' && version >= UPSTREAM_402_SINCE) {
    const message = 'Timed out connecting to the destination. No data was sent; the request can be retried.'
    return { status: 402, error: { type: 'api_error', code: 'forwarding_api_upstream_connection_timeout', message } }
  }
  if (err.timedOut) {
    return {
      status: 504,
      error: { type: 'api_error', code: 'forwarding_api_upstream_connection_timeout', message: 'The destination did not answer in time.' }
    }
  }
  return {
    status: 502,
    error: { type: 'api_error', code: 'forwarding_api_upstream_connection_error', message: 'Could not connect to the destination.' }
  }
}
