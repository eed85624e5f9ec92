import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import Fastify from 'fastify'
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify'
import { isJsonObject } from './json.ts'
import { createDestinationCaller } from './outbound.ts'
import type { DestinationAnswer, DestinationUnreachableError } from './outbound.ts'
import { createRecorder, headerStrings, recordOnArrival } from './recorder.ts'
import type { RecordedRequest } from './recorder.ts'
import { readBodiesAsText, serve } from './server.ts'
import type { RecordingServer, SandboxServerOptions, SimulatorParts } from './server.ts'
import { TEST_CARDS } from './test-cards.ts'
import type { SandboxCard } from './test-cards.ts'

/**
 * A local Stripe Vault & Forward simulator: `POST /v1/forwarding/requests` and friends, with
 * Stripe's auth, form encoding (bracket notation), ForwardingRequest object and error envelope, as
 * https://docs.stripe.com/payments/vault-and-forward and https://docs.stripe.com/api/forwarding/request
 * describe them. It never logs (logger off) and never returns a card value: the ForwardingRequest it
 * answers with is redacted, like Stripe's.
 */

export const STRIPE_SANDBOX_API_KEY = 'sk_test_sandbox'

/** Replacements the simulator fills; `request_signature` is in Stripe's enum but needs a destination config for it. */
export const STRIPE_REPLACEMENTS = ['card_cvc', 'card_expiry', 'card_number', 'cardholder_name'] as const
export type StripeReplacement = typeof STRIPE_REPLACEMENTS[number]

/** Where Stripe writes each card value in a destination's JSON body: dot paths such as `card.number`. */
export interface StripeDestinationFields {
  card_number?: string[]
  card_expiry_month?: string[]
  card_expiry_year?: string[]
  card_cvc?: string[]
  cardholder_name?: string[]
}

/** A destination Stripe has onboarded for the account (Stripe configures these; callers cannot). */
export interface StripeDestinationConfig {
  url: string
  fields?: StripeDestinationFields
}

/** Stripe's "your own PCI token vault" profile: `{"card":{"number","exp_month","exp_year","cvc","name"}}`. */
export const STRIPE_TOKEN_VAULT_FIELDS: Required<StripeDestinationFields> = {
  card_number: ['card.number'],
  card_expiry_month: ['card.exp_month'],
  card_expiry_year: ['card.exp_year'],
  card_cvc: ['card.cvc'],
  cardholder_name: ['card.name']
}

export interface StripeAddress {
  line1: string | null
  line2: string | null
  city: string | null
  state: string | null
  postal_code: string | null
  country: string | null
}

/** `PaymentMethod.billing_details`, in Stripe's wire shape. */
export interface StripeBillingDetails {
  address: StripeAddress
  email: string | null
  name: string | null
  phone: string | null
}

export interface StripeSandboxPaymentMethod {
  card: SandboxCard
  /** Merged over what the card implies (address from `card.billing`, name from `card.holderName`). */
  billingDetails?: Partial<StripeBillingDetails>
  funding?: 'credit' | 'debit' | 'prepaid' | 'unknown'
}

export interface StripeSimulatorOptions extends SandboxServerOptions<StripeRecordedRequest> {
  /** The secret key callers must present. Default `sk_test_sandbox`. */
  apiKey?: string
  /** Added to (or overriding) the built-in test PaymentMethods, by id. */
  paymentMethods?: Record<string, StripeSandboxPaymentMethod>
  /** The onboarded destinations; a forward to any other URL is refused. Default: none. */
  destinations?: StripeDestinationConfig[]
  /** How long Stripe waits for the destination. Default 10 000 ms. */
  destinationTimeoutMs?: number
}

/** One request the simulator received, whatever its path. */
export interface StripeRecordedRequest extends RecordedRequest<Record<string, string>, string> {
  /** The path, without the query string. */
  path: string
  /** The raw body ('' when there was none). */
  body: string
}

export interface StripeSimulator extends RecordingServer<StripeRecordedRequest> {
  /** How many `POST /v1/forwarding/requests` were received (authenticated or not). */
  readonly calls: number
}

/** The built-in test PaymentMethods, named like Stripe's test tokens. Only `pm_card_visa_debit` still has its CVC. */
export const STRIPE_TEST_PAYMENT_METHODS: Readonly<Record<string, StripeSandboxPaymentMethod>> = {
  pm_card_visa: { card: TEST_CARDS.visa, billingDetails: { email: 'jenny.rosen@example.com', phone: '+14155550100' } },
  pm_card_mastercard: { card: TEST_CARDS.mastercard, billingDetails: { email: 'john.smith@example.com' } },
  pm_card_amex: { card: TEST_CARDS.amex, billingDetails: { email: 'ana.silva@example.com' } },
  pm_card_visa_debit: { card: TEST_CARDS.visaWithCvc, funding: 'debit', billingDetails: { email: 'kai.tanaka@example.com' } }
}

const FORWARD_PATH = '/v1/forwarding/requests'
const REDACTED = '[REDACTED]'
const MAX_STRING = 5000
const TOP_LEVEL_PARAMS = new Set(['payment_method', 'url', 'replacements', 'request', 'metadata', 'expand'])
const REQUEST_PARAMS = new Set(['body', 'headers'])
const HEADER_PARAMS = new Set(['name', 'value'])
const KNOWN_REPLACEMENTS = new Set<string>([...STRIPE_REPLACEMENTS, 'request_signature'])
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/
/** Headers the caller may not set: Stripe owns the connection and the body framing. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'proxy-connection'])
const BRANDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^4/, 'visa'],
  [/^(5[1-5]|2[2-7])/, 'mastercard'],
  [/^3[47]/, 'amex'],
  [/^6(011|5)/, 'discover']
]

/** Stripe's error object (the value of `error` in the envelope). */
export interface StripeErrorObject {
  type: 'invalid_request_error' | 'api_error' | 'idempotency_error'
  message: string
  code?: string
  param?: string
  doc_url?: string
}

class StripeApiError extends Error {
  readonly status: number
  readonly detail: StripeErrorObject
  constructor (status: number, detail: StripeErrorObject) {
    super(detail.message)
    this.status = status
    this.detail = detail
  }
}

function invalidRequest (status: number, message: string, code?: string, param?: string): StripeApiError {
  const detail: StripeErrorObject = { type: 'invalid_request_error', message }
  if (code !== undefined) {
    detail.code = code
    detail.doc_url = `https://stripe.com/docs/error-codes/${code.replaceAll('_', '-')}`
  }
  if (param !== undefined) detail.param = param
  return new StripeApiError(status, detail)
}

const missing = (param: string) => invalidRequest(400, `Missing required param: ${param}.`, 'parameter_missing', param)
const unknownParam = (param: string) => invalidRequest(400, `Received unknown parameter: ${param}`, 'parameter_unknown', param)
const emptyParam = (param: string) => invalidRequest(400,
  `You passed an empty string for '${param}'. We assume empty values are an attempt to unset a parameter; however '${param}' cannot be unset. You should remove '${param}' from your request or supply a non-empty value.`,
  'parameter_invalid_empty', param)
const invalidType = (param: string, kind: 'string' | 'array' | 'hash') => invalidRequest(400, `Invalid ${kind}: ${param} must be a${kind === 'array' ? 'n' : ''} ${kind}`, undefined, param)
const forwardingInvalid = (param: string, message: string) => invalidRequest(400, message, 'forwarding_api_invalid_parameter', param)

/** Stripe shows a wrong key with everything but its prefix and last four characters masked. */
export function maskApiKey (key: string): string {
  const m = /^([a-z]{2}_(?:test|live)_)(.{8,})$/s.exec(key)
  return m ? m[1] + '*'.repeat(m[2].length - 4) + m[2].slice(-4) : '*'.repeat(key.length)
}

/** The key from `Authorization: Bearer sk_…` or HTTP Basic `sk_…:` (the password is ignored, as Stripe does). */
function apiKeyFrom (authorization: string | undefined): string | undefined {
  const m = /^(\S+)\s+(.+)$/.exec(authorization ?? '')
  if (!m) return undefined
  const scheme = m[1].toLowerCase()
  if (scheme === 'bearer') return m[2].trim()
  if (scheme === 'basic') return Buffer.from(m[2], 'base64').toString('utf8').split(':')[0]
  return undefined
}

// ---------------------------------------------------------------------------------------------
// application/x-www-form-urlencoded with Stripe's bracket notation

export type FormValue = string | FormValue[] | { [key: string]: FormValue }
type FormNode = string | { [key: string]: FormNode }

/** Stripe's deepest parameter here is request[headers][0][name]: 4 levels. */
const MAX_FORM_DEPTH = 8
const FORM_KEY = /^([^[\]]+)((?:\[[^[\]]*\])*)$/

/**
 * Decodes Stripe's form encoding: `a[b][0][c]=x` nests, `a[0]=x&a[1]=y` and `a[]=x&a[]=y` are
 * arrays. A key that is not of that form, or that both holds a value and nests, is refused.
 */
export function decodeStripeForm (raw: string): Record<string, FormValue> {
  const root: Record<string, FormNode> = Object.create(null)
  for (const [key, value] of new URLSearchParams(raw)) {
    const m = FORM_KEY.exec(key)
    if (!m) throw invalidRequest(400, `Invalid parameter name: ${key}`, undefined, key)
    const segments = [m[1], ...[...m[2].matchAll(/\[([^[\]]*)\]/g)].map((s) => s[1])]
    if (segments.length > MAX_FORM_DEPTH) throw invalidRequest(400, `Invalid parameter name: nested deeper than ${MAX_FORM_DEPTH} levels`, undefined, m[1])
    let node = root
    for (let i = 0; i < segments.length; i++) {
      let segment = segments[i]
      if (segment === '') {
        if (i !== segments.length - 1) throw invalidRequest(400, `Invalid parameter name: ${key}`, undefined, key)
        segment = String(Object.keys(node).length)
      }
      if (i === segments.length - 1) {
        if (typeof node[segment] === 'object') throw invalidType(key, 'string')
        node[segment] = value
      } else {
        const next = node[segment] ?? Object.create(null)
        if (typeof next === 'string') throw invalidType(key, 'hash')
        node = node[segment] = next
      }
    }
  }
  return finish(root) as Record<string, FormValue>
}

/** Turns index-keyed objects into arrays and null-prototype objects into plain ones. */
function finish (node: FormNode): FormValue {
  if (typeof node === 'string') return node
  const keys = Object.keys(node)
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.map(Number).sort((a, b) => a - b).map((k) => finish(node[String(k)]))
  }
  return Object.fromEntries(keys.map((k) => [k, finish(node[k])]))
}

/** Same parameters, same fingerprint, whatever their order. */
function canonical (value: FormValue): unknown {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return value.map(canonical)
  return Object.keys(value).sort().map((k) => [k, canonical(value[k])])
}

// ---------------------------------------------------------------------------------------------
// Parameter validation (POST /v1/forwarding/requests)

interface CreateParams {
  paymentMethod: string
  url: string
  replacements: string[]
  body: string | undefined
  headers: Array<{ name: string, value: string }>
  metadata: Record<string, string>
  expand: string[]
}

const isHash = (v: FormValue | undefined): v is { [key: string]: FormValue } => isJsonObject(v)

function requiredString (value: FormValue | undefined, param: string): string {
  if (value === undefined) throw missing(param)
  if (typeof value !== 'string') throw invalidType(param, 'string')
  if (value === '') throw emptyParam(param)
  if (value.length > MAX_STRING) throw invalidRequest(400, `Invalid string: ${param} must be at most ${MAX_STRING} characters`, undefined, param)
  return value
}

function replacementsOf (value: FormValue | undefined): string[] {
  if (value === undefined) throw missing('replacements')
  if (value === '') throw emptyParam('replacements')
  if (!Array.isArray(value)) throw invalidType('replacements', 'array')
  return value.map((r, i) => {
    if (typeof r !== 'string' || !KNOWN_REPLACEMENTS.has(r)) {
      throw forwardingInvalid(`replacements[${i}]`, `Invalid replacements[${i}]: must be one of card_cvc, card_expiry, card_number, cardholder_name, or request_signature`)
    }
    return r
  })
}

function headersOf (value: FormValue | undefined): CreateParams['headers'] {
  if (value === undefined || value === '') return []
  if (!Array.isArray(value)) throw invalidType('request[headers]', 'array')
  return value.map((h, i) => {
    const at = `request[headers][${i}]`
    if (!isHash(h)) throw invalidType(at, 'hash')
    for (const k of Object.keys(h)) if (!HEADER_PARAMS.has(k)) throw unknownParam(`${at}[${k}]`)
    const name = requiredString(h.name, `${at}[name]`)
    if (h.value === undefined) throw missing(`${at}[value]`)
    if (typeof h.value !== 'string') throw invalidType(`${at}[value]`, 'string')
    if (!HEADER_NAME.test(name) || RESERVED_HEADERS.has(name.toLowerCase())) {
      throw forwardingInvalid(`${at}[name]`, `The header name '${name}' cannot be forwarded`)
    }
    if (HEADER_VALUE_FORBIDDEN.test(h.value)) throw forwardingInvalid(`${at}[value]`, `The value of header '${name}' contains forbidden characters`)
    return { name, value: h.value }
  })
}

function validateCreate (params: Record<string, FormValue>): CreateParams {
  for (const k of Object.keys(params)) if (!TOP_LEVEL_PARAMS.has(k)) throw unknownParam(k)
  const paymentMethod = requiredString(params.payment_method, 'payment_method')
  const url = requiredString(params.url, 'url')
  const replacements = replacementsOf(params.replacements)

  // `request` is required (stripe-node >= 23 types it so): a body, headers, or both.
  const request = params.request
  if (request === undefined) throw missing('request')
  if (request === '') throw emptyParam('request')
  if (!isHash(request)) throw invalidType('request', 'hash')
  for (const k of Object.keys(request)) if (!REQUEST_PARAMS.has(k)) throw unknownParam(`request[${k}]`)
  const body = request.body
  if (body !== undefined && typeof body !== 'string') throw invalidType('request[body]', 'string')
  const headers = headersOf(request.headers)

  // An empty string unsets an optional parameter in Stripe's encoding.

  const metadataParam = params.metadata === '' ? {} : params.metadata ?? {}
  if (!isHash(metadataParam)) throw invalidType('metadata', 'hash')
  const metadata: Record<string, string> = {}
  for (const [k, v] of Object.entries(metadataParam)) {
    if (typeof v !== 'string') throw invalidType(`metadata[${k}]`, 'string')
    if (v !== '') metadata[k] = v
  }

  const expand = params.expand ?? []
  if (!Array.isArray(expand) || !expand.every((e) => typeof e === 'string')) throw invalidType('expand', 'array')
  return { paymentMethod, url, replacements, body, headers, metadata, expand: expand as string[] }
}

// ---------------------------------------------------------------------------------------------
// Card injection

interface PaymentMethodState {
  id: string
  card: SandboxCard
  billing: StripeBillingDetails
  funding: string
  created: number
}

/** Writes `value` at a dot path, creating missing objects. A number field stays a number. */
function setAt (root: Record<string, unknown>, path: string, value: string): void {
  const segments = path.split('.')
  const last = segments.pop() as string
  let node = root
  for (const segment of segments) {
    const next = node[segment]
    node = (typeof next === 'object' && next !== null ? next : (node[segment] = {})) as Record<string, unknown>
  }
  node[last] = typeof node[last] === 'number' ? Number(value) : value
}

function fourDigitYear (year: string): string {
  return year.length === 2 ? `20${year}` : year
}

/** The (path, value) pairs Stripe writes for these replacements; consumes the CVC it uses. */
function cardValues (pm: PaymentMethodState, replacements: string[], fields: Required<StripeDestinationFields>): Array<[string, string]> {
  const out: Array<[string, string]> = []
  const put = (paths: string[], value: string) => { for (const p of paths) out.push([p, value]) }
  for (const r of new Set(replacements)) {
    if (r === 'card_number') put(fields.card_number, pm.card.number)
    else if (r === 'card_expiry') {
      put(fields.card_expiry_month, pm.card.expMonth.padStart(2, '0'))
      put(fields.card_expiry_year, fourDigitYear(pm.card.expYear))
    } else if (r === 'cardholder_name') put(fields.cardholder_name, pm.card.holderName)
    else if (pm.card.cvc !== undefined) {
      // card_cvc: Stripe keeps the CVC only until it is first used with Vault and Forward.
      put(fields.card_cvc, pm.card.cvc)
      pm.card = { ...pm.card, cvc: undefined }
    }
  }
  return out
}

function brandOf (number: string): string {
  return BRANDS.find(([re]) => re.test(number))?.[1] ?? 'unknown'
}

function paymentMethodObject (pm: PaymentMethodState) {
  return {
    id: pm.id,
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: pm.billing,
    card: {
      brand: brandOf(pm.card.number),
      country: 'US',
      exp_month: Number(pm.card.expMonth),
      exp_year: Number(fourDigitYear(pm.card.expYear)),
      funding: pm.funding,
      last4: pm.card.number.slice(-4)
    },
    created: pm.created,
    customer: null,
    livemode: false,
    metadata: {},
    type: 'card'
  }
}

// ---------------------------------------------------------------------------------------------
// Upstream failures

/**
 * Maps a failure to reach the destination to Stripe's answer.
 *
 * Source: Stripe changelog 2025-03-31.basil, "Updates the Vault and Forward API to return a 402
 * status code for upstream request timeouts": a timeout *before Stripe establishes a connection*
 * answers 402 (safe to retry); "Stripe continues returning 502 or 504 errors for all other
 * upstream errors". Hence: connect timeout -> 402, any later timeout -> 504, connection refused,
 * reset or TLS failure -> 502. The codes are stripe-node's `forwarding_api_upstream_connection_timeout`
 * and `forwarding_api_upstream_connection_error`. Stripe does not document the error `type` of these;
 * the simulator uses `api_error` (the type Stripe uses for failures on its side of the request).
 */
export function upstreamFailure (err: DestinationUnreachableError): { status: number, error: StripeErrorObject } {
  const code = (err.cause as { code?: unknown }).code
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { status: 402, error: { type: 'api_error', code: 'forwarding_api_upstream_connection_timeout', message: 'Timed out connecting to the destination. No data was sent; the request can be retried.' } }
  }
  if (err.timedOut) {
    return { status: 504, error: { type: 'api_error', code: 'forwarding_api_upstream_connection_timeout', message: 'The destination did not answer in time.' } }
  }
  return { status: 502, error: { type: 'api_error', code: 'forwarding_api_upstream_connection_error', message: 'Could not connect to the destination.' } }
}

function randomId (prefix: string): string {
  return prefix + randomBytes(24).toString('base64url').replace(/[-_]/g, '').slice(0, 24)
}

// ---------------------------------------------------------------------------------------------
// The app

interface StoredOutcome { status: number, body: unknown }
interface IdempotencyEntry { fingerprint: string, outcome?: StoredOutcome }

function createStripeSimulator (opts: StripeSimulatorOptions): SimulatorParts<StripeRecordedRequest> {
  const apiKey = opts.apiKey ?? STRIPE_SANDBOX_API_KEY
  const created = Math.floor(Date.now() / 1000)
  const paymentMethods = new Map<string, PaymentMethodState>()
  for (const [id, pm] of Object.entries({ ...STRIPE_TEST_PAYMENT_METHODS, ...opts.paymentMethods })) {
    const b = pm.card.billing
    const address: StripeAddress = { city: b.city ?? null, country: b.country ?? null, line1: b.line1 ?? null, line2: b.line2 ?? null, postal_code: b.postalCode ?? null, state: b.state ?? null }
    const billing: StripeBillingDetails = { address, email: null, name: pm.card.holderName, phone: null, ...pm.billingDetails }
    paymentMethods.set(id, { id, card: { ...pm.card }, billing, funding: pm.funding ?? 'credit', created })
  }
  const destinations = (opts.destinations ?? []).map((d) => ({ url: d.url, fields: { ...STRIPE_TOKEN_VAULT_FIELDS, ...d.fields } }))
  const caller = createDestinationCaller(opts.destinationTimeoutMs ?? 10_000)
  const recorder = opts.recorder ?? createRecorder<StripeRecordedRequest>()
  const forwardingRequests = new Map<string, unknown>()
  const idempotency = new Map<string, IdempotencyEntry>()

  const app = Fastify({ logger: false })
  // Stripe reads only form bodies; any other body simply carries no parameters.
  readBodiesAsText(app)
  app.addHook('onClose', async () => { await caller.close() })

  const sendError = (reply: FastifyReply, err: StripeApiError) => reply.code(err.status).send({ error: err.detail })

  recordOnArrival(app, recorder, {
    entry: (request) => ({ method: request.method, path: request.url.split('?')[0], headers: headerStrings(request.headers), body: '' }),
    addBody: (entry, body) => { if (typeof body === 'string') entry.body = body },
    isCall: (entry) => entry.method === 'POST' && entry.path === FORWARD_PATH
  })

  app.addHook('onRequest', async (_request, reply) => {
    reply.header('request-id', randomId('req_'))
  })

  app.addHook('preHandler', async (request, reply) => {
    const key = apiKeyFrom(request.headers.authorization)
    if (key === undefined || key === '') {
      return sendError(reply, invalidRequest(401, "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."))
    }
    if (key !== apiKey) return sendError(reply, invalidRequest(401, `Invalid API Key provided: ${maskApiKey(key)}`))
  })

  app.setNotFoundHandler(async (request, reply) => sendError(reply, invalidRequest(404,
    `Unrecognized request URL (${request.method}: ${request.url.split('?')[0]}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`)))

  app.setErrorHandler(async (err: FastifyError, _request, reply) => {
    // Only Fastify's own request errors get here (413 body too large, 400 bad framing): the routes
    // answer their own errors. They always carry a 4xx statusCode.
    const status = err.statusCode ?? /* c8 ignore next */ 500
    return reply.code(status).send({ error: { type: 'invalid_request_error', message: err.message } })
  })

  app.get('/v1/payment_methods/:id', async (request, reply) => {
    const { id } = request.params as { id: string }
    const pm = paymentMethods.get(id)
    if (!pm) return sendError(reply, invalidRequest(404, `No such PaymentMethod: '${id}'`, 'resource_missing', 'id'))
    return paymentMethodObject(pm)
  })

  app.get('/v1/forwarding/requests/:id', async (request, reply) => {
    const { id } = request.params as { id: string }
    const found = forwardingRequests.get(id)
    if (found === undefined) return sendError(reply, invalidRequest(404, `No such forwarding request: '${id}'`, 'resource_missing', 'id'))
    return found
  })

  app.post(FORWARD_PATH, async (request, reply) => {
    let params: Record<string, FormValue>
    let input: CreateParams
    let destination: typeof destinations[number]
    let pm: PaymentMethodState
    let body: Record<string, unknown>
    const idempotencyKey = request.headers['idempotency-key'] as string | undefined
    try {
      params = decodeStripeForm(typeof request.body === 'string' && /^application\/x-www-form-urlencoded\b/i.test(request.headers['content-type'] ?? '') ? request.body : '')
      if (idempotencyKey !== undefined) {
        const fingerprint = JSON.stringify(canonical(params))
        const seen = idempotency.get(idempotencyKey)
        if (seen !== undefined) {
          if (seen.fingerprint !== fingerprint) {
            throw new StripeApiError(400, { type: 'idempotency_error', message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.` })
          }
          if (seen.outcome === undefined) {
            throw new StripeApiError(409, { type: 'idempotency_error', code: 'idempotency_key_in_use', message: 'There is currently another in-progress request using this Idempotency-Key. Please try again later.' })
          }
          reply.header('idempotent-replayed', 'true')
          return reply.code(seen.outcome.status).send(seen.outcome.body)
        }
      }
      input = validateCreate(params)
      const found = destinations.find((d) => d.url === input.url)
      if (!found) throw forwardingInvalid('url', `The url '${input.url}' is not supported by the Forwarding API configuration for this account.`)
      destination = found
      if (input.replacements.includes('request_signature')) {
        throw forwardingInvalid('replacements', 'request_signature is not supported by the configuration for this url.')
      }
      const foundPm = paymentMethods.get(input.paymentMethod)
      if (!foundPm) throw invalidRequest(404, `No such PaymentMethod: '${input.paymentMethod}'`, 'resource_missing', 'payment_method')
      pm = foundPm
      let parsed: unknown
      try {
        parsed = JSON.parse(input.body ?? '{}')
      } catch {
        parsed = undefined
      }
      if (!isJsonObject(parsed)) throw forwardingInvalid('request[body]', 'request[body] must be a JSON object.')
      body = parsed
    } catch (err) {
      return sendError(reply, err as StripeApiError)
    }

    // Validated: from here on the outcome is stored under the idempotency key (Stripe saves a
    // result once the endpoint started executing, and replays it, errors included).
    if (idempotencyKey !== undefined) idempotency.set(idempotencyKey, { fingerprint: JSON.stringify(canonical(params)) })
    const outcome = await forward(input, destination, pm, body)
    if (idempotencyKey !== undefined) idempotency.set(idempotencyKey, { fingerprint: JSON.stringify(canonical(params)), outcome })
    return reply.code(outcome.status).send(outcome.body)
  })

  async function forward (input: CreateParams, destination: typeof destinations[number], pm: PaymentMethodState, body: Record<string, unknown>): Promise<StoredOutcome> {
    const redactedBody = structuredClone(body)
    for (const [path, value] of cardValues(pm, input.replacements, destination.fields)) {
      setAt(body, path, value)
      setAt(redactedBody, path, '')
    }
    const outgoing = new Map<string, [string, string]>()
    for (const h of input.headers) outgoing.set(h.name.toLowerCase(), [h.name, h.value])
    // Stripe sets the Content-Type itself.
    outgoing.set('content-type', ['Content-Type', 'application/json'])
    const headers = Object.fromEntries(outgoing.values())

    let answer: DestinationAnswer
    try {
      answer = await caller.call(input.url, 'POST', headers, JSON.stringify(body))
    } catch (err) {
      const failure = upstreamFailure(err as DestinationUnreachableError)
      return { status: failure.status, body: { error: failure.error } }
    }
    const host = new URL(input.url).hostname.replace(/^\[|\]$/g, '')
    const id = randomId('fwdreq_')
    const object = {
      id,
      object: 'forwarding.request',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      metadata: input.metadata,
      payment_method: input.expand.includes('payment_method') ? paymentMethodObject(pm) : pm.id,
      replacements: input.replacements,
      request_context: {
        destination_duration: answer.durationMs,
        destination_ip_address: isIP(host) !== 0 ? host : null
      },
      request_details: {
        body: JSON.stringify(redactedBody),
        headers: [...outgoing.values()].map(([name, value]) => ({ name, value: name === 'Content-Type' ? value : REDACTED })),
        http_method: 'POST'
      },
      response_details: {
        body: answer.body,
        headers: Object.entries(answer.headers).map(([name, value]) => ({ name, value })),
        status: answer.status
      },
      url: input.url
    }
    forwardingRequests.set(id, object)
    return { status: 200, body: object }
  }

  return { app, recorder }
}

/** Builds the simulator's Fastify app (not listening). */
export function buildStripeSimulator (opts: StripeSimulatorOptions = {}): FastifyInstance {
  return createStripeSimulator(opts).app
}

/**
 * Starts the simulator on 127.0.0.1 (a free port unless `opts.port` is given).
 * @param port Deprecated: use `opts.port`. When given, it wins over `opts.port`.
 */
export async function startStripeSimulator (opts: StripeSimulatorOptions = {}, port = opts.port): Promise<StripeSimulator> {
  return serve(createStripeSimulator(opts), port)
}
