import type {
  BodyTemplate, BodyTemplateValue, BraintreeForwardConfig, BraintreeOptions, BraintreeTransformation, BraintreeVaultRecord,
  CanonicalToken, ForwardInput, ForwardResult, PreparedDestination, PspAdapter, TemplateSlot
} from '../../../types/index.ts'
import { PspError, PspTimeoutError, tagFailure } from '../../errors.ts'
import { abortHandleOf } from '../abort-source.ts'
import { createPspClient, transport } from '../client.ts'
import { forwardFailure, forwardResult, isDestinationAnswer } from '../relay.ts'
import { billingValue, DEFAULT_TEMPLATE, isCardToken, parseTemplate, pointer } from '../../template.ts'

/**
 * Braintree's Forward API (developer.paypal.com/braintree/docs/reference/forward-api). There is no
 * official Node SDK for it (the `braintree` package has no Forward wrapper), so it is called over HTTP:
 * `POST /` with HTTP Basic public:private key and a JSON body naming the vaulted card
 * (`payment_method_token`), the destination `url` and `method`, and the config that says how to inject
 * the card: inline (`config`, sandbox only) or by `name` (production, where Braintree reviews and
 * loads each config; `braintreeForwardConfig` generates the JSON to submit).
 *
 * The config is generated from the destination's body template: card tokens become Braintree's
 * variables (`$number`, `$cardholder_name`) and functions (the expiry, below); the CVC goes out
 * empty (Braintree never stores a CVV: `$cvv` exists only for network-tokenized cards, "$cvv will be
 * available as a variable", guides/extend/forward-api/tokenization-support); billing tokens become
 * global variables (`$billing_line1`, …) whose values, from the vault record, travel in the
 * request's `data` (Braintree's non-secret variables); destination headers become `$header_1`, …
 * whose values travel in `sensitive_data`, so no secret is ever written into a config submitted
 * for review; other template values are literals. No global is named like a Forward API variable
 * (`data` and `sensitive_data` win over those: reference/forward-api/variables). The same config
 * therefore serves every customer, inline in sandbox and by name in production.
 */

const BASE_URL = {
  sandbox: 'https://forwarding.sandbox.braintreegateway.com',
  production: 'https://forwarding.braintreegateway.com'
}
const KEY = /^[A-Za-z0-9_-]{1,128}$/
/** Braintree tokens are letters, digits, `-` and `_`; bounded so a record cannot carry a payload. */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/
const NAME = /^[\x21-\x7e]{1,128}$/

/** A global variable's name (in `data`) for each billing token. */
const DATA_KEY: Record<string, string> = {
  'billing.line1': 'billing_line1',
  'billing.line2': 'billing_line2',
  'billing.city': 'billing_city',
  'billing.state': 'billing_state',
  'billing.postalCode': 'billing_postal_code',
  'billing.country': 'billing_country'
}
/**
 * `$expiration_year` is "2- or 4-digit" as the card was vaulted (the GraphQL CreditCardInput:
 * "formatted YYYY or YY"), so the expiry goes through Braintree's own `format_expiration`
 * function (reference/forward-api/functions: `%m` month, `%Y` year with century), which writes the
 * two-digit month and four-digit year the template promises whatever the vault holds.
 */
const CARD_VALUE: Record<string, BraintreeTransformation['value']> = {
  'card.number': '$number',
  'card.expMonth': ['format_expiration', '%m'],
  'card.expYear': ['format_expiration', '%Y'],
  'card.holderName': '$cardholder_name',
  // Braintree never stores a CVV: the field goes out empty.
  'card.cvc': ''
}

function valueFor (token: CanonicalToken): BraintreeTransformation['value'] {
  return isCardToken(token) ? CARD_VALUE[token] : '$' + DATA_KEY[token]
}

function buildConfig (where: string, name: string, url: string, headerNames: string[], template: BodyTemplate, slots: readonly TemplateSlot[]): BraintreeForwardConfig {
  const tokens = new Map(slots.map(slot => [pointer(slot.path), slot.token]))
  const transformations: BraintreeTransformation[] = headerNames.map((header, i) => ({ path: '/header' + pointer([header]), value: `$header_${i + 1}` }))
  walk(template, [])
  return {
    name,
    methods: ['POST'],
    url: '^' + url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$',
    types: ['CreditCard'],
    request_format: { '/body': 'json' },
    transformations
  }

  function walk (value: BodyTemplateValue, path: Array<string | number>): void {
    const at = pointer(path)
    if (value !== null && typeof value === 'object') {
      const entries: Array<[string | number, BodyTemplateValue]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value)
      if (entries.length === 0 && path.length > 0) throw new Error(`${where}: an empty object or array (at ${at}) cannot be written by a Braintree transformation`)
      for (const [key, child] of entries) {
        if (typeof key === 'string' && /^\d+$/.test(key)) throw new Error(`${where}: the key at ${pointer([...path, key])} is all digits, which a Braintree transformation path reads as an array index`)
        walk(child, [...path, key])
      }
      return
    }
    const token = tokens.get(at)
    if (token !== undefined) {
      transformations.push({ path: '/body' + at, value: valueFor(token) })
    } else if (typeof value === 'string' && value.startsWith('$')) {
      throw new Error(`${where}: the text at ${at} starts with "$", which Braintree reads as a variable`)
    } else {
      transformations.push({ path: '/body' + at, value })
    }
  }
}

/**
 * The production config a partner submits to Braintree for review, generated from the destination
 * exactly as the adapter generates its sandbox inline config.
 */
export function braintreeForwardConfig (
  destination: { id: string, url: string, headers?: Record<string, string>, body?: BodyTemplate },
  { name }: { name: string }
): BraintreeForwardConfig {
  const where = `braintree: destination ${destination.id}`
  const template = destination.body ?? DEFAULT_TEMPLATE
  return buildConfig(where, name, destination.url, Object.keys(destination.headers ?? {}), template, parseTemplate(template, where))
}

interface BraintreePlan {
  /** url, method and config (sandbox) or name (production) */
  fixed: Record<string, unknown>
  billing: CanonicalToken[]
  sensitive: Record<string, string>
}

/** Braintree Forward API: POST /, HTTP Basic, a config inline (sandbox) or by name (production). */
export function braintree (options: BraintreeOptions): PspAdapter<BraintreeVaultRecord> {
  if (options === null || typeof options !== 'object') throw new Error('braintree: options are required')
  for (const key of ['merchantId', 'publicKey', 'privateKey'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '') throw new Error(`braintree: ${key} is required (from the Control Panel's API keys page)`)
    if (!KEY.test(options[key])) throw new Error(`braintree: ${key} must be 1 to 128 letters, digits, _ or - (as the Control Panel shows it)`)
  }
  if (options.environment !== 'sandbox' && options.environment !== 'production') throw new Error("braintree: environment must be 'sandbox' or 'production'")
  const production = options.environment === 'production'
  const names = options.configName
  const validNames = typeof names === 'string'
    ? NAME.test(names)
    : names === undefined || (names !== null && typeof names === 'object' && Object.values(names).every(n => typeof n === 'string' && NAME.test(n)))
  if (!validNames) throw new Error('braintree: configName must be a config name or a map of destination id to config name')
  if (production && names === undefined) throw new Error('braintree: configName is required in production (inline configs are sandbox only)')

  const client = createPspClient({ ...transport(options), psp: 'braintree', baseUrl: options.baseUrl ?? BASE_URL[options.environment] })
  const headers = {
    authorization: 'Basic ' + Buffer.from(`${options.publicKey}:${options.privateKey}`).toString('base64'),
    'content-type': 'application/json',
    accept: 'application/json'
  }
  const prepared = new Map<string, BraintreePlan>()

  function prepareDestination (destination: PreparedDestination): void {
    const where = `braintree: destination ${destination.id}`
    const name = typeof names === 'string' ? names : names?.[destination.id]
    if (production && name === undefined) throw new Error(`${where}: no configName for this destination (required in production)`)
    const config = buildConfig(where, name ?? `card_forwarding_${destination.id}`, destination.url, Object.keys(destination.headers), destination.template, destination.slots)
    const sensitive: Record<string, string> = {}
    Object.values(destination.headers).forEach((value, i) => { sensitive[`header_${i + 1}`] = value })
    prepared.set(destination.id, {
      fixed: { url: destination.url, method: 'POST', ...(production ? { name } : { config }) },
      billing: [...new Set(destination.slots.filter(slot => !isCardToken(slot.token)).map(slot => slot.token))],
      sensitive
    })
  }

  // Braintree documents no idempotency header: idempotencyKey is not sent.
  async function forward (input: ForwardInput<BraintreeVaultRecord>): Promise<ForwardResult> {
    const { record, destination, correlationId } = input
    const signal = abortHandleOf(input)
    const plan = prepared.get(destination.id) as BraintreePlan
    const data: Record<string, string> = {}
    for (const token of plan.billing) data[DATA_KEY[token]] = billingValue(token, record.billingAddress)
    const body = JSON.stringify({
      merchant_id: options.merchantId,
      payment_method_token: record.paymentMethodToken,
      ...plan.fixed,
      data,
      sensitive_data: plan.sensitive
    })
    // "The tracer value you pass in Trace-Id will show up in all of the logs for this request"
    // (reference/forward-api/forward): Braintree's only correlation field, for its support.
    const res = await client.post('/', { headers: { ...headers, 'trace-id': correlationId }, body, signal })
    const envelope = res.body as any
    if (res.statusCode < 200 || res.statusCode > 299) throw withUuid(forwardFailure(failure(res.statusCode, envelope?.message), res.statusCode), envelope)
    if (!isDestinationAnswer(envelope)) throw forwardFailure(new PspError('braintree', 'invalid_response'), res.statusCode)
    const time = (envelope as any)['request-time']
    return forwardResult(envelope, envelope, typeof time === 'number' ? time : res.durationMs)
  }

  return {
    name: 'braintree',
    prepareDestination,
    onboarding: (destination) => Object.keys(destination.headers).length === 0
      ? []
      : ['sensitive   the header values travel in sensitive_data with each forward, never in the reviewed config'],
    isRecord: (record): record is any => typeof record.paymentMethodToken === 'string' && TOKEN.test(record.paymentMethodToken),
    forward,
    // Braintree documents no lookup of past forwards.
    reconcile: async correlationId => ({
      outcome: 'cannot_tell',
      how: `Braintree documents no lookup of past forwards: ask Braintree support, giving the Trace-Id ${correlationId} (it is in Braintree's logs of the request) and the time`
    }),
    close: () => client.close()
  }
}

const TIMEOUT_KINDS = ['connect_timeout', 'request_timeout', 'socket_timeout'] as const

/** Braintree's error envelopes (vault-errors, validation-errors, server-errors) as a safe code. */
function failure (status: number, message: any): Error {
  if (status === 504) {
    // Braintree's own timeouts towards the destination ({ "server_error?": true, connect_timeout: … }).
    const kind = TIMEOUT_KINDS.find(k => message?.[k] !== undefined)
    return tagFailure(new PspTimeoutError('braintree'), { reason: kind === undefined ? 'server_error_504' : `destination_${kind}` })
  }
  if (message?.['vault_error?'] === true) return new PspError('braintree', `vault_error_${message.vault_status}`)
  if (message?.['validation_error?'] === true) return new PspError('braintree', 'validation_error')
  if (message?.['server_error?'] === true) return new PspError('braintree', `server_error_${status}`)
  return new PspError('braintree', `http_${status}`)
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Braintree's `request-uuid` of a failed request, for its support (only when it has the shape of a UUID). */
function withUuid (error: Error, envelope: any): Error {
  const uuid = envelope?.['request-uuid']
  return typeof uuid === 'string' && UUID.test(uuid) ? tagFailure(error, { pspReference: uuid }) : error
}
