import type { CanonicalToken, PreparedDestination, PspAdapter } from '../../types/index.ts'
import { braintreeForwardConfig } from '../psp/adapters/braintree.ts'
import { isCardToken, pointer } from '../template.ts'

const PSP_NAMES: Record<string, string> = { stripe: 'Stripe', adyen: 'Adyen', braintree: 'Braintree', 'checkout.com': 'Checkout.com' }
const FIELDS: Record<CanonicalToken, string> = {
  'card.number': 'card number',
  'card.expMonth': 'expiry month',
  'card.expYear': 'expiry year',
  'card.cvc': 'CVC, when the PSP still holds it',
  'card.holderName': 'cardholder name',
  'billing.line1': 'line 1',
  'billing.line2': 'line 2',
  'billing.city': 'city',
  'billing.state': 'state',
  'billing.postalCode': 'postal code',
  'billing.country': 'country'
}

/** A Braintree config name as given to braintree(): one for all destinations, or one per destination id. */
export type BraintreeConfigName = string | Record<string, string> | undefined

/**
 * What each PSP needs before it forwards to Rokt: Braintree reviews a Forward API config (generated
 * exactly as the adapter generates its own); Stripe, Adyen, Checkout.com and others approve each
 * destination from its URL, method, header names and the fields that carry card data.
 */
export function onboardingArtefacts (
  psps: Record<string, PspAdapter<any>>,
  braintreeNames: Map<string, BraintreeConfigName>,
  destinations: readonly PreparedDestination[]
): string {
  const out: string[] = []
  for (const [key, adapter] of Object.entries(psps)) {
    const psp = PSP_NAMES[adapter.name] ?? adapter.name
    if (adapter.name === 'braintree') {
      out.push(`psps.${key}: submit this Forward API config to ${psp} for review, one per destination`)
      if (!braintreeNames.has(key)) out.push('  (set "name" to the configName you give braintree())')
      for (const destination of destinations) {
        const configName = braintreeNames.get(key)
        const name = (typeof configName === 'string' ? configName : configName?.[destination.id]) ?? `card_forwarding_${destination.id}`
        const config = braintreeForwardConfig({ id: destination.id, url: destination.url, headers: destination.headers, body: destination.template }, { name })
        out.push(`  ${destination.id}`, indent(JSON.stringify(config, null, 2), '    '), ...extras(adapter, destination))
      }
    } else {
      out.push(`psps.${key}: send ${psp} these destination details for approval`)
      for (const destination of destinations) out.push(...destinationDetails(destination, adapter.onboarding === undefined), ...extras(adapter, destination))
    }
    out.push('')
  }
  return out.join('\n')
}

/** What the adapter says its PSP must be told or hold for this destination (secrets, formats). */
function extras (adapter: PspAdapter<any>, destination: PreparedDestination): string[] {
  return (adapter.onboarding?.(destination) ?? []).map(line => `    ${line}`)
}

function destinationDetails (destination: PreparedDestination, valuesTravel: boolean): string[] {
  const headers = Object.keys(destination.headers)
  const fields = (card: boolean) => destination.slots
    .filter(slot => isCardToken(slot.token) === card)
    .map(slot => `${pointer(slot.path)} (${FIELDS[slot.token]})`)
    .join(', ')
  const billing = fields(false)
  return [
    `  ${destination.id}`,
    `    url        ${destination.url}`,
    '    method     POST',
    `    headers    ${headers.length === 0 ? 'none' : `${headers.join(', ')} (names only${valuesTravel ? ': the values travel with each forward' : ''})`}`,
    '    body       application/json',
    `    card data  ${fields(true)}`,
    ...(billing === '' ? [] : [`    billing    ${billing}`])
  ]
}

function indent (text: string, prefix: string): string {
  return text.split('\n').map(line => prefix + line).join('\n')
}
