/**
 * A local Checkout.com Forward API (Beta), read from its documentation and official SDKs
 * (https://www.checkout.com/docs/payments/manage-payments/forward-stored-payment-credentials):
 * `POST /forward` and `GET /forward/{id}` on the forward host, the secret key in `Authorization`,
 * `source` + `destination_request`, `{{snake_case}}` placeholders filled from the vaulted card, and
 * `{ request_id, destination_response }` back.
 *
 * It is not a mirror of our adapter: it checks what Checkout.com documents and nothing it does not.
 * It never logs: card data only travels to the destination. Also the Secrets API (`/secrets`) whose
 * secrets `{{secret_<name>}}` placeholders stand for.
 */
import Fastify from 'fastify'
import { createDestinationCaller, DestinationUnreachableError, type DestinationAnswer } from '../outbound.ts'
import { randomString } from '../random.ts'
import { AS_RECEIVED, recordOnArrival } from '../recorder.ts'
import { recorderFor, serve, type SimulatorParts } from '../server.ts'
import { fill, placeholderValues, unfillable } from './placeholders.ts'
import { registerSecrets, secretStore } from './secrets.ts'
import { validate } from './validation.ts'
import {
  CHECKOUT_COM_SANDBOX_SECRET_KEY, CHECKOUT_COM_TEST_CVV_TOKEN, DEFAULT_SOURCES,
  type CheckoutComRecordedRequest, type CheckoutComSimulator, type CheckoutComSimulatorApp, type CheckoutComSimulatorOptions
} from './wire.ts'
import { BoundedMap } from '../bounded-map.ts'

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

const ULID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** `fwd_` + 26 Crockford base32 characters, the shape of Checkout.com's forward request ids. */
function forwardId (): string {
  return 'fwd_' + randomString(ULID_ALPHABET, 26)
}

function envelope (errorType: string, codes: string[]): Envelope {
  return { request_id: forwardId(), error_type: errorType, error_codes: codes }
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
  const forwards = new BoundedMap<string, StoredForward>()
  const secrets = secretStore(options.secrets)
  /**
   * Cko-Idempotency-Key -> the first 2xx answer; 'pending' while the first request runs. Checkout.com
   * lists the endpoints that honour the header, and /forward is not one of them
   * (https://www.checkout.com/docs/developer-resources/api/idempotency): ignored unless
   * `options.idempotency` emulates that page's rules for it.
   */
  const idempotency = new BoundedMap<string, { status: number, body: unknown } | 'pending'>()
  const recorder = recorderFor(options)

  const app = Fastify({ logger: false })
  app.addHook('onClose', async () => { await caller.close() })
  // checkout-sdk-node sends Content-Type: application/json on every call, a DELETE without a body included.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string))
    } catch (err) {
      done(Object.assign(err as Error, { statusCode: 400 }), undefined)
    }
  })

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

  registerSecrets(app, secrets)

  app.post('/forward', async (request, reply) => {
    const key = request.headers['cko-idempotency-key']
    if (options.idempotency === true && typeof key === 'string' && key !== '') {
      const seen = idempotency.get(key)
      // Concurrent requests with one key: 409, which replaced 429 for this case
      // (support.checkout.com/hc/en-us/articles/24570669653010). Not documented: its body; assumed the usual envelope.
      if (seen === 'pending') return reply.code(409).send(envelope('conflict', ['request_in_progress']))
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

    const values = placeholderValues(card, cvv, secrets)
    const headerText = Object.values(dr.headers.raw).join('\n')
    const missing = [...unfillable(dr.body, values), ...unfillable(headerText, values)]
    if (missing.length > 0) {
      // Not documented: these codes. Assumed one per kind of placeholder that cannot be filled.
      const codes = missing.includes('card_cvv') ? ['card_cvv_unavailable'] : []
      if (missing.some(name => /^secret[_.]/.test(name))) codes.push('secret_not_found')
      if (missing.some(name => name !== 'card_cvv' && !/^secret[_.]/.test(name))) codes.push('destination_request_placeholder_invalid')
      return { status: 422, body: envelope('request_invalid', codes) }
    }

    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(dr.headers.raw)) headers[name] = fill(value, values, false)
    const body = fill(dr.body, values, options.substitution !== 'raw')

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
