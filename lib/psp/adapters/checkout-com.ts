import type { CanonicalToken, CheckoutComOptions, CheckoutComVaultRecord, ForwardInput, ForwardResult, PreparedDestination, PspAdapter } from '../../../types/index.ts'
import { PspError, safeCode } from '../../errors.ts'
import { createPspClient, transport } from '../client.ts'
import { forwardFailure, forwardResult, isDestinationAnswer } from '../relay.ts'
import { renderTemplate } from '../../template.ts'

/** The Forward API hosts (checkout-sdk-node src/config.js FORWARD_SANDBOX_URL / FORWARD_LIVE_URL). */
export const CHECKOUT_COM_FORWARD_URLS = {
  sandbox: 'https://forward.sandbox.checkout.com',
  production: 'https://forward.checkout.com'
} as const

/** Checkout.com's limits on `destination_request.body` and `.url` (checkout-sdk-go forward/forward.go). */
export const CHECKOUT_COM_MAX_BODY = 16_384
const MAX_URL = 1024

const NAME = 'checkout.com'
const PLACEHOLDER: Record<CanonicalToken, string> = {
  'card.number': '{{card_number}}',
  'card.expMonth': '{{card_expiry_month_mm}}',
  'card.expYear': '{{card_expiry_year_yyyy}}',
  'card.holderName': '{{cardholder_name}}',
  // {{card_cvv}} needs a cvv_token collected from the shopper now; a stored instrument keeps no CVV.
  'card.cvc': '',
  'billing.line1': '{{billing_address_line1}}',
  'billing.line2': '{{billing_address_line2}}',
  'billing.city': '{{billing_address_city}}',
  'billing.state': '{{billing_address_state}}',
  'billing.postalCode': '{{billing_address_zip}}',
  'billing.country': '{{billing_address_country}}'
}

// Key shapes as checkout-sdk-node (src/config.js) tells them apart.
const NAS_KEY = /^sk_(?:sbox_)?[a-z2-7]{26}[a-z2-7*#$=]$/
const SANDBOX_KEY = /^sk_(?:sbox|test)_/
const LIVE_KEY = /^sk_(?:[a-z2-7]{26}[a-z2-7*#$=]|\w{8}-\w{4}-\w{4}-\w{4}-\w{12})$/
const KEY = /^(?:Bearer )?[\x21-\x7E]{8,512}$/
const PROCESSING_CHANNEL = /^pc_\w{26}$/
const SOURCE_ID = /^src_[a-z0-9]{1,64}$/i

/** As checkout-sdk-node sends a static key: NAS keys as `Bearer sk_…`, previous-platform keys bare. */
export function checkoutComAuthorization (secretKey: string): string {
  return NAS_KEY.test(secretKey) ? `Bearer ${secretKey}` : secretKey
}

/** Checkout.com Forward API: POST /forward, the stored instrument's `{{…}}` placeholders in a string body. */
export function checkoutCom (options: CheckoutComOptions): PspAdapter<CheckoutComVaultRecord> {
  if (options === null || typeof options !== 'object') throw new Error(`${NAME}: options are required`)
  if (typeof options.secretKey !== 'string' || !KEY.test(options.secretKey)) throw new Error(`${NAME}: secretKey is required (a Checkout.com secret API key)`)
  if (options.environment !== 'sandbox' && options.environment !== 'production') throw new Error(`${NAME}: environment must be 'sandbox' or 'production'`)
  if (options.environment === 'production' && SANDBOX_KEY.test(options.secretKey)) throw new Error(`${NAME}: secretKey is a sandbox key but environment is 'production'`)
  if (options.environment === 'sandbox' && LIVE_KEY.test(options.secretKey)) throw new Error(`${NAME}: secretKey is a live key but environment is 'sandbox'`)
  if (options.processingChannelId !== undefined && (typeof options.processingChannelId !== 'string' || !PROCESSING_CHANNEL.test(options.processingChannelId))) {
    throw new Error(`${NAME}: processingChannelId must be a processing channel id (pc_ and 26 characters)`)
  }
  const client = createPspClient({ ...transport(options), psp: NAME, baseUrl: options.baseUrl ?? CHECKOUT_COM_FORWARD_URLS[options.environment] })
  const auth = { authorization: checkoutComAuthorization(options.secretKey), 'content-type': 'application/json' }
  const tail = options.processingChannelId === undefined ? '}' : `,"processing_channel_id":${JSON.stringify(options.processingChannelId)}}`
  /** Destination id -> its `destination_request`, already JSON: the request path only adds the source. */
  const prepared = new Map<string, string>()

  function prepareDestination (destination: PreparedDestination): string {
    const where = `destination ${destination.id}`
    for (const { token } of destination.slots) {
      if (!Object.hasOwn(PLACEHOLDER, token)) throw new Error(`${NAME}: cannot fill {{${token}}} for ${where}`)
    }
    if (destination.url.length > MAX_URL) throw new Error(`${NAME}: the url of ${where} is longer than ${MAX_URL} characters, Checkout.com's limit`)
    // Checkout.com reads any {{…}} in the body or a raw header value as a placeholder: only ours may be there.
    const bare = JSON.stringify(renderTemplate(destination.template, destination.slots, () => ''))
    if (bare.includes('{{')) throw new Error(`${NAME}: the body of ${where} contains "{{" outside a token`)
    const raw: Record<string, string> = { ...destination.headers }
    for (const [name, value] of Object.entries(raw)) {
      if (value.includes('{{')) throw new Error(`${NAME}: header ${name} of ${where} contains "{{", which Checkout.com would read as a placeholder`)
    }
    if (!Object.keys(raw).some(name => name.toLowerCase() === 'content-type')) raw['Content-Type'] = 'application/json'
    const body = JSON.stringify(renderTemplate(destination.template, destination.slots, token => PLACEHOLDER[token]))
    if (body.length > CHECKOUT_COM_MAX_BODY) {
      throw new Error(`${NAME}: the body of ${where} is ${body.length} characters; Checkout.com accepts at most ${CHECKOUT_COM_MAX_BODY}`)
    }
    const json = JSON.stringify({ url: destination.url, method: 'POST', headers: { raw }, body })
    prepared.set(destination.id, json)
    return json
  }

  async function forward ({ record, destination, idempotencyKey, signal }: ForwardInput<CheckoutComVaultRecord>): Promise<ForwardResult> {
    const destinationRequest = prepared.get(destination.id) ?? prepareDestination(destination)
    // Every fragment is JSON.stringify output: no untrusted value is concatenated raw.
    const payload = `{"source":${JSON.stringify({ type: 'id', id: record.sourceId })},"destination_request":${destinationRequest}${tail}`
    const headers: Record<string, string> = { ...auth }
    if (idempotencyKey !== undefined) headers['cko-idempotency-key'] = idempotencyKey
    const res = await client.post('/forward', { headers, body: payload, signal })
    const envelope = res.body as any
    if (res.statusCode < 200 || res.statusCode > 299) throw forwardFailure(new PspError(NAME, errorCode(res.statusCode, envelope)), res.statusCode)
    const response = envelope?.destination_response
    if (!isDestinationAnswer(response)) {
      // destination_response is "optional: present if the forward request completed successfully".
      // Without it the destination never answered (unreachable, timed out): say so, not "garbage".
      const forwardedButUnanswered = response === undefined && typeof envelope?.request_id === 'string'
      throw forwardFailure(new PspError(NAME, forwardedButUnanswered ? 'no_destination_response' : 'invalid_response'), res.statusCode)
    }
    // Checkout.com reports no duration of its own: the whole /forward call, measured here.
    return forwardResult(response, envelope, res.durationMs)
  }

  return {
    name: NAME,
    prepareDestination: (destination) => { prepareDestination(destination) },
    isRecord: (record): record is any => typeof record.sourceId === 'string' && SOURCE_ID.test(record.sourceId),
    forward,
    close: () => client.close()
  }
}

/** Checkout.com's envelope `{ request_id, error_type, error_codes: [...] }`: the first code, else the type, else the status. */
function errorCode (status: number, envelope: any): string {
  const first = Array.isArray(envelope?.error_codes) ? envelope.error_codes[0] : undefined
  if (typeof first === 'string') return safeCode(first)
  if (typeof envelope?.error_type === 'string') return safeCode(envelope.error_type)
  return `http_${status}`
}
