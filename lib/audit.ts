import { createHmac, createSecretKey, randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { AuditEvent, AuditEventType } from '../types/index.ts'
import { createDelivery } from './partner-callback.ts'
import { auditText } from './redact.ts'

const SUCCESS: ReadonlySet<AuditEventType> = new Set(['accepted', 'forward_ok', 'token_issued'])

/** The least length of `referenceHashSecret`, and the length of the one generated when it is not given. */
export const MIN_REFERENCE_SECRET_BYTES = 32

/**
 * A short handle for a reference, to correlate audit events: HMAC-SHA-256 under a per-deployment
 * secret, first 64 bits. References are often guessable order numbers, so an unkeyed hash would
 * give them away by enumeration; without the secret this one cannot be recomputed. No secret
 * given: one is generated here, so hashes agree within this process only.
 */
export function createReferenceHasher (secret: string | Buffer = randomBytes(MIN_REFERENCE_SECRET_BYTES)): (reference: string) => string {
  // A KeyObject made once: HMAC from a key given as bytes re-imports the key on every call.
  const key = createSecretKey(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret)
  return reference => createHmac('sha256', key).update(reference).digest('hex').slice(0, 16)
}

/** The current second's ISO 8601 text up to its milliseconds ("2026-12-03T11:16:08."), and which second that is. */
let isoSecond = -1
let isoPrefix = ''
/** The last time a Date can hold, in ms (ECMA-262's TimeClip). */
const MAX_TIME = 8.64e15

/**
 * `new Date().toISOString()`, formatted once per second: V8 formats a date through printf, a
 * tenth of the instructions of an audit event (BENCHMARKS.md, "Instructions per forward").
 */
export function isoNow (now = Date.now()): string {
  // Before 1970, past Date's range (8.64e15 ms: its RangeError) or not a whole millisecond: never
  // Date.now(), formatted by Date.
  if (!Number.isInteger(now) || now < 0 || now > MAX_TIME) return new Date(now).toISOString()
  const ms = now % 1000
  if (now - ms !== isoSecond) {
    isoPrefix = new Date(now - ms).toISOString().slice(0, -4)
    isoSecond = now - ms
  }
  return `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`
}

export interface AuditDetails {
  statusCode: number
  code?: string
  reason?: string
  actor?: string | null
  destination?: string
  /** The keyed hash of partnerPaymentReference (createReferenceHasher), computed once per request */
  referenceHash?: string
  psp?: string
  correlationId?: string
  pspReference?: string
}

export interface Audit {
  (request: FastifyRequest, event: AuditEventType, details: AuditDetails): void
  /** False when an event would reach no one (no onAudit, and the request's logger is off or above info): nothing to build. */
  listening: (request: FastifyRequest) => boolean
}

/**
 * One structured event per outcome, to the log and to the partner's callback (PCI DSS 10.2.2
 * fields); the callback can never hold up or change an answer. `hostLogs`: the host has a logger
 * (Fastify's is a no-op without one).
 */
export function createAuditor (onAudit: ((event: AuditEvent) => unknown) | undefined, hostLogs: boolean): Audit {
  const deliver = createDelivery('onAudit', onAudit)
  // A logger without isLevelEnabled (a custom loggerInstance) is taken to log info.
  const listening = onAudit !== undefined
    ? () => true
    : hostLogs ? (request: FastifyRequest) => (request.log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') ?? true : () => false
  audit.listening = listening
  return audit

  function audit (request: FastifyRequest, event: AuditEventType, details: AuditDetails): void {
    if (!listening(request)) return
    const record: AuditEvent = {
      event,
      outcome: SUCCESS.has(event) ? 'success' : 'failure',
      time: isoNow(),
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
    deliver(record, request.log)
  }
}
