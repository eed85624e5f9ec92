/**
 * A local Checkout.com Forward API (Beta), read from its documentation and official SDKs
 * (https://www.checkout.com/docs/payments/manage-payments/forward-stored-payment-credentials):
 * `POST /forward` and `GET /forward/{id}` on the forward host, the secret key in `Authorization`,
 * `source` + `destination_request`, `{{snake_case}}` placeholders filled from the vaulted card, and
 * `{ request_id, destination_response }` back.
 *
 * It is not a mirror of our adapter: it checks what Checkout.com documents and nothing it does not.
 * It never logs: card data only travels to the destination.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { isJsonObject as isObject, jsonEscape } from './json.ts'
import { createDestinationCaller, DestinationUnreachableError, type DestinationAnswer } from './outbound.ts'
import { randomString } from './random.ts'
import { AS_RECEIVED, createRecorder, recordOnArrival, type RecordedRequest } from './recorder.ts'
import { serve, type RecordingServer, type SandboxServerOptions, type SimulatorParts } from './server.ts'
import { TEST_CARDS, type SandboxCard } from './test-cards.ts'

/** A NAS sandbox secret key shape (`sk_sbox_` + 27 base32 characters), as checkout-sdk-node recognises it. */
export const CHECKOUT_COM_SANDBOX_SECRET_KEY = 'sk_sbox_m73dzbpy7cf3gfd46xr4yj5xo4e'

/** Stored payment instruments (`src_` + 26 characters, the documented pattern), one per test card. */
export const CHECKOUT_COM_TEST_SOURCES = {
  visa: 'src_v5rgkf3gdtpuzjqesyxmyodnya',
  mastercard: 'src_mc4xk2hq7wbpz3nyt6lfa5rjve',
  amex: 'src_am3pq7rt2vkx6yzb4nwc5hjgle',
  visaWithCvc: 'src_vc2nw6jk3pqz7xbt4mrh5ylfda'
} as const

/** A card token (`tok_`, type "token" source) holding TEST_CARDS.visaWithCvc, CVC included. */
export const CHECKOUT_COM_TEST_TOKEN = 'tok_ubfj2q76miwundwlk72vxt23zm'

/** A CVV token (Frames tokenises the CVV alone) for `source.cvv_token`. */
export const CHECKOUT_COM_TEST_CVV_TOKEN = 'tok_cvvq2m7fjw3lk4xd5nt6pzrbya'

export interface CheckoutComSimulatorOptions extends SandboxServerOptions<CheckoutComRecordedRequest> {
  /** The account's secret key. Default CHECKOUT_COM_SANDBOX_SECRET_KEY. */
  secretKey?: string
  /** Vaulted instruments (`src_…`) and tokens (`tok_…`) by id. Default: the test cards above. */
  sources?: Record<string, SandboxCard>
  /** CVV tokens and the CVV each stands for. Default: CHECKOUT_COM_TEST_CVV_TOKEN -> '100'. */
  cvvTokens?: Record<string, string>
  /** How long the simulated PSP waits for the destination, ms. Default 10000. */
  destinationTimeoutMs?: number
}

/** A request that reached the simulator, whatever its path. */
export type CheckoutComRecordedRequest = RecordedRequest

/** @deprecated The type of `buildCheckoutComSimulator(…).recorder`: pass `options.recorder` instead, as every simulator takes. */
export interface CheckoutComRecorder {
  /** Every request that reached the simulator, in order. */
  readonly requests: CheckoutComRecordedRequest[]
  readonly calls: number
}

/** The app, with (deprecated) the recorder it records into as `recorder`. */
export type CheckoutComSimulatorApp = FastifyInstance & { recorder: CheckoutComRecorder }

export interface CheckoutComSimulator extends RecordingServer<CheckoutComRecordedRequest> {
  /** How many requests reached the simulator: every recorded one. */
  readonly calls: number
}

const DEFAULT_SOURCES: Record<string, SandboxCard> = {
  [CHECKOUT_COM_TEST_SOURCES.visa]: TEST_CARDS.visa,
  [CHECKOUT_COM_TEST_SOURCES.mastercard]: TEST_CARDS.mastercard,
  [CHECKOUT_COM_TEST_SOURCES.amex]: TEST_CARDS.amex,
  [CHECKOUT_COM_TEST_SOURCES.visaWithCvc]: TEST_CARDS.visaWithCvc,
  [CHECKOUT_COM_TEST_TOKEN]: TEST_CARDS.visaWithCvc
}

// Patterns and limits from checkout-sdk-go forward/forward.go and the API reference.
const SOURCE_ID = /^src_\w{26}$/
const TOKEN_ID = /^tok_\w{26}$/
const PROCESSING_CHANNEL = /^pc_\w{26}$/
const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE'])
const MAX_URL = 1024
const MAX_BODY = 16_384
const MAX_REFERENCE = 80
const MAX_ENCRYPTED_HEADERS = 8192
/** Double braces, spaces allowed inside: `{{card_number}}` or `{{ card_number }}`. */
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g
/** Header names whose values GET /forward/{id} shows as redacted ("sensitive header values are redacted"). */
const SENSITIVE_HEADER = /auth|key|token|secret|signature|cookie/i

type Envelope = { request_id: string, error_type: string, error_codes: string[] }

interface StoredForward {
  request_id: string
  reference?: string
  entity_id: string
  destination_request: { url: string, method: string, headers: Record<string, string>, body: string }
  destination_response?: { status: number, headers: Record<string, string[]>, body: string }
  created_on: string
}

interface ValidRequest {
  source: { type: 'id', id: string, cvv_token?: string } | { type: 'token', token: string }
  destination_request: { url: string, method: string, headers: { raw: Record<string, string> }, body: string }
  reference?: string
}

const ULID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** `fwd_` + 26 Crockford base32 characters, the shape of Checkout.com's forward request ids. */
function forwardId (): string {
  return 'fwd_' + randomString(ULID_ALPHABET, 26)
}

function envelope (errorType: string, codes: string[]): Envelope {
  return { request_id: forwardId(), error_type: errorType, error_codes: codes }
}

function isLoopback (hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]'
}

/** Checkout.com answers with a 422 `request_invalid` listing every field that failed. */
function validate (body: unknown): { ok: true, value: ValidRequest } | { ok: false, codes: string[] } {
  const codes: string[] = []
  if (!isObject(body)) return { ok: false, codes: ['request_body_invalid'] }

  const source = body.source
  if (source === undefined) {
    codes.push('source_required')
  } else if (!isObject(source)) {
    codes.push('source_invalid')
  } else if (source.type === 'id') {
    if (source.id === undefined) codes.push('source_id_required')
    else if (typeof source.id !== 'string' || !SOURCE_ID.test(source.id)) codes.push('source_id_invalid')
    if (source.cvv_token !== undefined && (typeof source.cvv_token !== 'string' || !TOKEN_ID.test(source.cvv_token))) codes.push('cvv_token_invalid')
  } else if (source.type === 'token') {
    if (source.token === undefined) codes.push('source_token_required')
    else if (typeof source.token !== 'string' || !TOKEN_ID.test(source.token)) codes.push('source_token_invalid')
  } else if (source.type === undefined) {
    codes.push('source_type_required')
  } else {
    codes.push('source_type_invalid')
  }

  const dr = body.destination_request
  if (dr === undefined) {
    codes.push('destination_request_required')
  } else if (!isObject(dr)) {
    codes.push('destination_request_invalid')
  } else {
    if (dr.url === undefined) codes.push('destination_request_url_required')
    else if (!validUrl(dr.url)) codes.push('destination_request_url_invalid')
    if (dr.method === undefined) codes.push('destination_request_method_required')
    else if (typeof dr.method !== 'string' || !METHODS.has(dr.method)) codes.push('destination_request_method_invalid')
    if (dr.headers === undefined) codes.push('destination_request_headers_required')
    else if (!validHeaders(dr.headers)) codes.push('destination_request_headers_invalid')
    if (dr.body === undefined) codes.push('destination_request_body_required')
    else if (typeof dr.body !== 'string' || dr.body.length > MAX_BODY) codes.push('destination_request_body_invalid')
  }

  if (body.reference !== undefined && (typeof body.reference !== 'string' || body.reference.length > MAX_REFERENCE)) codes.push('reference_invalid')
  if (body.processing_channel_id !== undefined && (typeof body.processing_channel_id !== 'string' || !PROCESSING_CHANNEL.test(body.processing_channel_id))) codes.push('processing_channel_id_invalid')

  if (codes.length > 0) return { ok: false, codes }
  return { ok: true, value: body as unknown as ValidRequest }
}

function validUrl (url: unknown): boolean {
  if (typeof url !== 'string' || url.length > MAX_URL || !URL.canParse(url)) return false
  const parsed = new URL(url)
  // Checkout.com forwards over https only; plain http is allowed here for a loopback destination,
  // the sandbox's one concession, so tests can run a fake destination without TLS.
  return parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopback(parsed.hostname))
}

function validHeaders (headers: unknown): boolean {
  if (!isObject(headers) || !isObject(headers.raw)) return false
  if (!Object.values(headers.raw).every(v => typeof v === 'string')) return false
  // `encrypted` is a JWE of more headers. The sandbox holds no private key to decrypt it, so it
  // checks the documented type and size and forwards only the raw headers.
  return headers.encrypted === undefined || (typeof headers.encrypted === 'string' && headers.encrypted.length <= MAX_ENCRYPTED_HEADERS)
}

/** The value each supported placeholder stands for; `card_cvv` only when a CVV is at hand. */
function placeholderValues (card: SandboxCard, cvv: string | undefined): Map<string, string> {
  const values = new Map<string, string>([
    ['card_number', card.number],
    // The newer documentation shows a one-digit month here, the older one MM; the newer wins.
    ['card_expiry_month', String(Number(card.expMonth))],
    ['card_expiry_month_mm', card.expMonth.padStart(2, '0')],
    ['card_expiry_year_yy', card.expYear.slice(-2)],
    ['card_expiry_year_yyyy', card.expYear],
    ['cardholder_name', card.holderName],
    ['billing_address_line1', card.billing.line1 ?? ''],
    ['billing_address_line2', card.billing.line2 ?? ''],
    ['billing_address_city', card.billing.city ?? ''],
    ['billing_address_state', card.billing.state ?? ''],
    ['billing_address_zip', card.billing.postalCode ?? ''],
    ['billing_address_country', card.billing.country ?? '']
  ])
  if (cvv !== undefined) values.set('card_cvv', cvv)
  return values
}

/**
 * Names in `text` that cannot be filled. The documentation also lists network-token, PIN, secret and
 * `jwe_encrypt` placeholders; the sandbox has none of those, and refuses them (and typos) instead of
 * forwarding a literal `{{…}}`, which the documentation does not describe either way.
 */
function unfillable (text: string, values: Map<string, string>): string[] {
  const missing: string[] = []
  for (const match of text.matchAll(PLACEHOLDER)) {
    if (!values.has(match[1])) missing.push(match[1])
  }
  return missing
}

function fill (text: string, values: Map<string, string>, escapeJson: boolean): string {
  return text.replace(PLACEHOLDER, (_, name: string) => {
    const value = values.get(name) as string
    return escapeJson ? jsonEscape(value) : value
  })
}

/** Go's http.CanonicalHeaderKey, as the Go-built Forward API reports header names: content-type -> Content-Type. */
function canonicalHeader (name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase())
}

function redact (headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) out[name] = SENSITIVE_HEADER.test(name) ? '***redacted***' : value
  return out
}

function authorized (header: string | undefined, secretKey: string): boolean {
  if (header === undefined) return false
  // checkout-sdk-node sends NAS keys as `Bearer sk_…` and older keys bare; both are accepted.
  const key = header.startsWith('Bearer ') ? header.slice(7).trim() : header.trim()
  return key === secretKey
}

/** The simulator as a Fastify app (not listening). */
export function buildCheckoutComSimulator (options: CheckoutComSimulatorOptions = {}): CheckoutComSimulatorApp {
  const { app, recorder } = createCheckoutComSimulator(options)
  return Object.assign(app, { recorder })
}

function createCheckoutComSimulator (options: CheckoutComSimulatorOptions): SimulatorParts<CheckoutComRecordedRequest> {
  const secretKey = options.secretKey ?? CHECKOUT_COM_SANDBOX_SECRET_KEY
  const sources = options.sources ?? DEFAULT_SOURCES
  const cvvTokens = options.cvvTokens ?? { [CHECKOUT_COM_TEST_CVV_TOKEN]: '100' }
  const caller = createDestinationCaller(options.destinationTimeoutMs)
  const forwards = new Map<string, StoredForward>()
  /** Cko-Idempotency-Key -> the first 2xx answer; 'pending' while the first request runs. An assumption: Checkout.com documents the header in its SDK, not for /forward. */
  const idempotency = new Map<string, { status: number, body: unknown } | 'pending'>()
  const recorder = options.recorder ?? createRecorder<CheckoutComRecordedRequest>()

  const app = Fastify({ logger: false })
  app.addHook('onClose', async () => { await caller.close() })

  recordOnArrival(app, recorder, AS_RECEIVED)
  app.addHook('onRequest', async (request, reply) => {
    reply.header('cko-request-id', forwardId())
    // 401 with an empty body, as Checkout.com answers a missing or wrong key.
    if (!authorized(request.headers.authorization, secretKey)) return reply.code(401).send()
  })

  app.setErrorHandler((err: { statusCode?: number }, _request, reply) => {
    // A body that is not JSON: Checkout.com reports a malformed request as request_invalid.
    if (err.statusCode !== undefined && err.statusCode < 500) {
      return reply.code(422).send(envelope('request_invalid', ['request_body_malformed']))
    }
    /* c8 ignore next 2 -- every handler path answers itself; this is the last-resort 500 */
    return reply.code(500).send(envelope('internal_error', ['internal_error']))
  })

  app.post('/forward', async (request, reply) => {
    const key = request.headers['cko-idempotency-key']
    if (typeof key === 'string' && key !== '') {
      const seen = idempotency.get(key)
      // Concurrent requests with one key: the documentation's 429 (its body shape is not documented).
      if (seen === 'pending') return reply.code(429).send(envelope('too_many_requests', ['too_many_requests']))
      if (seen !== undefined) return reply.code(seen.status).send(seen.body)
      idempotency.set(key, 'pending')
      let result: { status: number, body: unknown }
      try {
        result = await forward(request.body)
      } finally {
        idempotency.delete(key)
      }
      // Only a processed (2xx) request is kept: an error is not replayed, the next try runs again.
      if (result.status >= 200 && result.status < 300) idempotency.set(key, result)
      return reply.code(result.status).send(result.body)
    }
    const { status, body } = await forward(request.body)
    return reply.code(status).send(body)
  })

  app.get('/forward/:id', async (request, reply) => {
    const stored = forwards.get((request.params as { id: string }).id)
    if (stored === undefined) return reply.code(404).send(envelope('not_found', ['forward_request_not_found']))
    return stored
  })

  async function forward (raw: unknown): Promise<{ status: number, body: unknown }> {
    const checked = validate(raw)
    if (!checked.ok) return { status: 422, body: envelope('request_invalid', checked.codes) }
    const req = checked.value
    const { source, destination_request: dr } = req

    const sourceId = source.type === 'id' ? source.id : source.token
    const card = sources[sourceId]
    if (card === undefined) return { status: 404, body: envelope('not_found', ['source_not_found']) }

    // Checkout.com keeps no CVV with an instrument: {{card_cvv}} needs a cvv_token. A card token
    // (type "token") carries the CVV it was created with.
    let cvv: string | undefined
    if (source.type === 'id' && source.cvv_token !== undefined) {
      cvv = cvvTokens[source.cvv_token]
      if (cvv === undefined) return { status: 422, body: envelope('request_invalid', ['cvv_token_invalid']) }
    } else if (source.type === 'token') {
      cvv = card.cvc
    }

    const values = placeholderValues(card, cvv)
    const headerText = Object.values(dr.headers.raw).join('\n')
    const missing = [...unfillable(dr.body, values), ...unfillable(headerText, values)]
    if (missing.length > 0) {
      const codes = missing.includes('card_cvv') ? ['card_cvv_unavailable'] : []
      if (missing.some(name => name !== 'card_cvv')) codes.push('destination_request_placeholder_invalid')
      return { status: 422, body: envelope('request_invalid', codes) }
    }

    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(dr.headers.raw)) headers[name] = fill(value, values, false)
    const body = fill(dr.body, values, true)

    const requestId = forwardId()
    const stored: StoredForward = {
      request_id: requestId,
      entity_id: 'ent_sandboxentity0000000000000',
      // As GET /forward/{id} documents it: the body with its placeholders, sensitive headers redacted.
      destination_request: { url: dr.url, method: dr.method, headers: redact(dr.headers.raw), body: dr.body },
      created_on: new Date().toISOString()
    }
    if (req.reference !== undefined) stored.reference = req.reference
    forwards.set(requestId, stored)

    let answer: DestinationAnswer
    try {
      answer = await caller.call(dr.url, dr.method, headers, body)
    } catch (err) {
      /* c8 ignore next -- createDestinationCaller only throws DestinationUnreachableError */
      if (!(err instanceof DestinationUnreachableError)) throw err
      // Undocumented case. The SDK types call destination_response optional: "the HTTP response
      // received from the destination, if the forward request completed successfully". So a
      // destination that cannot be reached (or times out) gets a 200 with the request id and no
      // destination_response: the request was accepted, nothing came back.
      return { status: 200, body: { request_id: requestId } }
    }

    const responseHeaders: Record<string, string[]> = {}
    for (const [name, value] of Object.entries(answer.headers)) responseHeaders[canonicalHeader(name)] = [value]
    stored.destination_response = { status: answer.status, headers: responseHeaders, body: answer.body }
    return { status: 200, body: { request_id: requestId, destination_response: stored.destination_response } }
  }

  return { app, recorder }
}

/** Starts the simulator on 127.0.0.1 (a free port unless `options.port` is given). */
export async function startCheckoutComSimulator (options: CheckoutComSimulatorOptions = {}): Promise<CheckoutComSimulator> {
  return serve(createCheckoutComSimulator(options), options.port)
}
