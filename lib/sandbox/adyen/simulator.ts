/**
 * A local Adyen Checkout `/forward` (API v71), read from Adyen's documentation rather than from our adapter:
 * https://docs.adyen.com/online-payments/tokenization/forward-payment-details and the v71 schema of
 * `CheckoutForwardRequest` (https://docs.adyen.com/api-explorer/Checkout/71/post/forward).
 *
 * - `POST /v71/forward` (test shape) and `POST /checkout/v71/forward` (live shape).
 * - Auth: `X-API-Key`, or HTTP Basic with a web service user.
 * - Body: JSON `CheckoutForwardRequest`, checked field by field as the schema says (required fields,
 *   types, no unknown fields, `request.body` at most 20000 characters, lowercase `httpMethod`,
 *   `shopperReference` at least 3 characters).
 * - `{{number}}`, `{{expiryMonth}}`, `{{expiryYear}}`, `{{holderName}}` in `request.body` become the stored card
 *   (JSON-escaped, since the body is a JSON string), `{{credentials}}` in `request.headers` becomes `request.credentials`.
 * - 200 `CheckoutForwardResponse { storedPaymentMethodId, pspReference, merchantReference?, response { status, headers, body } }`.
 * - `Idempotency-Key` (at most 64 characters): the first answer is replayed for the same key and the key is echoed.
 * - Errors use Adyen's Checkout error object `{ status, errorCode, message, errorType, pspReference }`
 *   (docs.adyen.com "Error codes and messages" and the ServiceError model of @adyen/api-library).
 *
 * Where Adyen publishes no code for a /forward failure, the choice made here is stated next to it.
 * Card data is never logged (the app has no logger) and never recorded: recorded bodies carry only placeholders.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { isJsonObject as isObject } from '../json.ts'
import { createDestinationCaller, DestinationUnreachableError } from '../outbound.ts'
import { randomString } from '../random.ts'
import { AS_RECEIVED, recordOnArrival } from '../recorder.ts'
import { recorderFor, serve, type SimulatorParts } from '../server.ts'
import type { SandboxCard } from '../test-cards.ts'
import { cardValues, maskedValues, substitute } from './placeholders.ts'
import { check, FORWARD_REQUEST, type ForwardRequest } from './schema.ts'
import {
  ADYEN_FORWARD_PATHS, ADYEN_SANDBOX, errors, type AdyenError, type AdyenRecordedRequest, type AdyenSimulator, type AdyenSimulatorOptions
} from './wire.ts'
import { BoundedMap } from '../bounded-map.ts'

const MAX_IDEMPOTENCY_KEY = 64
/** Adyen: "The maximum request size is 10MB" (docs.adyen.com response handling, 413). */
const MAX_PAYLOAD = 10 * 1024 * 1024

function pspReference (): string {
  return randomString('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 16)
}

function send (reply: FastifyReply, error: AdyenError): FastifyReply {
  return reply.code(error.status).send({ ...error, pspReference: pspReference() })
}

/** `user:password` from an HTTP Basic header, else undefined. */
function basicCredentials (header: string | undefined): string | undefined {
  const match = /^basic (\S+)$/i.exec(header ?? '')
  return match === null ? undefined : Buffer.from(match[1], 'base64').toString('utf8')
}

/** The Adyen Checkout `/forward` simulator as a Fastify app (not listening). */
export function buildAdyenSimulator (options: AdyenSimulatorOptions = {}): FastifyInstance {
  return createAdyenSimulator(options).app
}

function createAdyenSimulator (options: AdyenSimulatorOptions): SimulatorParts<AdyenRecordedRequest> {
  const apiKey = options.apiKey ?? ADYEN_SANDBOX.apiKey
  const basic = options.basicAuth === undefined ? undefined : `${options.basicAuth.username}:${options.basicAuth.password}`
  const restricted = new Set(options.keysWithoutRecurringRole ?? [])
  const merchants = new Set(options.merchantAccounts ?? [ADYEN_SANDBOX.merchantAccount])
  const vault = new Map<string, Map<string, SandboxCard>>()
  for (const m of options.storedPaymentMethods ?? ADYEN_SANDBOX.storedPaymentMethods) {
    const shopper = vault.get(m.shopperReference) ?? new Map<string, SandboxCard>()
    shopper.set(m.storedPaymentMethodId, m.card)
    vault.set(m.shopperReference, shopper)
  }
  const live = options.environment === 'live'
  const recorder = recorderFor(options, options.requests)
  const caller = createDestinationCaller(options.destinationTimeoutMs ?? 15_000)
  /** Idempotency-Key -> the stored 200 body (replayed), or 'pending' while the first attempt runs. */
  const idempotency = new BoundedMap<string, unknown>()

  const app = Fastify({ logger: false, bodyLimit: MAX_PAYLOAD })

  recordOnArrival(app, recorder, {
    ...AS_RECEIVED,
    isCall: (entry) => entry.method === 'POST' && (ADYEN_FORWARD_PATHS as readonly string[]).includes(entry.path.split('?')[0])
  })

  app.addHook('onRequest', async (request, reply) => {
    const key = request.headers['x-api-key']
    if (typeof key === 'string' && restricted.has(key)) return send(reply, errors.notAllowed())
    const authenticated = key === apiKey || (basic !== undefined && basicCredentials(request.headers.authorization) === basic)
    if (!authenticated) return send(reply, errors.unauthorized())
  })

  // Fastify's own body errors (invalid JSON, a media type other than JSON, an oversized body).
  app.setErrorHandler((err: { statusCode?: number }, _request, reply) => {
    return send(reply, err.statusCode === 413 ? errors.tooLarge() : errors.unparsable())
  })

  app.setNotFoundHandler((_request, reply) => send(reply, errors.notFound()))

  for (const path of ADYEN_FORWARD_PATHS) app.post(path, forward)

  app.addHook('onClose', async () => { await caller.close() })

  return { app, recorder }

  /**
   * The card to forward. The v71 schema makes `storedPaymentMethodId` optional: the card details may
   * come in `paymentMethod` instead (CheckoutForwardRequest.paymentMethod, "The card details").
   * Not documented: the answer when neither is given (assumed 702 naming the field), and forwarding
   * encrypted fields (the sandbox holds no key to decrypt them: refused the same way).
   */
  function cardOf (body: ForwardRequest): SandboxCard | 'contract' | 'detail' | string {
    if (body.storedPaymentMethodId !== undefined) {
      const shopper = vault.get(body.shopperReference)
      if (shopper === undefined) return 'contract'
      return shopper.get(body.storedPaymentMethodId) ?? 'detail'
    }
    const pm = body.paymentMethod
    if (pm?.number === undefined || pm.expiryMonth === undefined || pm.expiryYear === undefined) {
      return "Required field 'storedPaymentMethodId' is not provided (nor paymentMethod number, expiryMonth and expiryYear)"
    }
    return { number: pm.number, expMonth: pm.expiryMonth, expYear: pm.expiryYear, holderName: pm.holderName ?? '', cvc: pm.cvc, billing: {} }
  }

  async function forward (request: FastifyRequest, reply: FastifyReply) {
    const keyHeader = request.headers['idempotency-key']
    const idempotencyKey = typeof keyHeader === 'string' ? keyHeader : undefined
    if (idempotencyKey !== undefined) {
      if (idempotencyKey.length > MAX_IDEMPOTENCY_KEY) {
        return send(reply, errors.invalid(`Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY} characters`))
      }
      reply.header('idempotency-key', idempotencyKey)
      const stored = idempotency.get(idempotencyKey)
      if (stored === 'pending') return send(reply.header('transient-error', 'true'), errors.inProgress())
      if (stored !== undefined) return reply.code(200).send(stored)
    }

    if (!isObject(request.body)) return send(reply, errors.unparsable())
    const problem = check(request.body, FORWARD_REQUEST, '')
    if (problem !== undefined) return send(reply, errors.invalid(problem))
    const body = request.body as unknown as ForwardRequest

    if (!merchants.has(body.merchantAccount)) return send(reply, errors.invalidMerchant())
    const found = cardOf(body)
    if (typeof found === 'string') return send(reply, found === 'contract' ? errors.contractNotFound() : found === 'detail' ? errors.paymentDetailNotFound() : errors.invalid(found))
    const card = found
    if (body.options?.dryRun === true && live) {
      return send(reply, errors.invalid("Field 'options.dryRun' is only available in the test environment"))
    }

    const url = body.baseUrl + (body.request.urlSuffix ?? '')
    if (!/^https?:\/\/[^/?#]+/i.test(url) || !URL.canParse(url)) return send(reply, errors.invalid("Field 'baseUrl' is not a valid URL"))

    const dryRun = body.options?.dryRun === true
    const outBody = substitute(body.request.body, dryRun ? maskedValues(card) : cardValues(card, options.substitution), 'request.body')
    if ('unknown' in outBody) return send(reply, errors.invalid(outBody.unknown))
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(body.request.headers ?? {})) {
      if (value.includes('{{credentials}}') && body.request.credentials === undefined) {
        return send(reply, errors.invalid("Required field 'request.credentials' is not provided"))
      }
      const out = substitute(value, { credentials: dryRun ? '********' : body.request.credentials ?? '' }, `request.headers.${name}`)
      if ('unknown' in out) return send(reply, errors.invalid(out.unknown))
      headers[name] = out.text
    }

    const envelope = (response: { status: number, headers: Record<string, string>, body: string }) => ({
      storedPaymentMethodId: body.storedPaymentMethodId,
      pspReference: pspReference(),
      ...(body.merchantReference === undefined ? {} : { merchantReference: body.merchantReference }),
      response
    })

    if (dryRun) {
      const copy = { url, httpMethod: body.request.httpMethod, headers, body: outBody.text }
      return reply.code(200).send(envelope({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(copy) }))
    }

    if (idempotencyKey !== undefined) idempotency.set(idempotencyKey, 'pending')
    try {
      const answer = await caller.call(url, body.request.httpMethod, headers, outBody.text)
      const result = envelope({ status: answer.status, headers: answer.headers, body: answer.body })
      if (idempotencyKey !== undefined) idempotency.set(idempotencyKey, result)
      return reply.code(200).send(result)
    } catch (err) {
      if (idempotencyKey !== undefined) idempotency.delete(idempotencyKey)
      return send(reply, errors.unreachable((err as DestinationUnreachableError).timedOut))
    }
  }
}

/** Starts the simulator on 127.0.0.1 (a free port unless `options.port` is given). */
export async function startAdyenSimulator (options: AdyenSimulatorOptions = {}): Promise<AdyenSimulator> {
  return serve(createAdyenSimulator(options), options.port)
}
