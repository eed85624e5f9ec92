/**
 * A local Braintree Forward API, the executable reading of Braintree's documentation
 * (developer.paypal.com/braintree/docs/reference/forward-api/{forward,config,vault-errors,
 * validation-errors,server-errors} and guides/extend/forward-api/{configuration,transformations,examples}).
 *
 * What the docs say, and this simulator does:
 * - `POST /` with HTTP Basic `public_key:private_key` and a JSON body: `merchant_id`,
 *   `payment_method_token` (a vaulted card), `url`, `method`, and either an inline `config`
 *   (sandbox only; "used in lieu of the config specified by name") or a config `name` (configs
 *   Braintree reviewed and loaded; here, the `configs` option). `data` and `sensitive_data` are
 *   "made available to transformations as global variables".
 * - A config has `name`, `methods`, `url` (a regular expression the request's url must match),
 *   `types` (must contain the forwarded instrument's type, `CreditCard` for a vaulted card),
 *   `request_format` (`{"/body": "json" | "urlencode" | "xml"}`) and `transformations`, applied in
 *   order: `{ path: "/body/…" | "/header/…" | "/urlparam/…" | "/var/…", value }`. A value is a
 *   variable (`$number`, `$expiration_month`, `$expiration_year`, `$cardholder_name`, `$card_type`,
 *   or a global from `data`/`sensitive_data`, which win over those in that order), a lookup
 *   (`$/var/…` as is, `$/body/…` serialized as a string), a function call (a JSON array: `array`,
 *   `join`, `base64` and `format_expiration` are simulated) or a literal (e.g. `1`).
 * - Success: HTTP 200 `{ status, headers, body, "request-time" }`, `body` being the destination's raw
 *   body; a destination 4xx/5xx is still HTTP 200.
 * - Vault errors: HTTP = vault_status (401 bad credentials, 403 no Forward API right, 404 unknown
 *   merchant_id / token / nonce, 422 no payment data or not exportable) with
 *   `{ error: "Vault error", message: { "vault_error?": true, vault_status, message? }, "request-uuid" }`.
 * - Server errors: 504 `Connect timeout` / `Request timeout` / `Socket timeout`, 502 `TLS error`, with
 *   `{ error, message: { "server_error?": true, <connect|request|socket>_timeout? }, "request-uuid" }`.
 * - Validation errors: `{ error, message: { "validation_error?": true, … }, "request-uuid" }`.
 *
 * Our reading where the pages we could read are silent (each is marked `// reading` in the code):
 * - Where non-card fields come from: the body is built only by the config's transformations, starting
 *   from an empty JSON object (the docs' example `{"path": "/body/parent/child", "value": 1}` yields
 *   `{"parent": {"child": 1}}`). Constant fields are literal values in the config; per-request,
 *   non-secret values (a billing address) are globals from `data`, secrets (an API key header) are
 *   globals from `sensitive_data`, as the docs' basic-auth example does with `$user`/`$password`.
 *   A path segment made of digits creates an array when its container does not exist yet (RFC 6901).
 *   `override`, `configs`, `debug_transformations`, `payment_method_tokens`, XML and client
 *   certificates are not simulated.
 * - The config's `url` must match the whole request url (it is anchored, as in the docs' example
 *   `^https://httpbin\.org/post$`).
 * - The HTTP status of validation errors is not documented: 400 here. Error names the docs do not list
 *   (unknown config name, url or method not allowed by the config, undefined variable, …) are ours.
 * - Braintree never stores a CVV, so `$cvv` is unbound for a vaulted card: referencing it is an
 *   undefined-variable error.
 * - A refused or reset connection is not in the server-errors table; it is answered like `TLS error`
 *   (502) under the name `Connection error`.
 *
 * It never logs (Fastify logger off) and never echoes card data in an error.
 */
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { isJsonObject as isObject } from '../json.ts'
import { createDestinationCaller, DestinationUnreachableError } from '../outbound.ts'
import { asReceived } from '../recorder.ts'
import { recorderFor, serve, type SimulatorParts } from '../server.ts'
import { checkConfig, resolveConfig, ValidationFailure, type Json } from './config.ts'
import { applyTransformations } from './transformations.ts'
import {
  BRAINTREE_SANDBOX_CREDENTIALS, DEFAULT_VAULT, type BraintreeRecordedRequest, type BraintreeSimulator, type BraintreeSimulatorOptions
} from './wire.ts'

const CARD_TYPES: Record<string, string> = { 3: 'American Express', 4: 'Visa', 5: 'MasterCard', 6: 'Discover' }
const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])
const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_)/
const TIMEOUTS: Record<string, [string, string]> = {
  UND_ERR_CONNECT_TIMEOUT: ['Connect timeout', 'connect_timeout'],
  UND_ERR_HEADERS_TIMEOUT: ['Request timeout', 'request_timeout'],
  UND_ERR_BODY_TIMEOUT: ['Socket timeout', 'socket_timeout']
}

/** The Braintree Forward API simulator as a Fastify app (not listening). */
export function buildBraintreeSimulator (options: BraintreeSimulatorOptions = {}): FastifyInstance {
  return createBraintreeSimulator(options).app
}

function createBraintreeSimulator (options: BraintreeSimulatorOptions): SimulatorParts<BraintreeRecordedRequest> {
  const merchantId = options.merchantId ?? BRAINTREE_SANDBOX_CREDENTIALS.merchantId
  const publicKey = options.publicKey ?? BRAINTREE_SANDBOX_CREDENTIALS.publicKey
  const privateKey = options.privateKey ?? BRAINTREE_SANDBOX_CREDENTIALS.privateKey
  const expectedAuth = 'Basic ' + Buffer.from(`${publicKey}:${privateKey}`).toString('base64')
  const production = options.environment === 'production'
  const vault = { ...DEFAULT_VAULT, ...options.vault }
  const loaded = new Map((options.configs ?? []).map(c => [c.name, c as Json]))
  const recorder = recorderFor(options)
  const callers = new Map<number, ReturnType<typeof createDestinationCaller>>()

  const app = Fastify({ logger: false })
  app.addHook('onClose', async () => {
    await Promise.all([...callers.values()].map(c => c.close()))
  })
  // A body that is not JSON: Fastify's own 400/413/415, reshaped into Braintree's validation envelope.
  app.setErrorHandler((err: { statusCode?: number }, _request, reply) => {
    /* c8 ignore next -- only Fastify's own errors get here: every throw in the route is a ValidationFailure */
    const status = err.statusCode ?? 500
    reply.code(status).send({ error: 'Invalid request', message: { 'validation_error?': true }, 'request-uuid': randomUUID() })
  })

  app.post('/', async (request, reply) => {
    recorder.record(asReceived(request, request.body))
    const uuid = randomUUID()
    const vaultError = (status: number, message?: string) => reply.code(status).send({
      error: 'Vault error',
      message: { 'vault_error?': true, vault_status: status, ...(message === undefined ? {} : { message }) },
      'request-uuid': uuid
    })

    if (request.headers.authorization !== expectedAuth) return vaultError(401)
    if (options.forwardApiRight === false) return vaultError(403)
    const body: Json = isObject(request.body) ? request.body : {}
    if (body.merchant_id !== merchantId) return vaultError(404)

    try {
      for (const key of ['url', 'method']) {
        if (typeof body[key] !== 'string') throw new ValidationFailure('Missing required parameter', { parameter: key })
      }
      const method = (body.method as string).toUpperCase()
      if (!HTTP_METHODS.has(method)) throw new ValidationFailure('Unknown HTTP Method', { method: body.method })
      let target: URL
      try {
        target = new URL(body.url as string)
      } catch {
        throw new ValidationFailure('Invalid URL', { url: body.url })
      }

      if (typeof body.payment_method_token !== 'string') {
        if (typeof body.payment_method_nonce === 'string') return vaultError(404, 'payment_method_nonce not found')
        throw new ValidationFailure('Missing required parameter', { parameter: 'payment_method_token' })
      }
      const entry = Object.hasOwn(vault, body.payment_method_token) ? vault[body.payment_method_token] : undefined
      if (entry === undefined) return vaultError(404, 'payment_method_token not found')
      if (entry === 'no_payment_data') return vaultError(422, 'No payment data')
      if (entry === 'not_exportable') return vaultError(422, 'The provided payment method cannot be exported')

      const config = resolveConfig(body, production, loaded)
      checkConfig(config, method, body.url as string)

      // "Global variables may come from … (in increasing order of precedence): the Forward API
      // itself, anything specified in data …, and anything specified in the sensitive_data section"
      // (reference/forward-api/variables). No $cvv: Braintree stores none for a vaulted card.
      const vars = new Map<string, unknown>([
        ['number', entry.number],
        ['expiration_month', entry.expMonth],
        ['expiration_year', entry.expYear],
        ['cardholder_name', entry.holderName],
        ['card_type', CARD_TYPES[entry.number[0]] ?? 'Unknown']
      ])
      for (const source of [body.data, body.sensitive_data]) {
        if (isObject(source)) for (const [k, v] of Object.entries(source)) vars.set(k, v)
      }

      const outgoing = applyTransformations(config, vars, { month: entry.expMonth, year: entry.expYear })
      const format = (config.request_format as Json | undefined)?.['/body'] ?? 'json'
      if (format === 'xml') {
        return reply.code(501).send({ error: 'Not simulated', message: { request_format: 'xml' }, 'request-uuid': uuid })
      }
      for (const [k, v] of Object.entries(outgoing.urlparam)) target.searchParams.set(k, String(v))
      const headers: Record<string, string> = {}
      if (format === 'json') headers['content-type'] = 'application/json'
      for (const [k, v] of Object.entries(outgoing.header)) headers[k.toLowerCase()] = String(v)
      for (const [k, v] of Object.entries(headers)) {
        if (/[\r\n]/.test(k + v)) throw new ValidationFailure('Invalid HTTP headers, headers cannot contain newlines or carriage returns')
      }
      const payload = format === 'json'
        ? JSON.stringify(outgoing.body)
        : new URLSearchParams(Object.entries(outgoing.body as Json).map(([k, v]): [string, string] => [k, String(v)])).toString()

      const timeoutMs = typeof config.request_timeout === 'number' ? config.request_timeout : options.destinationTimeoutMs ?? 10_000
      let caller = callers.get(timeoutMs)
      if (caller === undefined) {
        caller = createDestinationCaller(timeoutMs)
        callers.set(timeoutMs, caller)
      }
      try {
        const answer = await caller.call(target.toString(), method, headers, payload)
        const envelope = { status: answer.status, headers: answer.headers, body: answer.body, 'request-time': answer.durationMs }
        return reply.code(200).send(envelope)
      } catch (err) {
        return serverError(err as DestinationUnreachableError, timeoutMs)
      }
    } catch (err) {
      /* c8 ignore next -- unreachable: every throw in the try block is a ValidationFailure */
      if (!(err instanceof ValidationFailure)) throw err
      return reply.code(400).send({ error: err.message, message: { ...err.fields, 'validation_error?': true }, 'request-uuid': uuid })
    }

    function serverError (err: DestinationUnreachableError, timeoutMs: number) {
      const code = String((err.cause as { code?: unknown }).code)
      const timeout = TIMEOUTS[code]
      if (timeout !== undefined) {
        const message = { 'server_error?': true, [timeout[1]]: timeoutMs }
        return reply.code(504).send({ error: timeout[0], message, 'request-uuid': uuid })
      }
      const error = TLS_CODE.test(code) ? 'TLS error' : 'Connection error'
      return reply.code(502).send({ error, message: { 'server_error?': true }, 'request-uuid': uuid })
    }
  })

  return { app, recorder }
}

/** Starts the simulator on 127.0.0.1 (a free port unless `options.port` is given). */
export async function startBraintreeSimulator (options: BraintreeSimulatorOptions = {}): Promise<BraintreeSimulator> {
  return serve(createBraintreeSimulator(options), options.port)
}
