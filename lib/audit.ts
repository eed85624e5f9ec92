import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { AuditEvent, AuditEventType } from '../types/index.ts'

const SUCCESS: ReadonlySet<AuditEventType> = new Set(['accepted', 'forward_ok', 'token_issued'])
// eslint-disable-next-line no-control-regex -- control characters are exactly what is matched
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g

/** A short, non-reversible handle for a reference: enough to correlate, not to recover it. */
export function hashReference (reference: string): string {
  return createHash('sha256').update(reference).digest('hex').slice(0, 16)
}

/**
 * Caller-influenced text (a forwarded address, a token's client id) bounded and with control
 * characters escaped, so it cannot forge lines in a plain-text audit sink. JSON logs escape again.
 */
export function auditText (value: unknown, max: number): string {
  return String(value).slice(0, max).replace(CONTROL, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Fastify logs each request's URL: ours go without the query string, where a misplaced token or secret could sit. */
export const requestLogSerializers = {
  req: (request: FastifyRequest) => ({ method: request.method, url: request.url.split('?')[0], remoteAddress: auditText(request.ip, 64) })
}

export interface AuditDetails {
  statusCode: number
  code?: string
  reason?: string
  actor?: string | null
  destination?: string
  /** hashReference(partnerPaymentReference), computed once per request */
  referenceHash?: string
  psp?: string
  correlationId?: string
  pspReference?: string
}

export type Audit = (request: FastifyRequest, event: AuditEventType, details: AuditDetails) => void

/** One structured event per outcome, to the partner's callback and to the log (PCI DSS 10.2.2 fields). */
export function createAuditor (onAudit: ((event: AuditEvent) => void) | undefined): Audit {
  return function audit (request, event, details) {
    const record: AuditEvent = {
      event,
      outcome: SUCCESS.has(event) ? 'success' : 'failure',
      time: new Date().toISOString(),
      requestId: auditText(request.id, 64),
      ip: auditText(request.ip, 64),
      statusCode: details.statusCode
    }
    if (details.code !== undefined) record.code = details.code
    if (details.reason !== undefined) record.reason = details.reason
    if (typeof details.actor === 'string') record.actor = auditText(details.actor, 128)
    if (details.destination !== undefined) record.destination = details.destination
    if (details.referenceHash !== undefined) record.referenceHash = details.referenceHash
    if (details.psp !== undefined) record.psp = details.psp
    if (details.correlationId !== undefined) record.correlationId = details.correlationId
    if (details.pspReference !== undefined) record.pspReference = auditText(details.pspReference, 128)
    request.log.info({ audit: record }, 'card-forwarding audit')
    if (onAudit !== undefined) {
      try {
        onAudit(record)
      } catch (err) {
        request.log.error({ err }, 'card-forwarding onAudit callback threw')
      }
    }
  }
}
