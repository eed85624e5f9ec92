import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditEventType } from '../../types/index.ts'
import type { Audit } from '../audit.ts'
import {
  AuthUnavailableError, IdempotencyStoreUnavailableError, InsufficientScopeError, InternalError, IpNotAllowedError, isForwardFailure,
  PaymentMethodNotFoundError, tagFailure, UnauthorizedError, VaultTimeoutError, type Failure, type StoreFailure
} from '../errors.ts'
import { errorForLog } from '../logging.ts'
import { isAnswerable } from './error-codes.ts'
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
  // Nothing was forwarded: the store could not lock the request, or the resolver never answered.
  if (error instanceof IdempotencyStoreUnavailableError) return 'store_unavailable'
  if (error instanceof VaultTimeoutError) return 'forward_failed'
  // Outcome unknown: the PSP may have forwarded the card. Reconcile; a retry with the same key is safe.
  if (forwarding && isForwardFailure(error)) return error.outcome === 'unknown' ? 'forward_unknown' : 'forward_failed'
  return VALIDATION.has(statusCode) ? 'validation_failed' : null
}

/**
 * Only the route's own answers go out as they are; anything else (partner code that threw with
 * its own status or code, a library error, a bug) becomes one InternalError, logged with its cause.
 */
function answerFor (error: unknown, request: FastifyRequest): FastifyError & Failure {
  const known = error !== null && typeof error === 'object' && isAnswerable(error) ? error as FastifyError & Failure : null
  if (known !== null && known.statusCode !== 500) return known
  const internal: FastifyError & Failure = known ?? tagFailure(new InternalError({ cause: error }), { reason: 'unexpected_error' })
  request.log.error({ reason: internal.reason, error: errorForLog(internal) }, 'card-forwarding: internal error')
  return internal
}

/**
 * The route's error handler, and the one place that audits a failure: every step throws, and the
 * error (with the request's facts so far) says what it is audited as. The answer is Fastify's
 * error shape with one of the route's own codes (lib/route/error-codes.ts); a 500 never says why.
 */
export function createErrorHandler (audit: Audit) {
  return function handleError (thrown: unknown, request: FastifyRequest, reply: FastifyReply) {
    const error = answerFor(thrown, request)
    const { statusCode, code } = error as FastifyError & { statusCode: number }
    if ((error as Error) instanceof IdempotencyStoreUnavailableError) {
      const { operation, reason } = error as unknown as StoreFailure
      request.log.warn({ operation, reason }, 'card-forwarding: the idempotency store is unavailable')
    }
    const facts = factsOf(request)
    const event = auditEventOf(error, statusCode, facts.psp !== undefined)
    if (event !== null) audit(request, event, { ...facts, statusCode, code, reason: error.reason, pspReference: error.pspReference, actor: facts.actor ?? error.client })
    const message = statusCode !== 500 && OWN_MESSAGES.test(code) ? error.message : STATUS_CODES[statusCode] as string
    if (typeof error.retryAfter === 'number') reply.header('retry-after', String(error.retryAfter))
    reply.header('cache-control', 'no-store')
    reply.code(statusCode).send({ statusCode, code, error: STATUS_CODES[statusCode], message })
  }
}
