import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { ForwardMetric, ForwardResult, PaymentSharingRequest, PspAdapter, VaultedPaymentMethodBase } from '../../types/index.ts'
import type { Audit } from '../audit.ts'
import { InternalError, isForwardFailure, PaymentMethodNotFoundError, PspError, ShuttingDownError, tagFailure, UnknownDestinationError, type Failure } from '../errors.ts'
import { errorForLog } from '../logging.ts'
import type { ResolvedOptions } from '../options/index.ts'
import { createDelivery, type Deliver } from '../partner-callback.ts'
import { withSource } from '../psp/abort-source.ts'
import { retryBeforeSend } from '../psp/retry.ts'
import { relayedAnswer, type SendableAnswer } from './answer.ts'
import { correlationIdOf } from './correlation.ts'
import { pspDeadline, startDeadline, vaultTimeout, type Deadline } from './deadline.ts'
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

const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * The route's handler: destination, idempotency, vault lookup, PSP call, relay. Each step throws
 * its failure; the error handler audits it with the request's facts.
 */
export function createForwardHandler ({ options, audit, idempotency, shutdown }: ForwardParts) {
  const { adapters, destinations, relay, resolvePaymentMethod, retry, hashReference } = options
  const { forwardTimeoutMs } = options.idempotency
  const reportForward = options.onForward === undefined ? null : createDelivery('onForward', options.onForward)

  return async function forward (request: Request, reply: FastifyReply) {
    // Every answer concerns one card: no cache may keep it (RFC 9111 §5.2.2.5). The error handler says the same.
    reply.header('cache-control', 'no-store')
    const body = request.body
    // Events no one hears are not built (the error handler's audit makes the same check).
    const auditing = audit.listening(request)
    const referenceHash = auditing ? hashReference(body.partnerPaymentReference) : undefined
    const facts = setFacts(request, { actor: factsOf(request).actor, destination: body.destination, referenceHash })
    const destination = destinations.get(body.destination)
    if (destination === undefined) throw new UnknownDestinationError()
    const entry = await idempotency.enter(facts.actor ?? '', readIdempotencyKey(request.headers['idempotency-key']), body, request.log)
    if (entry.replay !== undefined) {
      audit(request, 'duplicate_replayed', { ...facts, statusCode: entry.replay.statusCode })
      reply.header('idempotent-replayed', 'true')
      // As JSON text, like the first answer: a host's serialisation hooks touch neither.
      reply.code(entry.replay.statusCode).header('content-type', JSON_TYPE)
      return JSON.stringify(entry.replay.body)
    }
    const deadline = startDeadline(forwardTimeoutMs)
    try {
      const { adapter, record } = await lookUp(request, deadline)
      facts.psp = adapter.name
      const correlationId = facts.correlationId = correlationIdOf(entry.pspKey)
      if (auditing) audit(request, 'accepted', { ...facts, statusCode: 200 })
      // Each reads the AbortSignal only if it needs one (an adapter of the partner's, a retry's pause): see lib/psp/abort-source.ts.
      const attempt = () => adapter.forward(withSource({ record, destination, idempotencyKey: entry.pspKey, correlationId }, deadline.source))
      // Without an Idempotency-Key a forward is never retried.
      const { answer, json } = await callPsp(request, facts, adapter, deadline, entry.pspKey === undefined || retry.retries === 0
        ? attempt
        : () => retryBeforeSend(attempt, { retries: retry.retries, baseDelayMs: retry.baseDelayMs, source: deadline.source }))
      if (auditing) audit(request, 'forward_ok', { ...facts, statusCode: 200 })
      // Only a forward with an Idempotency-Key keeps its answer for replays.
      const kept = entry.succeed === undefined || await entry.succeed({ statusCode: 200, body: answer })
        .catch(err => request.log.error({ error: errorForLog(err) }, 'card-forwarding: could not store the idempotent response'))
      if (kept === false) request.log.warn('card-forwarding: the idempotency store no longer held this claim (or would not keep the answer): a retry will not be replayed')
      // Serialised once, by relayedAnswer, into the response schema's shape.
      reply.header('content-type', JSON_TYPE)
      return json
    } finally {
      deadline.clear()
      await entry.leave().catch(err => request.log.error({ error: errorForLog(err) }, 'card-forwarding: could not release the idempotency lock'))
    }
  }

  /**
   * The vault record and its adapter; 404 (the same for every miss) unless both exist and the
   * identifiers match. Whatever the partner's resolver, record or adapter throws on the way is
   * one InternalError (the error handler logs its cause): its own status or code never reaches Rokt.
   * A resolver that fails because of the deadline, or answers after it, did not answer in time.
   */
  async function lookUp (request: Request, deadline: Deadline): Promise<{ adapter: PspAdapter<any>, record: VaultedPaymentMethodBase & Record<string, unknown> }> {
    // The resolver's signal is made only if it reads it.
    const context = withSource({}, deadline.source)
    let record: VaultedPaymentMethodBase | null | undefined
    try {
      // run() takes a resolver's synchronous throw as a rejection, and a plain value as a resolved one.
      record = await deadline.run(() => resolvePaymentMethod(request.body, request, context) as Promise<VaultedPaymentMethodBase | null>, vaultTimeout)
    } catch (err) {
      throw deadline.expired ? vaultTimeout() : partnerFault('resolver_error', err)
    }
    if (deadline.expired) throw vaultTimeout()
    const adapter = record == null ? undefined : adapters.get(record.psp)
    if (record != null && adapter === undefined) request.log.error('card-forwarding: the vault record names a PSP that is not registered')
    let found: boolean
    try {
      found = adapter !== undefined && adapter.isRecord(record as any) && identifiersMatch(request.body.customerIdentifiers, record?.customerIdentifiers)
    } catch (err) {
      throw partnerFault('vault_record_error', err)
    }
    if (!found) throw new PaymentMethodNotFoundError()
    return { adapter: adapter as PspAdapter<any>, record: record as any }
  }

  /**
   * The PSP call, which shutdown may abort and the deadline cuts off, and its answer as the route
   * relays it (masked, checked: lib/route/answer.ts), reported to onForward. One cut off by the
   * deadline is a 504 of unknown outcome; any error that is not a forward failure is the adapter's fault (502).
   */
  async function callPsp (request: Request, facts: RequestFacts, adapter: PspAdapter<any>, deadline: Deadline, call: () => Promise<ForwardResult>): Promise<SendableAnswer> {
    const psp = adapter.name
    const started = performance.now()
    try {
      const result = await shutdown.track(deadline, () => deadline.run(call, () => pspDeadline(psp)))
      const sendable = relayedAnswer(result, relay, psp)
      if (reportForward !== null) metric(request, facts, { outcome: 'ok', durationMs: performance.now() - started, statusCode: 200, destinationStatus: sendable.answer.status })
      return sendable
    } catch (err) {
      const cutOff = deadline.expired && !(err instanceof ShuttingDownError)
      if (!cutOff && !isForwardFailure(err)) request.log.error({ psp, error: errorForLog(err) }, 'card-forwarding: the adapter failed (adapter_error)')
      const failure: Failure<FastifyError & { statusCode: number }> = cutOff ? pspDeadline(psp, err) : isForwardFailure(err) ? err : new PspError(psp, 'adapter_error', { cause: err })
      const outcome = failure.outcome === 'unknown' ? 'unknown' : 'failed'
      if (reportForward !== null) metric(request, facts, { outcome, durationMs: performance.now() - started, statusCode: failure.statusCode, code: failure.code, reason: failure.reason })
      throw failure
    }
  }

  /** Per-PSP latency and outcome for the partner's metrics; the callback never changes the answer. */
  function metric (request: Request, facts: RequestFacts, event: Omit<ForwardMetric, 'psp' | 'destination' | 'correlationId'>): void {
    const { psp, destination, correlationId } = facts as Required<RequestFacts>
    ;(reportForward as Deliver<ForwardMetric>)({ psp, destination, correlationId, ...event }, request.log)
  }
}

function partnerFault (reason: string, cause: unknown): Failure {
  return tagFailure(new InternalError({ cause }), { reason })
}
