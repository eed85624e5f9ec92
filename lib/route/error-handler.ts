import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditEventType } from '../../types/index.ts'
import type { Audit } from '../audit.ts'
import {
  AuthUnavailableError, InsufficientScopeError, IpNotAllowedError, isForwardFailure, PaymentMethodNotFoundError, UnauthorizedError, type Failure
} from '../errors.ts'
import { factsOf } from './facts.ts'

/** Errors whose own message is safe and useful to send; everything else gets its status text. */
const OWN_MESSAGES = /^(?:CARD_FORWARDING_|FST_ERR_VALIDATION$|FST_UNDER_PRESSURE$)/
const VALIDATION = new Set([400, 409, 413, 415, 422])

/** What a failure is audited as; null for answers that are not a caller's or a forward's failure (load shedding, shutdown at the door). */
function auditEventOf (error: Failure, statusCode: number, forwarding: boolean): AuditEventType | null {
  if (statusCode === 500) return 'internal_error'
  if (error instanceof IpNotAllowedError) return 'ip_denied'
  if (error instanceof InsufficientScopeError) return 'scope_denied'
  if (error instanceof UnauthorizedError || error instanceof AuthUnavailableError) return 'auth_failed'
  if (error instanceof PaymentMethodNotFoundError) return 'not_found'
  // Outcome unknown: the PSP may have forwarded the card. Reconcile; a retry with the same key is safe.
  if (forwarding && isForwardFailure(error)) return error.outcome === 'unknown' ? 'forward_unknown' : 'forward_failed'
  return VALIDATION.has(statusCode) ? 'validation_failed' : null
}

/**
 * The route's error handler, and the one place that audits a failure: every step throws, and the
 * error (with the request's facts so far) says what it is audited as. The answer is Fastify's
 * error shape with the plugin's own code; a 500 never says why.
 */
export function createErrorHandler (audit: Audit) {
  return function handleError (error: FastifyError & Failure, request: FastifyRequest, reply: FastifyReply) {
    let statusCode = error.statusCode ?? 500
    if (statusCode < 400 || statusCode > 599) statusCode = 500
    const code = statusCode === 500 ? 'CARD_FORWARDING_INTERNAL_ERROR' : error.code
    if (statusCode === 500) request.log.error({ err: error }, 'card-forwarding: unexpected error')
    const facts = factsOf(request)
    const event = auditEventOf(error, statusCode, facts.psp !== undefined)
    if (event !== null) audit(request, event, { ...facts, statusCode, code, reason: error.reason, pspReference: error.pspReference, actor: facts.actor ?? error.client })
    const message = statusCode !== 500 && OWN_MESSAGES.test(code) ? error.message : STATUS_CODES[statusCode] as string
    if (typeof error.retryAfter === 'number') reply.header('retry-after', String(error.retryAfter))
    reply.code(statusCode).send({ statusCode, code, error: STATUS_CODES[statusCode], message })
  }
}
