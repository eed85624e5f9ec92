import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { AuditEvent, AuditEventType } from '../types/index.ts'
import { createDelivery } from './partner-callback.ts'
import { auditText } from './redact.ts'

const SUCCESS: ReadonlySet<AuditEventType> = new Set(['accepted', 'forward_ok', 'token_issued'])

/** A short, non-reversible handle for a reference: enough to correlate, not to recover it. */
export function hashReference (reference: string): string {
  return createHash('sha256').update(reference).digest('hex').slice(0, 16)
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
}

export type Audit = (request: FastifyRequest, event: AuditEventType, details: AuditDetails) => void

/** One structured event per outcome, to the log and to the partner's callback (PCI DSS 10.2.2 fields); the callback can never hold up or change an answer. */
export function createAuditor (onAudit: ((event: AuditEvent) => unknown) | undefined): Audit {
  const deliver = createDelivery('onAudit', onAudit)
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
    request.log.info({ audit: record }, 'card-forwarding audit')
    deliver(record, request.log)
  }
}
