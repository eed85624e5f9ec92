import { STATUS_CODES } from 'node:http'
import { errorCodes, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifySchemaCompiler } from 'fastify'
import type { CardForwardingOptions, ForwardResult, PaymentSharingRequest, PspAdapter, ForwardMetric } from '../types/index.ts'
import { createAuditor, hashReference, requestLogSerializers } from './audit.ts'
import { setupAuth } from './edge/auth.ts'
import { IpNotAllowedError, PaymentMethodNotFoundError, PspError, UnknownDestinationError, UnsupportedMediaTypeError } from './errors.ts'
import { createIdempotency, readIdempotencyKey } from './route/idempotency.ts'
import { identifiersMatch } from './route/identifiers.ts'
import { buildAllowlist, checkTrustProxy } from './edge/ip-allowlist.ts'
import { registerLoadShedding } from './route/load-shedding.ts'
import { resolveOptions } from './options/index.ts'
import type { PspFailure } from './psp/client.ts'
import { retryBeforeSend, retryOptions } from './psp/retry.ts'
import { ErrorSchema, ForwardResponseSchema, PaymentSharingBodySchema, strictValidatorCompiler } from './route/schema.ts'
import { createShutdown } from './route/shutdown.ts'
import { setupTokenEndpoint } from './edge/token-endpoint/route.ts'

const JSON_MEDIA_TYPE = /^application\/json(?:;[ \t]*charset=(?:utf-8|"utf-8"))?$/i
const ACTOR = 'roktCardForwardingActor'
/** Errors whose own message is safe and useful to send; everything else gets its status text. */
const OWN_MESSAGES = /^(?:CARD_FORWARDING_|FST_ERR_VALIDATION$|FST_UNDER_PRESSURE$)/
const PSP_FAILURES = new Set(['CARD_FORWARDING_PSP_ERROR', 'CARD_FORWARDING_PSP_TIMEOUT', 'CARD_FORWARDING_PSP_UNAVAILABLE', 'CARD_FORWARDING_SHUTTING_DOWN'])

export async function cardForwardingPlugin (fastify: FastifyInstance, options: CardForwardingOptions<any>): Promise<void> {
  const resolved = resolveOptions(options)
  const isAllowedIp = buildAllowlist(options.allowedIps)
  const tokenEndpoint = options.tokenEndpoint
  // First: its onRequest hook runs before every other hook of this scope (no crypto, no PSP work when shedding).
  await registerLoadShedding(fastify, options.loadShedding)
  const audit = createAuditor(options.onAudit)
  const onForward = options.onForward
  /** Per-PSP latency and outcome for the partner's metrics; a throwing callback never changes the answer. */
  function metrics (request: FastifyRequest, event: ForwardMetric): void {
    if (onForward === undefined) return
    try {
      onForward(event)
    } catch (err) {
      request.log.error({ err }, 'card-forwarding: onForward callback threw')
    }
  }
  // Set before the token endpoint's scope is created: a child scope keeps the parent's handler of that moment.
  fastify.setErrorHandler(function (error: FastifyError, request, reply) {
    let statusCode = error.statusCode ?? 500
    if (statusCode < 400 || statusCode > 599) statusCode = 500
    const code = statusCode === 500 ? 'CARD_FORWARDING_INTERNAL_ERROR' : error.code
    const actor = (request as any)[ACTOR]
    if (statusCode === 500) {
      request.log.error({ err: error }, 'card-forwarding: unexpected error')
      audit(request, 'internal_error', { statusCode, code, actor })
    }
    if (statusCode === 400 || statusCode === 413 || statusCode === 415) {
      audit(request, 'validation_failed', { statusCode, code, actor })
    }
    const message = statusCode !== 500 && OWN_MESSAGES.test(code) ? error.message : STATUS_CODES[statusCode] as string
    const retryAfter = (error as PspFailure).retryAfter
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter))
    reply.code(statusCode).send({ statusCode, code, error: STATUS_CODES[statusCode], message })
  })

  const { auth, keyRing } = tokenEndpoint == null ? { auth: options.auth, keyRing: undefined } : await setupTokenEndpoint(fastify, tokenEndpoint, options.auth, audit)
  const { authenticate } = await setupAuth(fastify, auth, keyRing)
  // After setupTokenEndpoint, which validates tokenEndpoint.allowedIps with a clear message.
  checkTrustProxy(hostOption(fastify, 'trustProxy'), {
    allowedIps: options.allowedIps,
    ...(tokenEndpoint == null ? {} : { 'tokenEndpoint.allowedIps': tokenEndpoint.allowedIps })
  }, options.allowUnsafeTrustProxy === true)
  const resolvePaymentMethod = options.resolvePaymentMethod
  const { adapters, destinations, relay } = resolved
  const idempotency = createIdempotency({ store: options.idempotencyStore, ttlMs: options.idempotencyTtlMs })
  const retry = retryOptions(options.connectRetries, options.connectRetryDelayMs)
  const shutdown = createShutdown(fastify, options.shutdownGraceMs)

  fastify.decorateRequest(ACTOR, null)
  fastify.addHook('onClose', async () => {
    await Promise.all([...new Set(adapters.values())].map(adapter => adapter.close?.()))
  })

  async function checkIp (request: FastifyRequest): Promise<void> {
    if (!isAllowedIp(request.ip)) {
      audit(request, 'ip_denied', { statusCode: 403 })
      throw new IpNotAllowedError()
    }
  }

  async function checkToken (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      ;(request as any)[ACTOR] = (await authenticate(request, reply)).client
    } catch (err) {
      const { code, statusCode, reason, client } = err as FastifyError & { reason: string, client?: string }
      audit(request, code === 'CARD_FORWARDING_INSUFFICIENT_SCOPE' ? 'scope_denied' : 'auth_failed', { statusCode: statusCode as number, code, reason, actor: client })
      throw err
    }
  }

  async function checkMediaType (request: FastifyRequest): Promise<void> {
    const type = request.headers['content-type']
    if (typeof type !== 'string' || !JSON_MEDIA_TYPE.test(type)) throw new UnsupportedMediaTypeError()
  }

  async function forward (request: FastifyRequest<{ Body: PaymentSharingRequest }>, reply: FastifyReply) {
    const body = request.body
    const actor = (request as any)[ACTOR] as string | undefined
    const facts = { actor, destination: body.destination, referenceHash: hashReference(body.partnerPaymentReference) }
    const destination = destinations.get(body.destination)
    if (destination === undefined) {
      audit(request, 'validation_failed', { ...facts, statusCode: 422, code: 'CARD_FORWARDING_UNKNOWN_DESTINATION' })
      throw new UnknownDestinationError()
    }
    let entry
    try {
      entry = await idempotency.enter(actor ?? '', readIdempotencyKey(request.headers['idempotency-key']), body)
    } catch (err) {
      const { statusCode, code } = err as FastifyError
      if (statusCode === 409 || statusCode === 422) audit(request, 'validation_failed', { ...facts, statusCode, code })
      throw err
    }
    if (entry.replay !== undefined) {
      audit(request, 'duplicate_replayed', { ...facts, statusCode: entry.replay.statusCode })
      reply.header('idempotent-replayed', 'true')
      return reply.code(entry.replay.statusCode).send(entry.replay.body)
    }
    try {
      const record = await resolvePaymentMethod(body, request)
      const adapter: PspAdapter<any> | undefined = record == null ? undefined : adapters.get(record.psp)
      if (record != null && adapter === undefined) request.log.error('card-forwarding: the vault record names a PSP that is not registered')
      if (adapter === undefined || !adapter.isRecord(record as any) || !identifiersMatch(body.customerIdentifiers, record?.customerIdentifiers)) {
        audit(request, 'not_found', { ...facts, statusCode: 404 })
        throw new PaymentMethodNotFoundError()
      }
      const psp = adapter.name
      audit(request, 'accepted', { ...facts, psp, statusCode: 200 })
      let result: ForwardResult
      const started = performance.now()
      try {
        // Without an Idempotency-Key a forward is never retried.
        const retries = entry.pspKey === undefined ? 0 : retry.retries
        result = await shutdown.track(signal => retryBeforeSend(
          () => adapter.forward({ record, destination, idempotencyKey: entry.pspKey, signal }),
          { retries, baseDelayMs: retry.baseDelayMs, signal }))
      } catch (err) {
        const failure: PspFailure & FastifyError = PSP_FAILURES.has((err as FastifyError).code) ? err as any : new PspError(psp, 'adapter_error', { cause: err })
        // Outcome unknown: the PSP may have forwarded the card. Reconcile; a retry with the same key is safe.
        const outcome = failure.outcome === 'unknown' ? 'unknown' : 'failed'
        audit(request, `forward_${outcome}`, { ...facts, psp, statusCode: failure.statusCode as number, code: failure.code, reason: failure.reason })
        metrics(request, { psp, destination: body.destination, outcome, durationMs: performance.now() - started, statusCode: failure.statusCode as number, code: failure.code })
        throw failure
      }
      audit(request, 'forward_ok', { ...facts, psp, statusCode: 200 })
      metrics(request, { psp, destination: body.destination, outcome: 'ok', durationMs: performance.now() - started, statusCode: 200, destinationStatus: result.status })
      const response = { status: result.status, headers: result.headers, body: relay === 'psp' ? result.pspBody : result.body, 'request-time': result.requestTime }
      await entry.succeed({ statusCode: 200, body: response }).catch(err => request.log.error({ err }, 'card-forwarding: could not store the idempotent response'))
      return response
    } finally {
      await entry.leave().catch(err => request.log.error({ err }, 'card-forwarding: could not release the idempotency lock'))
    }
  }

  // Only JSON, parsed here whatever the host's onProtoPoisoning says: a __proto__ key, or a
  // constructor.prototype, anywhere in the body is a 400 (secure-json-parse's rule, without the dependency).
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string, rejectPoisoning))
    } catch {
      done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined)
    }
  })

  fastify.route<{ Body: PaymentSharingRequest }>({
    method: 'POST',
    url: resolved.path,
    bodyLimit: resolved.bodyLimit,
    schema: {
      body: PaymentSharingBodySchema,
      response: { 200: ForwardResponseSchema, '4xx': ErrorSchema, '5xx': ErrorSchema }
    },
    validatorCompiler: strictValidatorCompiler as FastifySchemaCompiler<any>,
    logSerializers: requestLogSerializers,
    onRequest: [shutdown.refuseWhenClosing, checkIp, checkToken, checkMediaType],
    handler: forward
  })
}

/** Fastify keeps its server options under a private symbol and initialConfig omits trustProxy. */
function hostOption (fastify: FastifyInstance, name: string): unknown {
  for (let o: any = fastify; o !== null; o = Object.getPrototypeOf(o)) {
    const symbol = Object.getOwnPropertySymbols(o).find(s => s.description === 'fastify.options')
    if (symbol !== undefined) return o[symbol][name]
  }
  /* c8 ignore next 2 */
  throw new Error('cannot read the server options of this Fastify version')
}

function rejectPoisoning (key: string, value: unknown): unknown {
  if (key === '__proto__' || (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype'))) {
    throw new Error('prototype poisoning')
  }
  return value
}
