import type {
  BillingAddress, ForwardInput, ForwardResult, PreparedDestination, PspAbortSignal, PspAdapter, PspClient, PspResponse, StripeOptions, StripeVaultRecord
} from '../../../types/index.ts'
import { PspError, tagFailure } from '../../errors.ts'
import { abortHandleOf } from '../abort-source.ts'
import { createPspClient, transport } from '../client.ts'
import { forwardFailure, forwardResult, isDestinationAnswer } from '../relay.ts'
import { billingValue, compileTemplate, isCardToken, type TemplateRenderer } from '../../template.ts'
import { reconcileStripe, STRIPE_CORRELATION_KEY } from './stripe-reconcile.ts'

/**
 * The Stripe-Version every call sends. From 2025-03-31.basil a timeout before Stripe connects to
 * the destination answers 402 ("allowing for safe retries") where older versions answer 502/504
 * like any upstream error (https://docs.stripe.com/changelog/basil/2025-03-31/vault-forward-api-returns-402);
 * the ForwardingRequest `metadata` the correlation id travels in dates from 2024-10-28.acacia
 * (https://docs.stripe.com/changelog/acacia/2024-10-28/forwarding-api-metadata-field).
 */
export const STRIPE_API_VERSION = '2025-03-31.basil'
const API_VERSION = /^(\d{4}-\d{2}-\d{2})\.[a-z]+$/
const FIRST_402_VERSION = '2025-03-31'
const PREFIX = /^(?:sk|rk)_(?:test|live)_/
const KEY_BODY = /^[A-Za-z0-9_]{4,247}$/
const PAYMENT_METHOD = /^pm_[A-Za-z0-9_]{1,250}$/
const HEADER_NAME = /^[!#$%&'*+.^`|~\w-]+$/
const FORWARD_PATH = '/v1/forwarding/requests'
const BODY_FIELD = new URLSearchParams({ 'request[body]': '' }).toString()
const CORRELATION_FIELD = new URLSearchParams({ [`metadata[${STRIPE_CORRELATION_KEY}]`]: '' }).toString()
const REPLACEMENT: Record<string, string> = {
  'card.number': 'card_number',
  'card.expMonth': 'card_expiry',
  'card.expYear': 'card_expiry',
  'card.cvc': 'card_cvc',
  'card.holderName': 'cardholder_name'
}
/**
 * stripe-node classifies an error by its HTTP status where Stripe's envelope gives no code
 * (src/Error.ts generateV1Error): a wrong key is a 401 `invalid_request_error`, named here as the SDK names it.
 */
const BY_STATUS: Record<number, string> = { 401: 'authentication_error', 403: 'permission_error', 429: 'rate_limit_error' }

interface StripeDestination {
  /** The encoded form fields that never change for this destination (url, headers, replacements), between `&`s. */
  fixed: string
  /** The template, its JSON text form-encoded */
  render: TemplateRenderer
  /** The encoded body field when the template needs nothing from the vault record. */
  staticBody: string | null
}

/**
 * A form value encoded as URLSearchParams encodes it (the WHATWG urlencoded serializer: space as
 * `+`, everything but ASCII letters, digits and `*-._` percent-encoded). The values given here
 * are JSON text and ASCII ids, well-formed UTF-16 (JSON.stringify escapes lone surrogates).
 */
function formValue (value: string): string {
  // An id (the payment method, the correlation id) is its own encoding.
  if (FORM_SAFE.test(value)) return value
  // A space is the triple %20 in encodeURIComponent's output (a % there always starts a triple).
  const encoded = encodeURIComponent(value).replaceAll('%20', '+')
  // Most values hold none of the five: no regular-expression replace, no callback per match.
  return NOT_FORM_SAFE.test(encoded) ? encoded.replace(NOT_FORM_SAFE_ALL, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : encoded
}
/**
 * formValue(JSON.stringify(text)). A text of ASCII letters, digits, spaces and `_.*-` (most address
 * fields) is its own JSON string content and its own form encoding but for spaces: neither call needed.
 */
function formJsonString (text: unknown): string {
  // A vault record is the partner's data: a number (a numeric postal code) goes out as JSON gives it.
  return typeof text === 'string' && FORM_PLAIN.test(text) ? `%22${text.replaceAll(' ', '+')}%22` : formValue(JSON.stringify(text))
}
const FORM_PLAIN = /^[\w .*-]*$/
/** What the urlencoded serializer writes as it is: ASCII letters, digits and `*-._`. */
const FORM_SAFE = /^[\w.*-]*$/
/** What encodeURIComponent leaves as it is and the urlencoded serializer does not. */
const NOT_FORM_SAFE = /[!'()~]/
const NOT_FORM_SAFE_ALL = /[!'()~]/g
/** The JSON text "", form-encoded. */
const EMPTY_STRING = formValue('""')

/** Stripe's error envelope `{ error: { type, code?, message } }`: keep the code, else the SDK's class for the status, else the type. */
export function stripeError (status: number, body: unknown): PspError {
  const error = Object(Object(body).error)
  return new PspError('stripe', error.code ?? BY_STATUS[status] ?? error.type)
}

function checkOptions (options: StripeOptions): void {
  if (options === null || typeof options !== 'object' || typeof options.apiKey !== 'string' || options.apiKey === '') {
    throw new Error('stripe: apiKey is required (a Stripe secret key, sk_test_…/sk_live_…, or a restricted key, rk_test_…/rk_live_…)')
  }
  const prefix = PREFIX.exec(options.apiKey)?.[0]
  if (prefix === undefined) {
    // The two-letter prefix names the kind of key (pk_ publishable, whsec_ …): not secret, and the useful part.
    const seen = /^[a-z]{2,5}_/.exec(options.apiKey)?.[0]
    throw new Error(`stripe: apiKey must start with sk_test_, sk_live_, rk_test_ or rk_live_ (a secret or restricted key)${seen === undefined ? '' : `, not ${seen}`}`)
  }
  const body = options.apiKey.slice(prefix.length)
  if (!KEY_BODY.test(body)) {
    throw new Error(`stripe: apiKey has the ${prefix} prefix, then ${body.length} characters: a Stripe key has 4 to 247 letters, digits or underscores after its prefix`)
  }
  const version = options.apiVersion ?? STRIPE_API_VERSION
  const date = typeof version === 'string' ? API_VERSION.exec(version)?.[1] : undefined
  if (date === undefined) throw new Error("stripe: apiVersion must be a Stripe API version such as '2025-03-31.basil'")
  if (date < FIRST_402_VERSION) {
    throw new Error(`stripe: apiVersion must be ${STRIPE_API_VERSION} or later: earlier versions answer a timeout before connecting to the destination with 502/504, which reads as "may have forwarded"`)
  }
  if (options.cvc !== undefined && options.cvc !== 'blank' && options.cvc !== 'when-stored') throw new Error("stripe: cvc must be 'blank' or 'when-stored'")
  const onboarded = options.onboardedHeaders
  if (onboarded !== undefined && (!Array.isArray(onboarded) || !onboarded.every(name => typeof name === 'string' && HEADER_NAME.test(name)))) {
    throw new Error('stripe: onboardedHeaders must be an array of header names')
  }
}

/** Stripe Vault and Forward: POST /v1/forwarding/requests, form-encoded, card fields left empty. */
export function stripe (options: StripeOptions): PspAdapter<StripeVaultRecord> {
  checkOptions(options)
  const client: PspClient = createPspClient({ ...transport(options), psp: 'stripe', baseUrl: options.baseUrl ?? 'https://api.stripe.com' })
  const auth = { authorization: `Bearer ${options.apiKey}`, 'stripe-version': options.apiVersion ?? STRIPE_API_VERSION }
  const formHeaders = Object.freeze({ ...auth, 'content-type': 'application/x-www-form-urlencoded' })
  const askCvc = options.cvc === 'when-stored'
  const onboarded = new Set((options.onboardedHeaders ?? []).map(name => name.toLowerCase()))
  const prepared = new Map<string, StripeDestination>()

  function prepareDestination (destination: PreparedDestination): void {
    const fixed: Array<[string, string]> = [['url', destination.url]]
    // Headers Stripe holds from onboarding are added by Stripe: sending them too would put the secret in every request.
    Object.entries(destination.headers).filter(([name]) => !onboarded.has(name.toLowerCase())).forEach(([name, value], i) => {
      fixed.push([`request[headers][${i}][name]`, name], [`request[headers][${i}][value]`, value])
    })
    const cards = destination.slots.filter(s => isCardToken(s.token) && (askCvc || s.token !== 'card.cvc'))
    const replacements = [...new Set(cards.map(s => REPLACEMENT[s.token]))]
    replacements.forEach((r, i) => fixed.push([`replacements[${i}]`, r]))
    const needsBilling = destination.slots.some(s => !isCardToken(s.token))
    const plan: StripeDestination = { fixed: new URLSearchParams(fixed).toString(), render: compileTemplate(destination.template, destination.slots, formValue), staticBody: null }
    if (!needsBilling) plan.staticBody = bodyField(plan, undefined)
    prepared.set(destination.id, plan)
  }

  // Stripe has no card placeholders: card fields go out empty and Stripe fills them in (a CVC it is not asked for stays empty).
  function bodyField (plan: StripeDestination, address: BillingAddress | undefined): string {
    // The template's fixed text was form-encoded once (compileTemplate): only the values are encoded here.
    return BODY_FIELD + plan.render(token => isCardToken(token) ? EMPTY_STRING : formJsonString(billingValue(token, address)))
  }

  async function billingOf (record: StripeVaultRecord & { billingAddress?: BillingAddress }, signal: PspAbortSignal | undefined): Promise<BillingAddress | undefined> {
    if (record.billingAddress !== undefined) return record.billingAddress
    let res
    try {
      res = await client.get(`/v1/payment_methods/${record.paymentMethod}`, { headers: auth, signal })
    } catch (err) {
      // A lookup that failed, even mid-answer, forwarded nothing.
      throw tagFailure(err as Error, { outcome: 'not_sent' })
    }
    if (res.statusCode !== 200) throw stripeError(res.statusCode, res.body)
    // A PaymentMethod may lack billing_details or its address: Object() turns a missing level into {}.
    const address = Object(Object(Object(res.body).billing_details).address)
    const pick = (v: unknown) => typeof v === 'string' ? v : undefined
    return {
      line1: pick(address.line1),
      line2: pick(address.line2),
      city: pick(address.city),
      state: pick(address.state),
      postalCode: pick(address.postal_code),
      country: pick(address.country)
    }
  }

  async function forward (input: ForwardInput<StripeVaultRecord>): Promise<ForwardResult> {
    const { record, destination, idempotencyKey, correlationId } = input
    const signal = abortHandleOf(input)
    const plan = prepared.get(destination.id) as StripeDestination
    const body = plan.staticBody ?? bodyField(plan, await billingOf(record, signal))
    // The fields in the order Stripe's form has always had them here: payment method, destination, body, metadata.
    const form = `payment_method=${formValue(record.paymentMethod)}&${plan.fixed}&${body}&${CORRELATION_FIELD}${formValue(correlationId)}`
    const headers = idempotencyKey === undefined ? formHeaders : { ...formHeaders, 'idempotency-key': idempotencyKey }
    const res = await client.post(FORWARD_PATH, { headers, body: form, signal })
    if (res.statusCode !== 200) throw failureOf(res)
    const envelope = res.body as any
    const details = envelope?.response_details
    if (!isDestinationAnswer(details)) throw forwardFailure(new PspError('stripe', 'invalid_response'), res.statusCode)
    const duration = envelope.request_context?.destination_duration
    return forwardResult(details, envelope, typeof duration === 'number' ? duration : res.durationMs)
  }

  /** What to give or ask Stripe at onboarding: Stripe configures each destination (the api reference's Forwarding Request). */
  function onboarding (destination: PreparedDestination): string[] {
    const lines: string[] = []
    if (destination.slots.some(s => s.token === 'card.expMonth' || s.token === 'card.expYear')) {
      lines.push('expiry      ask Stripe to write card_expiry as a two-digit month (MM) and a four-digit year (YYYY)')
    }
    const names = Object.keys(destination.headers)
    const held = names.filter(name => onboarded.has(name.toLowerCase()))
    const sent = names.filter(name => !onboarded.has(name.toLowerCase()))
    if (held.length > 0) lines.push(`credentials give Stripe the value of ${held.join(', ')} at onboarding: Stripe adds it, the adapter never sends it`)
    if (sent.length > 0) lines.push(`sent        ${sent.join(', ')} travel with each forward (to keep a secret at Stripe instead, give it at onboarding and list it in onboardedHeaders)`)
    if (destination.slots.some(s => s.token === 'card.cvc')) {
      lines.push(askCvc ? "cvc         Stripe fills it while it holds the CVC (cvc: 'when-stored')" : "cvc         not asked for: sent empty (cvc: 'blank')")
    }
    return lines
  }

  return {
    name: 'stripe',
    prepareDestination,
    onboarding,
    isRecord: (record): record is any => typeof record.paymentMethod === 'string' && PAYMENT_METHOD.test(record.paymentMethod),
    forward,
    reconcile: (correlationId, reconcileOptions) => reconcileStripe(client, auth, stripeError, correlationId, reconcileOptions),
    close: () => client.close()
  }
}

/**
 * A refusal. The pinned version's 402 `forwarding_api_upstream_connection_timeout` says Stripe
 * never reached the destination: nothing was sent. Stripe saves that answer under the
 * idempotency key like any other once execution began (https://docs.stripe.com/api/idempotent_requests),
 * so a retry with the same key gets it again: see the README's runbook.
 */
function failureOf (res: PspResponse): PspError {
  const error = forwardFailure(stripeError(res.statusCode, res.body), res.statusCode)
  return res.statusCode === 402 && error.reason === 'forwarding_api_upstream_connection_timeout' ? tagFailure(error, { outcome: 'not_sent' }) : error
}
