import { jsonEscape } from '../json.ts'
import type { SandboxCard } from '../test-cards.ts'

/** Adyen's `{{…}}` placeholders: what each stands for, with the card or masked (`options.dryRun`). */

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g

/**
 * Replaces each `{{name}}` with `values[name]`. Adyen's full placeholder table is not public; a name this
 * simulator does not know is refused rather than forwarded literally, so a wrong placeholder shows up in tests.
 */
export function substitute (text: string, values: Record<string, string>, where: string): { text: string } | { unknown: string } {
  let unknown: string | undefined
  const out = text.replace(PLACEHOLDER, (whole, name: string) => {
    if (Object.hasOwn(values, name)) return values[name]
    unknown ??= whole
    return whole
  })
  return unknown === undefined ? { text: out } : { unknown: `Unknown placeholder ${unknown} in ${where}` }
}

/**
 * How the simulated Adyen writes what it substitutes. Not documented ("Adyen replaces the
 * placeholders with the payment details", CheckoutOutgoingForwardRequest.body): `'json-escaped'`
 * (default) writes each value as it stands inside a JSON string, `'raw'` writes it as is, so a
 * quote in a holder name breaks a JSON body. The adapter tests run both.
 */
export type Substitution = 'json-escaped' | 'raw'

/**
 * The stored card's values. Not documented: their format; assumed that of Adyen's Card object,
 * `expiryMonth` "2 digits, zero-padded" and `expiryYear` "4 digits" (Checkout API Card).
 */
export function cardValues (card: SandboxCard, substitution: Substitution = 'json-escaped'): Record<string, string> {
  const write = substitution === 'raw' ? (v: string) => v : jsonEscape
  return {
    number: write(card.number),
    expiryMonth: write(card.expMonth.padStart(2, '0')),
    expiryYear: write(card.expYear.length === 2 ? `20${card.expYear}` : card.expYear),
    holderName: write(card.holderName)
  }
}

/** What `options.dryRun` shows instead of the card: "any sensitive information will be masked". */
export function maskedValues (card: SandboxCard): Record<string, string> {
  return {
    number: '*'.repeat(card.number.length - 4) + card.number.slice(-4),
    expiryMonth: '**',
    expiryYear: '****',
    holderName: '*****'
  }
}
