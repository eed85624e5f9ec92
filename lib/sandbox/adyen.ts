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
import { AS_RECEIVED, createRecorder, recordOnArrival, type RecordedRequest } from './recorder.ts'
import { serve, type RecordingServer, type SandboxServerOptions, type SimulatorParts } from './server.ts'
import { isJsonObject as isObject, jsonEscape } from './json.ts'
import { createDestinationCaller, DestinationUnreachableError } from './outbound.ts'
import { randomString } from './random.ts'
import { TEST_CARDS, type SandboxCard } from './test-cards.ts'

export interface AdyenStoredPaymentMethod {
  shopperReference: string
  storedPaymentMethodId: string
  card: SandboxCard
}

/** What the simulator received, for tests ("nothing reached the PSP"). Bodies hold placeholders, never card data. */
export type AdyenRecordedRequest = RecordedRequest

export interface AdyenSimulatorOptions extends SandboxServerOptions<AdyenRecordedRequest> {
  /** Accepted `X-API-Key`. Default ADYEN_SANDBOX.apiKey. */
  apiKey?: string
  /** A web service user accepted through HTTP Basic. */
  basicAuth?: { username: string, password: string }
  /** Keys that authenticate but lack the Checkout webservice / Merchant Recurring roles: 403 010. */
  keysWithoutRecurringRole?: string[]
  /** Merchant accounts the credential may use. Default [ADYEN_SANDBOX.merchantAccount]. */
  merchantAccounts?: string[]
  /** The token vault. Default ADYEN_SANDBOX.storedPaymentMethods. */
  storedPaymentMethods?: AdyenStoredPaymentMethod[]
  /** `options.dryRun` is a test-environment feature; 'live' refuses it. Default 'test'. */
  environment?: 'test' | 'live'
  /** How long the simulated Adyen waits for the third party, ms. Default 15000. */
  destinationTimeoutMs?: number
  /**
   * The array received requests are recorded into. Default a new array. Ignored when `recorder` is given.
   * @deprecated Pass a `recorder` (createRecorder()), as every simulator takes.
   */
  requests?: AdyenRecordedRequest[]
}

export interface AdyenSimulator extends RecordingServer<AdyenRecordedRequest> {
  /** How many `POST .../v71/forward` were received (authenticated or not). */
  readonly calls: number
}

/** Sandbox credentials and tokens. Not secrets: they only open the local simulator. */
export const ADYEN_SANDBOX = {
  apiKey: 'sandbox_adyen_api_key',
  merchantAccount: 'RoktSandboxECOM',
  shopperReference: 'sandbox-shopper-0001',
  storedPaymentMethods: [
    { shopperReference: 'sandbox-shopper-0001', storedPaymentMethodId: 'M5N7TQ4TG5PFWR50', card: TEST_CARDS.visa },
    { shopperReference: 'sandbox-shopper-0001', storedPaymentMethodId: 'QX7ZK2M4P9LBV3TD', card: TEST_CARDS.mastercard },
    { shopperReference: 'sandbox-shopper-0002', storedPaymentMethodId: 'H8C3RW6JT1NZ5QKA', card: TEST_CARDS.amex }
  ] satisfies AdyenStoredPaymentMethod[]
} as const

export const ADYEN_FORWARD_PATHS = ['/v71/forward', '/checkout/v71/forward'] as const

const MAX_REQUEST_BODY = 20_000
const MAX_IDEMPOTENCY_KEY = 64
/** Adyen: "The maximum request size is 10MB" (docs.adyen.com response handling, 413). */
const MAX_PAYLOAD = 10 * 1024 * 1024

interface AdyenError {
  status: number
  errorCode: string
  message: string
  errorType: 'validation' | 'security' | 'internal' | 'configuration'
}

/**
 * Codes: 000 "Unauthorised" / "Unable to parse message", 010 "Not allowed", 901 "Invalid Merchant Account" (403,
 * security), 800 "Contract not found" and 803 "PaymentDetail not found" are Adyen's documented generic codes.
 * Adyen does not publish codes for a malformed /forward body: 702 (its generic code for input it cannot
 * accept) with a message naming the field is this simulator's choice, as is 704 for a key still in flight.
 */
const errors = {
  unauthorized: (): AdyenError => ({ status: 401, errorCode: '000', message: 'HTTP Status Response - Unauthorized', errorType: 'security' }),
  notAllowed: (): AdyenError => ({ status: 403, errorCode: '010', message: 'Not allowed', errorType: 'security' }),
  invalidMerchant: (): AdyenError => ({ status: 403, errorCode: '901', message: 'Invalid Merchant Account', errorType: 'security' }),
  notFound: (): AdyenError => ({ status: 404, errorCode: '000', message: 'Not Found', errorType: 'validation' }),
  unparsable: (): AdyenError => ({ status: 400, errorCode: '000', message: 'Unable to parse message', errorType: 'validation' }),
  tooLarge: (): AdyenError => ({ status: 413, errorCode: '000', message: 'Request Entity Too Large', errorType: 'validation' }),
  invalid: (message: string): AdyenError => ({ status: 422, errorCode: '702', message, errorType: 'validation' }),
  contractNotFound: (): AdyenError => ({ status: 422, errorCode: '800', message: 'Contract not found', errorType: 'validation' }),
  paymentDetailNotFound: (): AdyenError => ({ status: 422, errorCode: '803', message: 'PaymentDetail not found', errorType: 'validation' }),
  inProgress: (): AdyenError => ({ status: 409, errorCode: '704', message: 'request already processed or in progress', errorType: 'validation' }),
  // Adyen documents no answer for an unreachable third party. The documented meaning of 500 ("the server
  // could not process the request") with errorType "internal" is the closest fit; the message says which.
  unreachable: (timedOut: boolean): AdyenError => ({
    status: 500,
    errorCode: '000',
    message: timedOut ? 'Third party did not respond in time' : 'Unable to reach third party',
    errorType: 'internal'
  })
}

// ---------------------------------------------------------------------------------------------
// Request validation: the v71 `CheckoutForwardRequest` schema, as a small spec walked by `check`.

type Spec =
  | { type: 'string', minLength?: number, maxLength?: number, enum?: readonly string[] }
  | { type: 'boolean' }
  | { type: 'integer' }
  | { type: 'stringArray' }
  | { type: 'stringMap' }
  | { type: 'object', name: string, required?: readonly string[], props: Record<string, Spec> }

const str: Spec = { type: 'string' }
const bool: Spec = { type: 'boolean' }

const FORWARD_REQUEST: Spec = {
  type: 'object',
  name: 'CheckoutForwardRequest',
  required: ['baseUrl', 'merchantAccount', 'request', 'shopperReference'],
  props: {
    amount: {
      type: 'object',
      name: 'Amount',
      required: ['currency', 'value'],
      props: { currency: { type: 'string', minLength: 3, maxLength: 3 }, value: { type: 'integer' } }
    },
    baseUrl: str,
    merchantAccount: str,
    merchantReference: str,
    options: {
      type: 'object',
      name: 'CheckoutForwardRequestOptions',
      props: {
        accountUpdate: bool,
        dryRun: bool,
        networkToken: { type: 'object', name: 'CheckoutNetworkTokenOption', props: { includeCryptogram: bool, useNetworkToken: bool } },
        networkTxReferencePaths: { type: 'stringArray' },
        tokenize: bool,
        transactionLinkIdPaths: { type: 'stringArray' }
      }
    },
    paymentMethod: {
      type: 'object',
      name: 'CheckoutForwardRequestCard',
      props: {
        cvc: str,
        encryptedCardNumber: str,
        encryptedExpiryMonth: str,
        encryptedExpiryYear: str,
        encryptedSecurityCode: str,
        expiryMonth: str,
        expiryYear: str,
        holderName: str,
        number: str,
        type: { type: 'string', enum: ['scheme'] }
      }
    },
    request: {
      type: 'object',
      name: 'CheckoutOutgoingForwardRequest',
      required: ['body', 'httpMethod'],
      props: {
        body: { type: 'string', maxLength: MAX_REQUEST_BODY },
        credentials: str,
        headers: { type: 'stringMap' },
        httpMethod: { type: 'string', enum: ['post', 'put', 'patch'] },
        urlSuffix: str
      }
    },
    // The API reference: "must be at least three characters".
    shopperReference: { type: 'string', minLength: 3 },
    storedPaymentMethodId: str
  }
}

/** The first problem found, as Adyen-style text, or undefined when the value fits the spec. */
function check (value: unknown, spec: Spec, path: string): string | undefined {
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return `Field '${path}' must be a string`
      if (spec.minLength !== undefined && value.length < spec.minLength) return `Field '${path}' must be at least ${spec.minLength} characters`
      if (spec.maxLength !== undefined && value.length > spec.maxLength) return `Field '${path}' must be at most ${spec.maxLength} characters`
      if (spec.enum !== undefined && !spec.enum.includes(value)) return `Field '${path}' must be one of: ${spec.enum.join(', ')}`
      return undefined
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `Field '${path}' must be a boolean`
    case 'integer':
      return Number.isInteger(value) ? undefined : `Field '${path}' must be an integer`
    case 'stringArray':
      return Array.isArray(value) && value.every(v => typeof v === 'string') ? undefined : `Field '${path}' must be an array of strings`
    case 'stringMap':
      return isObject(value) && Object.values(value).every(v => typeof v === 'string') ? undefined : `Field '${path}' must be a map of strings`
    case 'object': {
      if (!isObject(value)) return `Field '${path}' must be an object`
      const unknown = Object.keys(value).filter(k => !Object.hasOwn(spec.props, k))
      if (unknown.length > 0) return `Structure ${spec.name} contains the following unknown fields: [${unknown.join(', ')}]`
      for (const name of spec.required ?? []) {
        if (value[name] === undefined) return `Required field '${join(path, name)}' is not provided`
      }
      for (const [name, sub] of Object.entries(spec.props)) {
        if (value[name] === undefined) continue
        const problem = check(value[name], sub, join(path, name))
        if (problem !== undefined) return problem
      }
      return undefined
    }
  }
}

function join (path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`
}

interface ForwardRequest {
  baseUrl: string
  merchantAccount: string
  merchantReference?: string
  options?: { dryRun?: boolean }
  request: { body: string, credentials?: string, headers?: Record<string, string>, httpMethod: 'post' | 'put' | 'patch', urlSuffix?: string }
  shopperReference: string
  storedPaymentMethodId?: string
}

// ---------------------------------------------------------------------------------------------
// Placeholders

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g

/**
 * Replaces each `{{name}}` with `values[name]`. Adyen's full placeholder table is not public; a name this
 * simulator does not know is refused rather than forwarded literally, so a wrong placeholder shows up in tests.
 */
function substitute (text: string, values: Record<string, string>, where: string): { text: string } | { unknown: string } {
  let unknown: string | undefined
  const out = text.replace(PLACEHOLDER, (whole, name: string) => {
    if (Object.hasOwn(values, name)) return values[name]
    unknown ??= whole
    return whole
  })
  return unknown === undefined ? { text: out } : { unknown: `Unknown placeholder ${unknown} in ${where}` }
}

function cardValues (card: SandboxCard): Record<string, string> {
  return {
    number: jsonEscape(card.number),
    expiryMonth: jsonEscape(card.expMonth),
    expiryYear: jsonEscape(card.expYear),
    holderName: jsonEscape(card.holderName)
  }
}

/** What `options.dryRun` shows instead of the card: "any sensitive information will be masked". */
function maskedValues (card: SandboxCard): Record<string, string> {
  return {
    number: '*'.repeat(card.number.length - 4) + card.number.slice(-4),
    expiryMonth: '**',
    expiryYear: '****',
    holderName: '*****'
  }
}

function pspReference (): string {
  return randomString('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 16)
}

// ---------------------------------------------------------------------------------------------

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
  const recorder = options.recorder ?? createRecorder({ requests: options.requests })
  const caller = createDestinationCaller(options.destinationTimeoutMs ?? 15_000)
  /** Idempotency-Key -> the stored 200 body (replayed), or 'pending' while the first attempt runs. */
  const idempotency = new Map<string, unknown>()

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

  async function forward (request: FastifyRequest, reply: FastifyReply) {
    const keyHeader = request.headers['idempotency-key']
    const idempotencyKey = typeof keyHeader === 'string' ? keyHeader : undefined
    if (idempotencyKey !== undefined) {
      if (idempotencyKey.length > MAX_IDEMPOTENCY_KEY) return send(reply, errors.invalid(`Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY} characters`))
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
    // The schema leaves storedPaymentMethodId optional (a raw `paymentMethod` may be sent instead); this
    // sandbox forwards stored tokens only, as the API reference describes the operation.
    if (body.storedPaymentMethodId === undefined) return send(reply, errors.invalid("Required field 'storedPaymentMethodId' is not provided"))
    const shopper = vault.get(body.shopperReference)
    if (shopper === undefined) return send(reply, errors.contractNotFound())
    const card = shopper.get(body.storedPaymentMethodId)
    if (card === undefined) return send(reply, errors.paymentDetailNotFound())
    if (body.options?.dryRun === true && live) return send(reply, errors.invalid("Field 'options.dryRun' is only available in the test environment"))

    const url = body.baseUrl + (body.request.urlSuffix ?? '')
    if (!/^https?:\/\/[^/?#]+/i.test(url) || !URL.canParse(url)) return send(reply, errors.invalid("Field 'baseUrl' is not a valid URL"))

    const dryRun = body.options?.dryRun === true
    const outBody = substitute(body.request.body, dryRun ? maskedValues(card) : cardValues(card), 'request.body')
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
