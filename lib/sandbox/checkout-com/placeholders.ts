import { jsonEscape } from '../json.ts'
import type { SandboxCard } from '../test-cards.ts'

/** Checkout.com's `{{snake_case}}` placeholders, filled from the vaulted card. */

/** Double braces, spaces allowed inside: `{{card_number}}` or `{{ card_number }}`. */
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g

/** The value each supported placeholder stands for; `card_cvv` only when a CVV is at hand. */
export function placeholderValues (card: SandboxCard, cvv: string | undefined): Map<string, string> {
  const values = new Map<string, string>([
    ['card_number', card.number],
    // The newer documentation shows a one-digit month here, the older one MM; the newer wins.
    ['card_expiry_month', String(Number(card.expMonth))],
    ['card_expiry_month_mm', card.expMonth.padStart(2, '0')],
    ['card_expiry_year_yy', card.expYear.slice(-2)],
    ['card_expiry_year_yyyy', card.expYear],
    ['cardholder_name', card.holderName],
    ['billing_address_line1', card.billing.line1 ?? ''],
    ['billing_address_line2', card.billing.line2 ?? ''],
    ['billing_address_city', card.billing.city ?? ''],
    ['billing_address_state', card.billing.state ?? ''],
    ['billing_address_zip', card.billing.postalCode ?? ''],
    ['billing_address_country', card.billing.country ?? '']
  ])
  if (cvv !== undefined) values.set('card_cvv', cvv)
  return values
}

/**
 * Names in `text` that cannot be filled. The documentation also lists network-token, PIN, secret and
 * `jwe_encrypt` placeholders; the sandbox has none of those, and refuses them (and typos) instead of
 * forwarding a literal `{{…}}`, which the documentation does not describe either way.
 */
export function unfillable (text: string, values: Map<string, string>): string[] {
  const missing: string[] = []
  for (const match of text.matchAll(PLACEHOLDER)) {
    if (!values.has(match[1])) missing.push(match[1])
  }
  return missing
}

export function fill (text: string, values: Map<string, string>, escapeJson: boolean): string {
  return text.replace(PLACEHOLDER, (_, name: string) => {
    const value = values.get(name) as string
    return escapeJson ? jsonEscape(value) : value
  })
}
