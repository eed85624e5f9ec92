import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { ForwardMetric, ForwardResult, PaymentSharingRequest, PspAdapter, VaultedPaymentMethodBase } from '../../types/index.ts'
import { hashReference, type Audit } from '../audit.ts'
import { isForwardFailure, PaymentMethodNotFoundError, PspError, UnknownDestinationError, type Failure } from '../errors.ts'
import type { ResolvedOptions } from '../options/index.ts'
import { retryBeforeSend } from '../psp/retry.ts'
import { correlationIdOf } from './correlation.ts'
import { factsOf, setFacts, type RequestFacts } from './facts.ts'
import { identifiersMatch } from './identifiers.ts'
import { readIdempotencyKey, type createIdempotency } from './idempotency.ts'
import type { registerShutdown } from './shutdown.ts'

export interface ForwardParts {
  options: ResolvedOptions
  audit: Audit
  idempotency: ReturnType<typeof createIdempotency>
  shutdown: ReturnType<typeof registerShutdown>
}

type Request = FastifyRequest<{ Body: PaymentSharingRequest }>

/**
 * The route's handler: destination, idempotency, vault lookup, PSP call, relay. Each step throws
 * its failure; the error handler audits it with the request's facts.
 */
export function createForwardHandler ({ options, audit, idempotency, shutdown }: ForwardParts) {
  const { adapters, destinations, relay, resolvePaymentMethod, retry, onForward } = options

  return async function forward (request: Request, reply: FastifyReply) {
    const body = request.body
    const facts = setFacts(request, { actor: factsOf(request).actor, destination: body.destination, referenceHash: hashReference(body.partnerPaymentReference) })
    const destination = destinations.get(body.destination)
    if (destination === undefined) throw new UnknownDestinationError()
    const entry = await idempotency.enter(facts.actor ?? '', readIdempotencyKey(request.headers['idempotency-key']), body)
    if (entry.replay !== undefined) {
      audit(request, 'duplicate_replayed', { ...facts, statusCode: entry.replay.statusCode })
      reply.header('idempotent-replayed', 'true')
      return reply.code(entry.replay.statusCode).send(entry.replay.body)
    }
    try {
      const { adapter, record } = await lookUp(request)
      facts.psp = adapter.name
      const correlationId = facts.correlationId = correlationIdOf(entry.pspKey)
      audit(request, 'accepted', { ...facts, statusCode: 200 })
      // Without an Idempotency-Key a forward is never retried.
      const retries = entry.pspKey === undefined ? 0 : retry.retries
      const result = await callPsp(request, facts, adapter, signal => retryBeforeSend(
        () => adapter.forward({ record, destination, idempotencyKey: entry.pspKey, correlationId, signal }),
        { retries, baseDelayMs: retry.baseDelayMs, signal }))
      audit(request, 'forward_ok', { ...facts, statusCode: 200 })
      const response = { status: result.status, headers: result.headers, body: relay === 'psp' ? result.pspBody : result.body, 'request-time': result.requestTime }
      await entry.succeed({ statusCode: 200, body: response }).catch(err => request.log.error({ err }, 'card-forwarding: could not store the idempotent response'))
      return response
    } finally {
      await entry.leave().catch(err => request.log.error({ err }, 'card-forwarding: could not release the idempotency lock'))
    }
  }

  /** The vault record and its adapter; 404 (the same for every miss) unless both exist and the identifiers match. */
  async function lookUp (request: Request): Promise<{ adapter: PspAdapter<any>, record: VaultedPaymentMethodBase & Record<string, unknown> }> {
    const record = await resolvePaymentMethod(request.body, request)
    const adapter = record == null ? undefined : adapters.get(record.psp)
    if (record != null && adapter === undefined) request.log.error('card-forwarding: the vault record names a PSP that is not registered')
    if (adapter === undefined || !adapter.isRecord(record as any) || !identifiersMatch(request.body.customerIdentifiers, record?.customerIdentifiers)) {
      throw new PaymentMethodNotFoundError()
    }
    return { adapter, record: record as any }
  }

  /** The PSP call under shutdown's signal, reported to onForward; any error that is not a forward failure is the adapter's fault (502). */
  async function callPsp (request: Request, facts: RequestFacts, adapter: PspAdapter<any>, call: (signal: AbortSignal) => Promise<ForwardResult>): Promise<ForwardResult> {
    const base = { psp: adapter.name, destination: facts.destination as string, correlationId: facts.correlationId as string }
    const started = performance.now()
    try {
      const result = await shutdown.track(call)
      metric(request, { ...base, outcome: 'ok', durationMs: performance.now() - started, statusCode: 200, destinationStatus: result.status })
      return result
    } catch (err) {
      const failure: Failure<FastifyError & { statusCode: number }> = isForwardFailure(err) ? err : new PspError(base.psp, 'adapter_error', { cause: err })
      const outcome = failure.outcome === 'unknown' ? 'unknown' : 'failed'
      metric(request, { ...base, outcome, durationMs: performance.now() - started, statusCode: failure.statusCode, code: failure.code, reason: failure.reason })
      throw failure
    }
  }

  /** Per-PSP latency and outcome for the partner's metrics; a throwing callback never changes the answer. */
  function metric (request: Request, event: ForwardMetric): void {
    if (onForward === undefined) return
    try {
      onForward(event)
    } catch (err) {
      request.log.error({ err }, 'card-forwarding: onForward callback threw')
    }
  }
}
