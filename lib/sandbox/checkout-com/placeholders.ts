import { jsonEscape } from '../json.ts'
import type { SandboxCard } from '../test-cards.ts'

/** Checkout.com's `{{snake_case}}` placeholders, filled from the vaulted card. */

/** Double braces, spaces allowed inside: `{{card_number}}` or `{{ card_number }}`. */
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g

/**
 * The value each supported placeholder stands for; `card_cvv` only when a CVV is at hand. A stored
 * secret is `{{secret_<name>}}` (the text of Checkout.com's Forward API guide) or
 * `{{ secret.<name> }}` (its examples): not documented officially, both are accepted.
 */
export function placeholderValues (card: SandboxCard, cvv: string | undefined, secrets: ReadonlyMap<string, { value: string }>): Map<string, string> {
  const year = card.expYear.length === 2 ? `20${card.expYear}` : card.expYear
  const values = new Map<string, string>([
    ['card_number', card.number],
    // The newer documentation shows a one-digit month here, the older one MM; the newer wins.
    ['card_expiry_month', String(Number(card.expMonth))],
    ['card_expiry_month_mm', card.expMonth.padStart(2, '0')],
    ['card_expiry_year_yy', year.slice(-2)],
    ['card_expiry_year_yyyy', year],
    ['cardholder_name', card.holderName],
    ['billing_address_line1', card.billing.line1 ?? ''],
    ['billing_address_line2', card.billing.line2 ?? ''],
    ['billing_address_city', card.billing.city ?? ''],
    ['billing_address_state', card.billing.state ?? ''],
    ['billing_address_zip', card.billing.postalCode ?? ''],
    ['billing_address_country', card.billing.country ?? '']
  ])
  if (cvv !== undefined) values.set('card_cvv', cvv)
  for (const [name, secret] of secrets) {
    values.set(`secret_${name}`, secret.value)
    values.set(`secret.${name}`, secret.value)
  }
  return values
}

/**
 * Names in `text` that cannot be filled. The documentation also lists network-token, PIN and
 * `jwe_encrypt` placeholders; the sandbox has none of those, and refuses them (and typos, and
 * secrets nobody created) instead of forwarding a literal `{{…}}`, which the documentation does not
 * describe either way.
 */
export function unfillable (text: string, values: Map<string, string>): string[] {
  const missing: string[] = []
  for (const match of text.matchAll(PLACEHOLDER)) {
    if (!values.has(match[1])) missing.push(match[1])
  }
  return missing
}

/**
 * `text` with its placeholders filled. Not documented: whether what Checkout.com substitutes into
 * the body is JSON-escaped ("You can provide placeholder values in destination_request.body"):
 * `escapeJson` writes each value as it stands inside a JSON string, else as is (a quote then
 * breaks a JSON body). The simulator's `substitution` option picks; the adapter tests run both.
 */
export function fill (text: string, values: Map<string, string>, escapeJson: boolean): string {
  return text.replace(PLACEHOLDER, (_, name: string) => {
    const value = values.get(name) as string
    return escapeJson ? jsonEscape(value) : value
  })
}
