import type { AdyenOptions, AdyenVaultRecord, BillingAddress, CanonicalToken, ForwardInput, ForwardResult, PreparedDestination, PspAdapter } from '../../../types/index.ts'
import { PspError, safeCode } from '../../errors.ts'
import { createPspClient, transport } from '../client.ts'
import { forwardFailure, forwardResult, isDestinationAnswer } from '../relay.ts'
import { billingValue, isCardToken, renderTemplate } from '../../template.ts'

/** Adyen's limit on `request.body` (CheckoutOutgoingForwardRequest.body maxLength). */
export const ADYEN_MAX_BODY = 20_000
const FORWARD_PATH = '/v71/forward'
const PLACEHOLDER: Partial<Record<CanonicalToken, string>> = {
  'card.number': '{{number}}',
  'card.expMonth': '{{expiryMonth}}',
  'card.expYear': '{{expiryYear}}',
  'card.holderName': '{{holderName}}',
  // Adyen tokens hold no CVC and Adyen has no stored-CVC placeholder: "if available" means empty here.
  'card.cvc': ''
}
const STORED_PAYMENT_METHOD_ID = /^[A-Za-z0-9]{1,64}$/
/** Adyen: at least three characters; here also printable ASCII and bounded. */
const SHOPPER_REFERENCE = /^[\x20-\x7E]{3,256}$/
const LIVE_PREFIX = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const HEADER_VALUE = /^[\x21-\x7E]+$/
/**
 * Adyen substitutes `{{...}}` anywhere in the body text, so a vault value such as "{{number}}" would become
 * the PAN. Braces in vault values travel as JSON escapes (\u007b, \u007d): Adyen sees no placeholder and the
 * destination's JSON parser restores the exact value. These private-use marks stand in for them while rendering.
 */
const OPEN = '\uE000'
const CLOSE = '\uE001'

interface AdyenDestination {
  baseUrl: string
  urlSuffix: string
  headers: Record<string, string>
  /** The body when the template needs nothing from the vault record. */
  staticBody: string | null
}

/** Adyen Checkout API: POST /v71/forward with the stored card's placeholders in a JSON string body. */
export function adyen (options: AdyenOptions): PspAdapter<AdyenVaultRecord> {
  if (options === null || typeof options !== 'object') throw new Error('adyen: options are required')
  if (typeof options.apiKey !== 'string' || !HEADER_VALUE.test(options.apiKey)) throw new Error('adyen: apiKey is required')
  if (typeof options.merchantAccount !== 'string' || options.merchantAccount.length === 0) throw new Error('adyen: merchantAccount is required')
  if (options.environment !== 'test' && options.environment !== 'live') throw new Error("adyen: environment must be 'test' or 'live'")
  if (options.liveUrlPrefix !== undefined && (typeof options.liveUrlPrefix !== 'string' || !LIVE_PREFIX.test(options.liveUrlPrefix))) {
    throw new Error('adyen: liveUrlPrefix must be the prefix of your live endpoint (letters, digits, hyphens)')
  }
  if (options.environment === 'live' && options.liveUrlPrefix === undefined && options.baseUrl === undefined) {
    throw new Error('adyen: liveUrlPrefix is required for the live environment')
  }
  const baseUrl = options.baseUrl ?? (options.environment === 'live'
    ? `https://${options.liveUrlPrefix}-checkout-live.adyenpayments.com/checkout`
    : 'https://checkout-test.adyen.com')
  const client = createPspClient({ ...transport(options), psp: 'adyen', baseUrl })
  const merchantAccount = options.merchantAccount
  const auth = { 'x-api-key': options.apiKey, 'content-type': 'application/json', accept: 'application/json' }
  const prepared = new Map<string, AdyenDestination>()

  function render (destination: PreparedDestination, address: BillingAddress | undefined): string {
    const json = JSON.stringify(renderTemplate(destination.template, destination.slots, token =>
      isCardToken(token) ? PLACEHOLDER[token] : billingValue(token, address).replaceAll('{', OPEN).replaceAll('}', CLOSE)))
    return json.replaceAll(OPEN, '\\u007b').replaceAll(CLOSE, '\\u007d')
  }

  function prepareDestination (destination: PreparedDestination): void {
    for (const { token } of destination.slots) {
      if (!Object.hasOwn(PLACEHOLDER, token) && !token.startsWith('billing.')) {
        throw new Error(`adyen: cannot fill {{${token}}} for destination ${destination.id}`)
      }
    }
    const url = URL.parse(destination.url)
    if (url === null) throw new Error(`adyen: destination ${destination.id} has an invalid url`)
    // Billing values come from the vault record at request time; this is the body's size without them.
    const bare = render(destination, undefined)
    if (bare.length > ADYEN_MAX_BODY) {
      throw new Error(`adyen: the body for destination ${destination.id} is ${bare.length} characters; Adyen accepts at most ${ADYEN_MAX_BODY}`)
    }
    const headers: Record<string, string> = { ...destination.headers }
    if (!Object.keys(headers).some(name => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json'
    prepared.set(destination.id, {
      baseUrl: url.origin,
      urlSuffix: url.pathname + url.search,
      headers,
      staticBody: destination.slots.some(s => !isCardToken(s.token)) ? null : bare
    })
  }

  async function forward ({ record, destination, idempotencyKey, signal }: ForwardInput<AdyenVaultRecord>): Promise<ForwardResult> {
    if (!prepared.has(destination.id)) prepareDestination(destination)
    const plan = prepared.get(destination.id) as AdyenDestination
    const body = plan.staticBody ?? render(destination, record.billingAddress)
    // A long vault address can push the body past Adyen's limit: refuse before calling.
    if (body.length > ADYEN_MAX_BODY) throw new PspError('adyen', 'request_body_too_long')
    const payload = {
      merchantAccount,
      shopperReference: record.shopperReference,
      storedPaymentMethodId: record.storedPaymentMethodId,
      baseUrl: plan.baseUrl,
      request: { httpMethod: 'post', urlSuffix: plan.urlSuffix, headers: plan.headers, body }
    }
    const headers: Record<string, string> = { ...auth }
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey
    const res = await client.post(FORWARD_PATH, { headers, body: JSON.stringify(payload), signal })
    const envelope = res.body as any
    if (res.statusCode < 200 || res.statusCode > 299) throw forwardFailure(new PspError('adyen', safeCode(envelope?.errorCode)), res.statusCode)
    const response = envelope?.response
    if (!isDestinationAnswer(response)) throw forwardFailure(new PspError('adyen', 'invalid_response'), res.statusCode)
    // Adyen reports no duration of its own: the whole /forward call, measured here.
    return forwardResult(response, envelope, res.durationMs)
  }

  return {
    name: 'adyen',
    prepareDestination,
    isRecord: (record): record is any =>
      typeof record.storedPaymentMethodId === 'string' && STORED_PAYMENT_METHOD_ID.test(record.storedPaymentMethodId) &&
      typeof record.shopperReference === 'string' && SHOPPER_REFERENCE.test(record.shopperReference),
    forward,
    close: () => client.close()
  }
}
