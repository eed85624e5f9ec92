import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { AuditEvent, AuditEventType } from '../types/index.ts'

/** A short, non-reversible handle for a reference: enough to correlate, not to recover it. */
export function hashReference (reference: string): string {
  return createHash('sha256').update(reference).digest('hex').slice(0, 16)
}

export interface AuditDetails {
  statusCode: number
  code?: string
  actor?: string | null
  destination?: string
  reference?: string
  psp?: string
}

/** One structured event per outcome, to the partner's callback and to the log (PCI DSS 10.2). */
export function createAuditor (onAudit: ((event: AuditEvent) => void) | undefined) {
  return function audit (request: FastifyRequest, event: AuditEventType, details: AuditDetails): void {
    const record: AuditEvent = {
      event,
      time: new Date().toISOString(),
      requestId: String(request.id),
      ip: request.ip,
      statusCode: details.statusCode
    }
    if (details.code !== undefined) record.code = details.code
    if (typeof details.actor === 'string') record.actor = details.actor
    if (details.destination !== undefined) record.destination = details.destination
    if (details.reference !== undefined) record.referenceHash = hashReference(details.reference)
    if (details.psp !== undefined) record.psp = details.psp
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
