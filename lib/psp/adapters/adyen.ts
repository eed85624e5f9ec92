import type {
  AdyenOptions, AdyenVaultRecord, CanonicalToken, ForwardInput, ForwardResult, PreparedDestination, PspAdapter, VaultedPaymentMethodBase
} from '../../../types/index.ts'
import { PspError } from '../../errors.ts'
import { abortHandleOf } from '../abort-source.ts'
import { createPspClient, transport } from '../client.ts'
import { Placeholder, renderWithPlaceholders } from '../placeholders.ts'
import { forwardFailure, forwardResult, isDestinationAnswer } from '../relay.ts'
import { billingValue, isCardToken } from '../../template.ts'

/** Adyen's limit on `request.body` (CheckoutOutgoingForwardRequest.body maxLength). */
export const ADYEN_MAX_BODY = 20_000
const FORWARD_PATH = '/v71/forward'
/**
 * Adyen's placeholders for the stored card (docs.adyen.com/online-payments/tokenization/forward-payment-details#placeholders).
 * Their format is not documented; Adyen's Card object gives `expiryMonth` as "2 digits, zero-padded"
 * and `expiryYear` as "4 digits" (Checkout API Card), which is what the default template promises.
 * Adyen has no transformation functions to enforce it.
 */
const PLACEHOLDER: Partial<Record<CanonicalToken, Placeholder>> = {
  'card.number': new Placeholder('{{number}}'),
  'card.expMonth': new Placeholder('{{expiryMonth}}'),
  'card.expYear': new Placeholder('{{expiryYear}}'),
  'card.holderName': new Placeholder('{{holderName}}')
}
const STORED_PAYMENT_METHOD_ID = /^[A-Za-z0-9]{1,64}$/
/** Adyen: at least three characters; here also printable ASCII and bounded. */
const SHOPPER_REFERENCE = /^[\x20-\x7E]{3,256}$/
const LIVE_PREFIX = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const HEADER_VALUE = /^[\x21-\x7E]+$/

interface AdyenDestination {
  baseUrl: string
  urlSuffix: string
  headers: Record<string, string>
  credentials: string | undefined
  /** The body when the template needs nothing from the vault record. */
  staticBody: string | null
}

type AdyenRecord = AdyenVaultRecord & VaultedPaymentMethodBase

/**
 * What fills each token. Adyen does not document whether what it substitutes is JSON-escaped
 * (CheckoutOutgoingForwardRequest.body: "Adyen replaces the placeholders with the payment
 * details"): a holder name such as `O"Brien` might break the JSON Rokt receives. So the vault's
 * `cardholderName`, when the record has one, is written by us instead of `{{holderName}}`, and is
 * exact either way. Adyen tokens hold no CVC and Adyen has no stored-CVC placeholder
 * (`paymentMethod.cvc` / `encryptedSecurityCode` are for card details sent with the request):
 * `{{card.cvc}}` goes out empty.
 */
function fillFor (record: AdyenRecord | undefined) {
  return (token: CanonicalToken): unknown => {
    if (token === 'card.holderName' && record?.cardholderName !== undefined) return record.cardholderName
    if (isCardToken(token)) return PLACEHOLDER[token] ?? ''
    return billingValue(token, record?.billingAddress)
  }
}

function checkOptions (options: AdyenOptions): void {
  if (options === null || typeof options !== 'object') throw new Error('adyen: options are required')
  if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new Error('adyen: apiKey is required (an API key of your Checkout API credential)')
  if (!HEADER_VALUE.test(options.apiKey)) throw new Error('adyen: apiKey must be printable ASCII without spaces, as the Customer Area shows it')
  if (typeof options.merchantAccount !== 'string' || options.merchantAccount.length === 0) throw new Error('adyen: merchantAccount is required')
  if (options.environment !== 'test' && options.environment !== 'live') throw new Error("adyen: environment must be 'test' or 'live'")
  if (options.liveUrlPrefix !== undefined && (typeof options.liveUrlPrefix !== 'string' || !LIVE_PREFIX.test(options.liveUrlPrefix))) {
    throw new Error('adyen: liveUrlPrefix must be the prefix of your live endpoint (letters, digits, hyphens)')
  }
  if (options.environment === 'live' && options.liveUrlPrefix === undefined && options.baseUrl === undefined) {
    throw new Error('adyen: liveUrlPrefix is required for the live environment')
  }
  if (options.credentialsHeader !== undefined && (typeof options.credentialsHeader !== 'string' || options.credentialsHeader === '')) {
    throw new Error('adyen: credentialsHeader must be the name of a destination header')
  }
}

/** Adyen Checkout API: POST /v71/forward with the stored card's placeholders in a JSON string body. */
export function adyen (options: AdyenOptions): PspAdapter<AdyenVaultRecord> {
  checkOptions(options)
  const baseUrl = options.baseUrl ?? (options.environment === 'live'
    ? `https://${options.liveUrlPrefix}-checkout-live.adyenpayments.com/checkout`
    : 'https://checkout-test.adyen.com')
  const client = createPspClient({ ...transport(options), psp: 'adyen', baseUrl })
  const merchantAccount = options.merchantAccount
  const credentialsHeader = options.credentialsHeader?.toLowerCase()
  const auth = { 'x-api-key': options.apiKey, 'content-type': 'application/json', accept: 'application/json' }
  const prepared = new Map<string, AdyenDestination>()

  function prepareDestination (destination: PreparedDestination): void {
    for (const { token } of destination.slots) {
      if (!Object.hasOwn(PLACEHOLDER, token) && token !== 'card.cvc' && !token.startsWith('billing.')) {
        throw new Error(`adyen: cannot fill {{${token}}} for destination ${destination.id}`)
      }
    }
    const url = URL.parse(destination.url)
    if (url === null) throw new Error(`adyen: destination ${destination.id} has an invalid url`)
    // Billing values come from the vault record at request time; this is the body's size without them.
    const bare = renderWithPlaceholders(destination.template, destination.slots, fillFor(undefined))
    if (bare.length > ADYEN_MAX_BODY) {
      throw new Error(`adyen: the body for destination ${destination.id} is ${bare.length} characters; Adyen accepts at most ${ADYEN_MAX_BODY}`)
    }
    const headers: { [name: string]: string } = { ...destination.headers }
    let credentials: string | undefined
    if (credentialsHeader !== undefined) {
      const name = Object.keys(headers).find(h => h.toLowerCase() === credentialsHeader)
      if (name === undefined) throw new Error(`adyen: destination ${destination.id} has no header ${options.credentialsHeader} (credentialsHeader)`)
      // "Supports the {{credentials}} placeholder" (CheckoutOutgoingForwardRequest.headers): one credential per request.
      credentials = headers[name]
      headers[name] = '{{credentials}}'
    }
    if (!Object.keys(headers).some(name => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json'
    prepared.set(destination.id, {
      baseUrl: url.origin,
      urlSuffix: url.pathname + url.search,
      headers,
      credentials,
      staticBody: destination.slots.some(s => !isCardToken(s.token) || s.token === 'card.holderName') ? null : bare
    })
  }

  async function forward (input: ForwardInput<AdyenVaultRecord>): Promise<ForwardResult> {
    const { record, destination, idempotencyKey, correlationId } = input
    const signal = abortHandleOf(input)
    if (!prepared.has(destination.id)) prepareDestination(destination)
    const plan = prepared.get(destination.id) as AdyenDestination
    const body = plan.staticBody ?? renderWithPlaceholders(destination.template, destination.slots, fillFor(record))
    // A long vault address can push the body past Adyen's limit: refuse before calling.
    if (body.length > ADYEN_MAX_BODY) throw new PspError('adyen', 'request_body_too_long')
    const request: { [k: string]: unknown } = { httpMethod: 'post', urlSuffix: plan.urlSuffix, headers: plan.headers, body }
    if (plan.credentials !== undefined) request.credentials = plan.credentials
    const payload = {
      merchantAccount,
      // "Merchant defined payment reference" (CheckoutForwardRequest.merchantReference): it comes back in
      // the answer and in the forwardApi.notification webhook, the only record of a forward Adyen offers.
      merchantReference: correlationId,
      shopperReference: record.shopperReference,
      storedPaymentMethodId: record.storedPaymentMethodId,
      baseUrl: plan.baseUrl,
      request
    }
    const headers: { [name: string]: string } = { ...auth }
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey
    const res = await client.post(FORWARD_PATH, { headers, body: JSON.stringify(payload), signal })
    const envelope = res.body as any
    if (res.statusCode < 200 || res.statusCode > 299) {
      throw forwardFailure(new PspError('adyen', envelope?.errorCode ?? `http_${res.statusCode}`), res.statusCode)
    }
    const response = envelope?.response
    if (!isDestinationAnswer(response)) throw forwardFailure(new PspError('adyen', 'invalid_response'), res.statusCode)
    // Adyen reports no duration of its own: the whole /forward call, measured here.
    return forwardResult(response, envelope, res.durationMs)
  }

  return {
    name: 'adyen',
    prepareDestination,
    onboarding: (destination) => {
      const names = Object.keys(destination.headers)
      const credential = names.find(name => name.toLowerCase() === credentialsHeader)
      const sent = names.filter(name => name !== credential)
      return [
        ...(credential === undefined ? [] : [`credentials ${credential} travels as Adyen's request.credentials, the header as {{credentials}}: nothing to register`]),
        ...(sent.length === 0 ? [] : [`sent        ${sent.join(', ')} travel as request headers with each forward (set credentialsHeader to send one as request.credentials)`]),
        'reconcile   subscribe to the forwardApi.notification webhook: Adyen has no lookup of past forwards (merchantReference is the correlation id)'
      ]
    },
    isRecord: (record): record is any =>
      typeof record.storedPaymentMethodId === 'string' && STORED_PAYMENT_METHOD_ID.test(record.storedPaymentMethodId) &&
      typeof record.shopperReference === 'string' && SHOPPER_REFERENCE.test(record.shopperReference),
    forward,
    // Adyen documents no lookup of past forwards: only the webhook, sent for successful ones
    // (Adyen/adyen-openapi json/ForwardApiNotification-v1.json), and the Customer Area.
    reconcile: async correlationId => ({
      outcome: 'cannot_tell',
      how: `Adyen has no API to look a forward up. Adyen sends the forwardApi.notification webhook for each successful forward, with merchantReference ${correlationId}; without it, ask Adyen support or look in the Customer Area`
    }),
    close: () => client.close()
  }
}
