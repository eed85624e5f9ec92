import { randomBytes } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import Fastify from 'fastify'
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify'
import { isJsonObject } from '../json.ts'
import { createDestinationCaller } from '../outbound.ts'
import type { DestinationAnswer, DestinationUnreachableError } from '../outbound.ts'
import { headerStrings, recordOnArrival } from '../recorder.ts'
import { readBodiesAsText, recorderFor, serve } from '../server.ts'
import { createMistakeWarner } from '../warnings.ts'
import type { SimulatorParts } from '../server.ts'
import { apiKeyFrom, NO_API_KEY } from './auth.ts'
import { forwardingInvalid, invalidRequest, maskApiKey, StripeApiError, upstreamFailure } from './errors.ts'
import { canonical, decodeStripeForm } from './form.ts'
import type { FormValue } from './form.ts'
import { listPage } from './list.ts'
import { validateCreate } from './params.ts'
import type { CreateParams } from './params.ts'
import { cardValues, paymentMethodObject, paymentMethodVault, setAt } from './payment-methods.ts'
import type { PaymentMethodState } from './payment-methods.ts'
import { STRIPE_SANDBOX_ACCOUNT_VERSION, versionOf } from './versions.ts'
import { FORWARD_PATH, STRIPE_SANDBOX_API_KEY, STRIPE_TOKEN_VAULT_FIELDS } from './wire.ts'
import type { StripeDestinationConfig, StripeDestinationFields, StripeRecordedRequest, StripeSimulator, StripeSimulatorOptions } from './wire.ts'
import { BoundedMap } from '../bounded-map.ts'

/**
 * A local Stripe Vault & Forward simulator: `POST /v1/forwarding/requests` and friends, with
 * Stripe's auth, form encoding (bracket notation), ForwardingRequest object and error envelope, as
 * https://docs.stripe.com/payments/vault-and-forward and https://docs.stripe.com/api/forwarding/request
 * describe them. It never logs (logger off) and never returns a card value: the ForwardingRequest it
 * answers with is redacted, like Stripe's.
 */

const REDACTED = '[REDACTED]'
function randomId (prefix: string): string {
  return prefix + randomBytes(24).toString('base64url').replace(/[-_]/g, '').slice(0, 24)
}

interface StoredOutcome { status: number, body: unknown }
interface IdempotencyEntry { fingerprint: string, outcome?: StoredOutcome }
interface Destination { url: string, fields: Required<StripeDestinationFields>, headers: NonNullable<StripeDestinationConfig['headers']> }
interface ForwardingRequest { id: string, created: number, [field: string]: unknown }

/** The IP address Stripe reports it reached (`request_context.destination_ip_address`, a string). */
async function ipOf (url: string): Promise<string> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
  return isIP(host) !== 0 ? host : (await lookup(host)).address
}

function createStripeSimulator (opts: StripeSimulatorOptions): SimulatorParts<StripeRecordedRequest> {
  const apiKey = opts.apiKey ?? STRIPE_SANDBOX_API_KEY
  const paymentMethods = paymentMethodVault(opts.paymentMethods)
  const destinations = (opts.destinations ?? [])
    .map((d): Destination => ({ url: d.url, fields: { ...STRIPE_TOKEN_VAULT_FIELDS, ...d.fields }, headers: d.headers ?? {} }))
  const caller = createDestinationCaller(opts.destinationTimeoutMs ?? 30_000)
  const accountVersion = opts.accountApiVersion ?? STRIPE_SANDBOX_ACCOUNT_VERSION
  const recorder = recorderFor(opts)
  const warn = createMistakeWarner('Stripe simulator')
  const forwardingRequests = new BoundedMap<string, ForwardingRequest>()
  const idempotency = new BoundedMap<string, IdempotencyEntry>()

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

  /** The API version each request runs under: its Stripe-Version, else the account's default. */
  const versions = new WeakMap<object, string>()
  app.addHook('preHandler', async (request, reply) => {
    const key = apiKeyFrom(request.headers.authorization)
    if (key === undefined || key === '') return sendError(reply, invalidRequest(401, NO_API_KEY))
    if (key !== apiKey) {
      warn('api-key', 'refused an API key that is not its own (401). Give the adapter STRIPE_SANDBOX_API_KEY, or start the simulator with { apiKey }.')
      return sendError(reply, invalidRequest(401, `Invalid API Key provided: ${maskApiKey(key)}`))
    }
    const version = versionOf(request.headers['stripe-version'], accountVersion)
    // Not documented: the text of this refusal; assumed an invalid_request_error naming the version.
    if (version === undefined) return sendError(reply, invalidRequest(400, `Invalid Stripe API version: ${String(request.headers['stripe-version']).slice(0, 40)}`))
    versions.set(request, version)
  })

  app.setNotFoundHandler(async (request, reply) => sendError(reply, invalidRequest(404,
    `Unrecognized request URL (${request.method}: ${request.url.split('?')[0]}). ` +
    'Please see https://stripe.com/docs or we can help at https://support.stripe.com/.')))

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

  app.get(FORWARD_PATH, async (request, reply) => {
    try {
      return listPage([...forwardingRequests.values()], decodeStripeForm(request.url.split('?')[1] ?? ''), FORWARD_PATH)
    } catch (err) {
      return sendError(reply, err as StripeApiError)
    }
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
    let destination: Destination
    let pm: PaymentMethodState
    let body: Record<string, unknown>
    const idempotencyKey = request.headers['idempotency-key'] as string | undefined
    try {
      const form = /^application\/x-www-form-urlencoded\b/i.test(request.headers['content-type'] ?? '')
      params = decodeStripeForm(typeof request.body === 'string' && form ? request.body : '')
      if (idempotencyKey !== undefined) {
        const fingerprint = JSON.stringify(canonical(params))
        const seen = idempotency.get(idempotencyKey)
        if (seen !== undefined) {
          if (seen.fingerprint !== fingerprint) {
            const message = 'Keys for idempotent requests can only be used with the same parameters they were first used with. ' +
              `Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`
            throw new StripeApiError(400, { type: 'idempotency_error', message })
          }
          if (seen.outcome === undefined) {
            const message = 'There is currently another in-progress request using this Idempotency-Key. Please try again later.'
            throw new StripeApiError(409, { type: 'idempotency_error', code: 'idempotency_key_in_use', message })
          }
          reply.header('idempotent-replayed', 'true')
          return reply.code(seen.outcome.status).send(seen.outcome.body)
        }
      }
      input = validateCreate(params, versions.get(request) as string)
      const found = destinations.find((d) => d.url === input.url)
      if (!found) {
        warn(`url ${input.url}`, `refused a forward to ${input.url} (400 forwarding_api_invalid_parameter): it is not an onboarded destination. ` +
          `Start the simulator with { destinations: [{ url: '${input.url}' }] }, as Stripe onboards each destination URL for an account.`)
        throw forwardingInvalid('url', `The url '${input.url}' is not supported by the Forwarding API configuration for this account.`)
      }
      destination = found
      if (input.replacements.includes('request_signature')) {
        throw forwardingInvalid('replacements', 'request_signature is not supported by the configuration for this url.')
      }
      const foundPm = paymentMethods.get(input.paymentMethod)
      if (!foundPm) throw invalidRequest(404, `No such PaymentMethod: '${input.paymentMethod}'`, 'resource_missing', 'payment_method')
      pm = foundPm
      if (opts.missingCvc === 'refuse' && input.replacements.includes('card_cvc') && pm.card.cvc === undefined) {
        throw forwardingInvalid('replacements', 'The card_cvc replacement is not available: this PaymentMethod no longer holds a CVC.')
      }
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
    const outcome = await forward(input, destination, pm, body, versions.get(request) as string)
    if (idempotencyKey !== undefined) idempotency.set(idempotencyKey, { fingerprint: JSON.stringify(canonical(params)), outcome })
    return reply.code(outcome.status).send(outcome.body)
  })

  async function forward (
    input: CreateParams, destination: Destination, pm: PaymentMethodState, body: Record<string, unknown>, version: string
  ): Promise<StoredOutcome> {
    const redactedBody = structuredClone(body)
    for (const [path, value] of cardValues(pm, input.replacements, destination.fields)) {
      setAt(body, path, value)
      setAt(redactedBody, path, '')
    }
    const outgoing = new Map<string, [string, string]>()
    for (const h of input.headers) outgoing.set(h.name.toLowerCase(), [h.name, h.value])
    for (const [name, value] of Object.entries(destination.headers)) outgoing.set(name.toLowerCase(), [name, value])
    // Stripe sets the Content-Type itself.
    outgoing.set('content-type', ['Content-Type', 'application/json'])
    const headers = Object.fromEntries(outgoing.values())

    let answer: DestinationAnswer
    try {
      answer = await caller.call(input.url, 'POST', headers, JSON.stringify(body))
    } catch (err) {
      const failure = upstreamFailure(err as DestinationUnreachableError, version)
      return { status: failure.status, body: { error: failure.error } }
    }
    const id = randomId('fwdreq_')
    const object: ForwardingRequest = {
      id,
      object: 'forwarding.request',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      metadata: input.metadata,
      payment_method: pm.id,
      replacements: input.replacements,
      request_context: {
        destination_duration: answer.durationMs,
        destination_ip_address: await ipOf(input.url)
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
    return { status: 200, body: input.expand.includes('payment_method') ? { ...object, payment_method: paymentMethodObject(pm) } : object }
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
