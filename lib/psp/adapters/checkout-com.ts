import type {
  CanonicalToken, CheckoutComOptions, CheckoutComVaultRecord, ForwardInput, ForwardResult, PreparedDestination, PspAdapter,
  PspResponse, VaultedPaymentMethodBase
} from '../../../types/index.ts'
import { PspError, tagFailure } from '../../errors.ts'
import { abortHandleOf } from '../abort-source.ts'
import { createPspClient, transport } from '../client.ts'
import { Placeholder, renderWithPlaceholders } from '../placeholders.ts'
import { forwardFailure, forwardResult, isDestinationAnswer } from '../relay.ts'
import { billingValue, isCardToken } from '../../template.ts'
import { errorCode, FORWARD_ID, reconcileCheckoutCom } from './checkout-com-reconcile.ts'

/** The Forward API hosts (checkout-sdk-node src/config.js FORWARD_SANDBOX_URL / FORWARD_LIVE_URL). */
export const CHECKOUT_COM_FORWARD_URLS = {
  sandbox: 'https://forward.sandbox.checkout.com',
  production: 'https://forward.checkout.com'
} as const

/** Checkout.com's limits on `destination_request.body` and `.url` (checkout-sdk-go forward/forward.go). */
export const CHECKOUT_COM_MAX_BODY = 16_384
const MAX_URL = 1024

const NAME = 'checkout.com'
/**
 * The stored instrument's placeholders (https://www.checkout.com/docs/payments/manage-payments/forward-stored-payment-credentials).
 * The expiry ones name their format (`_mm`, `_yyyy`): Checkout.com writes two-digit months and
 * four-digit years whatever the instrument holds, as the default template promises.
 */
const PLACEHOLDER: Record<Exclude<CanonicalToken, 'card.cvc'>, Placeholder> = {
  'card.number': new Placeholder('{{card_number}}'),
  'card.expMonth': new Placeholder('{{card_expiry_month_mm}}'),
  'card.expYear': new Placeholder('{{card_expiry_year_yyyy}}'),
  'card.holderName': new Placeholder('{{cardholder_name}}'),
  'billing.line1': new Placeholder('{{billing_address_line1}}'),
  'billing.line2': new Placeholder('{{billing_address_line2}}'),
  'billing.city': new Placeholder('{{billing_address_city}}'),
  'billing.state': new Placeholder('{{billing_address_state}}'),
  'billing.postalCode': new Placeholder('{{billing_address_zip}}'),
  'billing.country': new Placeholder('{{billing_address_country}}')
}

// Key shapes as checkout-sdk-node (src/config.js) tells them apart.
const NAS_KEY = /^sk_(?:sbox_)?[a-z2-7]{26}[a-z2-7*#$=]$/
const SANDBOX_KEY = /^sk_(?:sbox|test)_/
const LIVE_KEY = /^sk_(?:[a-z2-7]{26}[a-z2-7*#$=]|\w{8}-\w{4}-\w{4}-\w{4}-\w{12})$/
const KEY = /^(?:Bearer )?[\x21-\x7E]{8,512}$/
const PROCESSING_CHANNEL = /^pc_\w{26}$/
/** checkout-sdk-go forward/forward.go and checkout-sdk-net: "pattern ^(src)_(\w{26})$". */
const SOURCE_ID = /^src_\w{26}$/
/** checkout-sdk-node createSecret: "name: 1-64 characters, alphanumeric + underscore". */
const SECRET_NAME = /^[A-Za-z0-9_]{1,64}$/

type CheckoutComRecord = CheckoutComVaultRecord & VaultedPaymentMethodBase

/** As checkout-sdk-node sends a static key: NAS keys as `Bearer sk_…`, previous-platform keys bare. */
export function checkoutComAuthorization (secretKey: string): string {
  return NAS_KEY.test(secretKey) ? `Bearer ${secretKey}` : secretKey
}

/**
 * What fills each token. Checkout.com does not document whether the values it substitutes are
 * JSON-escaped ("You can provide placeholder values in destination_request.body"), so what the
 * vault record knows (its `cardholderName`, its `billingAddress`) is written by us, exact whatever
 * Checkout.com does; only what it lacks comes from Checkout.com's placeholders. A stored
 * instrument keeps no CVV: `{{card_cvv}}` needs a `cvv_token` collected from the shopper for this
 * request, so `{{card.cvc}}` goes out empty.
 */
function fillFor (record: CheckoutComRecord | undefined) {
  return (token: CanonicalToken): unknown => {
    if (token === 'card.cvc') return ''
    if (token === 'card.holderName' && record?.cardholderName !== undefined) return record.cardholderName
    if (!isCardToken(token) && record?.billingAddress !== undefined) return billingValue(token, record.billingAddress)
    return PLACEHOLDER[token]
  }
}

function checkOptions (options: CheckoutComOptions): void {
  if (options === null || typeof options !== 'object') throw new Error(`${NAME}: options are required`)
  if (typeof options.secretKey !== 'string' || options.secretKey === '') throw new Error(`${NAME}: secretKey is required (a Checkout.com secret API key)`)
  if (!KEY.test(options.secretKey)) throw new Error(`${NAME}: secretKey must be 8 to 512 printable characters without spaces, as the Dashboard shows the secret key`)
  if (options.environment !== 'sandbox' && options.environment !== 'production') throw new Error(`${NAME}: environment must be 'sandbox' or 'production'`)
  if (options.environment === 'production' && SANDBOX_KEY.test(options.secretKey)) throw new Error(`${NAME}: secretKey is a sandbox key but environment is 'production'`)
  if (options.environment === 'sandbox' && LIVE_KEY.test(options.secretKey)) throw new Error(`${NAME}: secretKey is a live key but environment is 'sandbox'`)
  if (options.processingChannelId !== undefined && (typeof options.processingChannelId !== 'string' || !PROCESSING_CHANNEL.test(options.processingChannelId))) {
    throw new Error(`${NAME}: processingChannelId must be a processing channel id (pc_ and 26 letters, digits or underscores)`)
  }
  const secrets = options.secretHeaders
  if (secrets !== undefined && (secrets === null || typeof secrets !== 'object' || !Object.values(secrets).every(n => typeof n === 'string' && SECRET_NAME.test(n)))) {
    throw new Error(`${NAME}: secretHeaders must map header names to secret names (1 to 64 letters, digits or underscores, as the Secrets API allows)`)
  }
}

interface CheckoutComDestination {
  template: PreparedDestination['template']
  slots: PreparedDestination['slots']
  /** `{"url":…,"method":"POST","headers":{"raw":…},"body":`: the request path adds the body and the source. */
  head: string
  /** The body text when the vault record adds nothing. */
  staticBody: string
  /** The template has a token the vault record may fill (holder name, billing). */
  usesRecord: boolean
}

/** Checkout.com Forward API: POST /forward, the stored instrument's `{{…}}` placeholders in a string body. */
export function checkoutCom (options: CheckoutComOptions): PspAdapter<CheckoutComVaultRecord> {
  checkOptions(options)
  const client = createPspClient({ ...transport(options), psp: NAME, baseUrl: options.baseUrl ?? CHECKOUT_COM_FORWARD_URLS[options.environment] })
  const auth = { authorization: checkoutComAuthorization(options.secretKey), 'content-type': 'application/json' }
  const tail = options.processingChannelId === undefined ? '}' : `,"processing_channel_id":${JSON.stringify(options.processingChannelId)}}`
  const secretHeaders = new Map(Object.entries(options.secretHeaders ?? {}).map(([header, secret]) => [header.toLowerCase(), secret]))
  const prepared = new Map<string, CheckoutComDestination>()

  function prepareDestination (destination: PreparedDestination): CheckoutComDestination {
    const where = `destination ${destination.id}`
    for (const { token } of destination.slots) {
      if (token !== 'card.cvc' && !Object.hasOwn(PLACEHOLDER, token)) throw new Error(`${NAME}: cannot fill {{${token}}} for ${where}`)
    }
    if (destination.url.length > MAX_URL) throw new Error(`${NAME}: the url of ${where} is longer than ${MAX_URL} characters, Checkout.com's limit`)
    // Checkout.com reads any {{…}} in the body or a raw header value as a placeholder: only ours may be there.
    if (renderWithPlaceholders(destination.template, destination.slots, () => '').includes('{{')) {
      throw new Error(`${NAME}: the body of ${where} contains "{{" outside a token`)
    }
    const raw: Record<string, string> = {}
    for (const [name, value] of Object.entries(destination.headers)) {
      const secret = secretHeaders.get(name.toLowerCase())
      if (secret === undefined && value.includes('{{')) throw new Error(`${NAME}: header ${name} of ${where} contains "{{", which Checkout.com would read as a placeholder`)
      // Not documented officially: the secret placeholder's syntax is that of Checkout.com's Forward API guide.
      raw[name] = secret === undefined ? value : `{{secret_${secret}}}`
    }
    for (const header of secretHeaders.keys()) {
      if (!Object.keys(raw).some(name => name.toLowerCase() === header)) throw new Error(`${NAME}: ${where} has no header ${header} (secretHeaders)`)
    }
    if (!Object.keys(raw).some(name => name.toLowerCase() === 'content-type')) raw['Content-Type'] = 'application/json'
    const staticBody = renderWithPlaceholders(destination.template, destination.slots, fillFor(undefined))
    if (staticBody.length > CHECKOUT_COM_MAX_BODY) {
      throw new Error(`${NAME}: the body of ${where} is ${staticBody.length} characters; Checkout.com accepts at most ${CHECKOUT_COM_MAX_BODY}`)
    }
    const head = JSON.stringify({ url: destination.url, method: 'POST', headers: { raw } }).slice(0, -1) + ',"body":'
    const { template, slots } = destination
    const plan = { template, slots, head, staticBody, usesRecord: slots.some(s => s.token === 'card.holderName' || !isCardToken(s.token)) }
    prepared.set(destination.id, plan)
    return plan
  }

  async function forward (input: ForwardInput<CheckoutComVaultRecord>): Promise<ForwardResult> {
    const { record, destination, idempotencyKey, correlationId } = input
    const signal = abortHandleOf(input)
    const plan = prepared.get(destination.id) ?? prepareDestination(destination)
    const fromRecord = plan.usesRecord && (record.cardholderName !== undefined || record.billingAddress !== undefined)
    const body = fromRecord ? renderWithPlaceholders(plan.template, plan.slots, fillFor(record)) : plan.staticBody
    // A long vault address can push the body past Checkout.com's limit: refuse before calling.
    if (body.length > CHECKOUT_COM_MAX_BODY) throw new PspError(NAME, 'request_body_too_long')
    // Every fragment is JSON.stringify output: no untrusted value is concatenated raw. `reference`:
    // "The unique reference for the forward request" (at most 80 characters), shown by GET /forward/{id}.
    const payload = `{"source":${JSON.stringify({ type: 'id', id: record.sourceId })},"reference":${JSON.stringify(correlationId)},` +
      `"destination_request":${plan.head}${JSON.stringify(body)}}${tail}`
    const headers: Record<string, string> = { ...auth }
    // Checkout.com documents Cko-Idempotency-Key for its payment endpoints, not for /forward: sent in case it is honoured, relied on nowhere.
    if (idempotencyKey !== undefined) headers['cko-idempotency-key'] = idempotencyKey
    const res = await client.post('/forward', { headers, body: payload, signal })
    const envelope = res.body as any
    if (res.statusCode < 200 || res.statusCode > 299) throw withReference(forwardFailure(new PspError(NAME, errorCode(res.statusCode, envelope)), res.statusCode), res)
    const response = envelope?.destination_response
    if (!isDestinationAnswer(response)) {
      // destination_response is "optional: present if the forward request completed successfully".
      // Without it the destination never answered (unreachable, timed out): say so, not "garbage".
      const forwardedButUnanswered = response === undefined && typeof envelope?.request_id === 'string'
      throw withReference(forwardFailure(new PspError(NAME, forwardedButUnanswered ? 'no_destination_response' : 'invalid_response'), res.statusCode), res)
    }
    // Checkout.com reports no duration of its own: the whole /forward call, measured here.
    return forwardResult(response, envelope, res.durationMs)
  }

  const secretsUrl = `${options.baseUrl ?? CHECKOUT_COM_FORWARD_URLS[options.environment]}/secrets`

  return {
    name: NAME,
    prepareDestination: (destination) => { prepareDestination(destination) },
    onboarding: (destination) => Object.keys(destination.headers).map(name => {
      const secret = secretHeaders.get(name.toLowerCase())
      return secret === undefined
        ? `sent        ${name} travels with each forward (to keep it at Checkout.com, create a secret and map it in secretHeaders)`
        : `secret      create "${secret}" with the Secrets API (POST ${secretsUrl}), holding the value of ${name}`
    }),
    isRecord: (record): record is any => typeof record.sourceId === 'string' && SOURCE_ID.test(record.sourceId),
    forward,
    reconcile: (correlationId, reconcileOptions) => reconcileCheckoutCom(client, auth, correlationId, reconcileOptions),
    close: () => client.close()
  }
}

/** The forward's id from Checkout.com's answer (`request_id`), for `reconcile`: only when it has the documented shape. */
function withReference (error: PspError, res: PspResponse): PspError {
  const id = Object(res.body).request_id
  return typeof id === 'string' && FORWARD_ID.test(id) ? tagFailure(error, { pspReference: id }) : error
}
