import type { BillingAddress, ForwardInput, ForwardResult, PreparedDestination, PspAdapter, StripeOptions, StripeVaultRecord } from '../../../types/index.ts'
import { PspError, safeCode, tagFailure } from '../../errors.ts'
import { createPspClient, transport } from '../client.ts'
import { forwardFailure, forwardResult, isDestinationAnswer } from '../relay.ts'
import { billingValue, isCardToken, renderTemplate } from '../../template.ts'

const KEY = /^(?:sk|rk)_(?:test|live)_[A-Za-z0-9_]{4,247}$/
const PAYMENT_METHOD = /^pm_[A-Za-z0-9_]{1,250}$/
const REPLACEMENT: Record<string, string> = {
  'card.number': 'card_number',
  'card.expMonth': 'card_expiry',
  'card.expYear': 'card_expiry',
  'card.cvc': 'card_cvc',
  'card.holderName': 'cardholder_name'
}

interface StripeDestination {
  /** Form fields that never change for this destination (url, headers, replacements). */
  fixed: Array<[string, string]>
  /** The body when the template needs nothing from the vault record. */
  staticBody: string | null
  needsBilling: boolean
}

/** Stripe's error envelope `{ error: { type, code?, message } }`: keep the code, else the type. */
function stripeError (body: any): Error {
  const error = Object(body).error
  return new PspError('stripe', safeCode(error?.code ?? error?.type))
}

/** Stripe Vault and Forward: POST /v1/forwarding/requests, form-encoded, card fields left empty. */
export function stripe (options: StripeOptions): PspAdapter<StripeVaultRecord> {
  if (options === null || typeof options !== 'object' || typeof options.apiKey !== 'string' || !KEY.test(options.apiKey)) {
    throw new Error('stripe: apiKey must be a Stripe secret (sk_) or restricted (rk_) key')
  }
  const client = createPspClient({ ...transport(options), psp: 'stripe', baseUrl: options.baseUrl ?? 'https://api.stripe.com' })
  const auth = { authorization: `Bearer ${options.apiKey}` }
  const prepared = new Map<string, StripeDestination>()

  function prepareDestination (destination: PreparedDestination): void {
    const fixed: Array<[string, string]> = [['url', destination.url]]
    Object.entries({ ...destination.headers }).forEach(([name, value], i) => {
      fixed.push([`request[headers][${i}][name]`, name], [`request[headers][${i}][value]`, value])
    })
    const replacements = [...new Set(destination.slots.filter(s => isCardToken(s.token)).map(s => REPLACEMENT[s.token]))]
    replacements.forEach((r, i) => fixed.push([`replacements[${i}]`, r]))
    const needsBilling = destination.slots.some(s => !isCardToken(s.token))
    prepared.set(destination.id, { fixed, needsBilling, staticBody: needsBilling ? null : render(destination, undefined) })
  }

  // Stripe has no card placeholders: card fields go out empty and Stripe fills them in.
  function render (destination: PreparedDestination, address: BillingAddress | undefined): string {
    return JSON.stringify(renderTemplate(destination.template, destination.slots, token => isCardToken(token) ? '' : billingValue(token, address)))
  }

  async function billingOf (record: StripeVaultRecord & { billingAddress?: BillingAddress }, signal: AbortSignal | undefined): Promise<BillingAddress | undefined> {
    if (record.billingAddress !== undefined) return record.billingAddress
    let res
    try {
      res = await client.get(`/v1/payment_methods/${record.paymentMethod}`, { headers: auth, signal })
    } catch (err) {
      // A lookup that failed, even mid-answer, forwarded nothing.
      throw tagFailure(err as Error, { outcome: 'not_sent' })
    }
    if (res.statusCode !== 200) throw stripeError(res.body)
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

  async function forward ({ record, destination, idempotencyKey, signal }: ForwardInput<StripeVaultRecord>): Promise<ForwardResult> {
    const plan = prepared.get(destination.id) as StripeDestination
    const body = plan.staticBody ?? render(destination, await billingOf(record, signal))
    const form = new URLSearchParams([['payment_method', record.paymentMethod], ...plan.fixed, ['request[body]', body]])
    const headers: Record<string, string> = { ...auth, 'content-type': 'application/x-www-form-urlencoded' }
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey
    const res = await client.post('/v1/forwarding/requests', { headers, body: form.toString(), signal })
    const envelope = res.body as any
    if (res.statusCode !== 200) throw forwardFailure(stripeError(envelope), res.statusCode)
    const details = envelope?.response_details
    if (!isDestinationAnswer(details)) throw forwardFailure(new PspError('stripe', 'invalid_response'), res.statusCode)
    const duration = envelope.request_context?.destination_duration
    return forwardResult(details, envelope, typeof duration === 'number' ? duration : res.durationMs)
  }

  return {
    name: 'stripe',
    prepareDestination,
    isRecord: (record): record is any => typeof record.paymentMethod === 'string' && PAYMENT_METHOD.test(record.paymentMethod),
    forward,
    close: () => client.close()
  }
}
