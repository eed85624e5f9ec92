import { TEST_CARDS } from '../test-cards.ts'
import type { SandboxCard } from '../test-cards.ts'
import type { StripeAddress, StripeBillingDetails, StripeDestinationFields, StripeSandboxPaymentMethod } from './wire.ts'

/** The simulator's PaymentMethods: the vault, the card values a forward writes, the PaymentMethod object. */

/** The built-in test PaymentMethods, named like Stripe's test tokens. Only `pm_card_visa_debit` still has its CVC. */
export const STRIPE_TEST_PAYMENT_METHODS: Readonly<Record<string, StripeSandboxPaymentMethod>> = {
  pm_card_visa: { card: TEST_CARDS.visa, billingDetails: { email: 'jenny.rosen@example.com', phone: '+14155550100' } },
  pm_card_mastercard: { card: TEST_CARDS.mastercard, billingDetails: { email: 'john.smith@example.com' } },
  pm_card_amex: { card: TEST_CARDS.amex, billingDetails: { email: 'ana.silva@example.com' } },
  pm_card_visa_debit: { card: TEST_CARDS.visaWithCvc, funding: 'debit', billingDetails: { email: 'kai.tanaka@example.com' } },
  // Stripe holds exp_month as an integer: a one-digit month.
  pm_card_discover: { card: TEST_CARDS.shortExpiry, billingDetails: { email: 'ola.nordmann@example.com' } },
  pm_card_quoted_name: { card: TEST_CARDS.quotedName, billingDetails: { email: 'sam.obrien@example.com' } }
}

const BRANDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^4/, 'visa'],
  [/^(5[1-5]|2[2-7])/, 'mastercard'],
  [/^3[47]/, 'amex'],
  [/^6(011|5)/, 'discover']
]

export interface PaymentMethodState {
  id: string
  card: SandboxCard
  billing: StripeBillingDetails
  funding: string
  created: number
}

/** The vault: the built-in test PaymentMethods and `extra` (which win by id), each with its own copy of its card. */
export function paymentMethodVault (extra: Record<string, StripeSandboxPaymentMethod> | undefined): Map<string, PaymentMethodState> {
  const created = Math.floor(Date.now() / 1000)
  const paymentMethods = new Map<string, PaymentMethodState>()
  for (const [id, pm] of Object.entries({ ...STRIPE_TEST_PAYMENT_METHODS, ...extra })) {
    const b = pm.card.billing
    const address: StripeAddress = {
      city: b.city ?? null,
      country: b.country ?? null,
      line1: b.line1 ?? null,
      line2: b.line2 ?? null,
      postal_code: b.postalCode ?? null,
      state: b.state ?? null
    }
    const billing: StripeBillingDetails = { address, email: null, name: pm.card.holderName, phone: null, ...pm.billingDetails }
    paymentMethods.set(id, { id, card: { ...pm.card }, billing, funding: pm.funding ?? 'credit', created })
  }
  return paymentMethods
}

/** Writes `value` at a dot path, creating missing objects. A number field stays a number. */
export function setAt (root: Record<string, unknown>, path: string, value: string): void {
  const segments = path.split('.')
  const last = segments.pop() as string
  let node = root
  for (const segment of segments) {
    const next = node[segment]
    node = (typeof next === 'object' && next !== null ? next : (node[segment] = {})) as Record<string, unknown>
  }
  node[last] = typeof node[last] === 'number' ? Number(value) : value
}

function fourDigitYear (year: string): string {
  return year.length === 2 ? `20${year}` : year
}

/**
 * The (path, value) pairs Stripe writes for these replacements; consumes the CVC it uses. Not
 * documented: the format Stripe writes the expiry in (the destination's onboarding configuration
 * decides); assumed a two-digit month and a four-digit year, the token-vault profile's shape.
 */
export function cardValues (
  pm: PaymentMethodState, replacements: string[], fields: Required<StripeDestinationFields>
): Array<[string, string]> {
  const out: Array<[string, string]> = []
  const put = (paths: string[], value: string) => { for (const p of paths) out.push([p, value]) }
  for (const r of new Set(replacements)) {
    if (r === 'card_number') put(fields.card_number, pm.card.number)
    else if (r === 'card_expiry') {
      put(fields.card_expiry_month, pm.card.expMonth.padStart(2, '0'))
      put(fields.card_expiry_year, fourDigitYear(pm.card.expYear))
    } else if (r === 'cardholder_name') put(fields.cardholder_name, pm.card.holderName)
    else if (pm.card.cvc !== undefined) {
      // card_cvc: Stripe keeps the CVC only until it is first used with Vault and Forward.
      put(fields.card_cvc, pm.card.cvc)
      pm.card = { ...pm.card, cvc: undefined }
    }
  }
  return out
}

function brandOf (number: string): string {
  return BRANDS.find(([re]) => re.test(number))?.[1] ?? 'unknown'
}

export function paymentMethodObject (pm: PaymentMethodState) {
  return {
    id: pm.id,
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: pm.billing,
    card: {
      brand: brandOf(pm.card.number),
      country: 'US',
      exp_month: Number(pm.card.expMonth),
      exp_year: Number(fourDigitYear(pm.card.expYear)),
      funding: pm.funding,
      last4: pm.card.number.slice(-4)
    },
    created: pm.created,
    customer: null,
    livemode: false,
    metadata: {},
    type: 'card'
  }
}
