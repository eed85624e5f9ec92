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

export function cardValues (card: SandboxCard): Record<string, string> {
  return {
    number: jsonEscape(card.number),
    expiryMonth: jsonEscape(card.expMonth),
    expiryYear: jsonEscape(card.expYear),
    holderName: jsonEscape(card.holderName)
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
