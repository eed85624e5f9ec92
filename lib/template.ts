import { randomUUID } from 'node:crypto'
import type { BillingAddress, BodyTemplate, BodyTemplateValue, CanonicalToken, TemplateSlot } from '../types/index.ts'

export const CARD_TOKENS = ['card.number', 'card.expMonth', 'card.expYear', 'card.cvc', 'card.holderName'] as const
export const BILLING_TOKENS = ['billing.line1', 'billing.line2', 'billing.city', 'billing.state', 'billing.postalCode', 'billing.country'] as const
const KNOWN = new Set<string>([...CARD_TOKENS, ...BILLING_TOKENS])
const TOKEN = /^\{\{\s*([A-Za-z.0-9_]+)\s*\}\}$/
const ANY_BRACES = /\{\{|\}\}/

/**
 * True when text holds `{{` or `}}`: what Adyen's and Checkout.com's placeholders are made of. Only
 * a template's string values may be tokens; keys, destination header values and URLs never hold
 * them, whatever the adapter, so no PSP can ever substitute card data there.
 */
export function holdsPlaceholderBraces (text: string): boolean {
  return ANY_BRACES.test(text)
}

/**
 * The default body sent to Rokt's destination: the shape of Stripe's "your own PCI token vault"
 * profile (card.number, exp_month 2-digit, exp_year 4-digit, name, cvc), plus the billing address.
 */
export const DEFAULT_TEMPLATE: BodyTemplate = {
  card: {
    number: '{{card.number}}',
    exp_month: '{{card.expMonth}}',
    exp_year: '{{card.expYear}}',
    name: '{{card.holderName}}',
    cvc: '{{card.cvc}}'
  },
  billing_address: {
    line1: '{{billing.line1}}',
    line2: '{{billing.line2}}',
    city: '{{billing.city}}',
    state: '{{billing.state}}',
    postal_code: '{{billing.postalCode}}',
    country: '{{billing.country}}'
  }
}

export function isCardToken (token: CanonicalToken): boolean {
  return token.startsWith('card.')
}

/**
 * Finds every token in a template. A string leaf is either exactly one known token or plain text;
 * a leaf that mixes text and braces, or names an unknown token, is refused so that a typo can never
 * send a literal "{{card.numbr}}" (or half a PAN) anywhere.
 */
export function parseTemplate (template: BodyTemplate, where: string): TemplateSlot[] {
  const slots: TemplateSlot[] = []
  walk(template, [])
  return slots

  function walk (value: BodyTemplateValue, path: Array<string | number>): void {
    if (typeof value === 'string') {
      const match = TOKEN.exec(value)
      if (match !== null) {
        if (!KNOWN.has(match[1])) throw new Error(`${where}: unknown token "{{${match[1]}}}" at ${pointer(path)}`)
        slots.push({ path, token: match[1] as CanonicalToken })
      } else if (ANY_BRACES.test(value)) {
        throw new Error(`${where}: a token must be a whole string value, at ${pointer(path)}`)
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, [...path, i]))
    } else if (value !== null && typeof value === 'object') {
      for (const key of Object.keys(value)) {
        if (ANY_BRACES.test(key)) throw new Error(`${where}: a key must not hold {{ or }}, at ${pointer([...path, key])}`)
        walk(value[key], [...path, key])
      }
    } else if (value !== null && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Error(`${where}: templates hold JSON values only, at ${pointer(path)}`)
    }
  }
}

/** A copy of the template with each slot's value replaced by `fill(token)`. */
export function renderTemplate (template: BodyTemplate, slots: readonly TemplateSlot[], fill: (token: CanonicalToken) => unknown): BodyTemplate {
  const copy = structuredClone(template)
  for (const slot of slots) {
    let parent: any = copy
    for (let i = 0; i < slot.path.length - 1; i++) parent = parent[slot.path[i]]
    parent[slot.path[slot.path.length - 1]] = fill(slot.token)
  }
  return copy
}

/** Fills a compiled template: `json(token)` is the JSON text of that slot's value. */
export type TemplateRenderer = (json: (token: CanonicalToken) => string) => string

/**
 * A template turned once into the JSON text around its slots, so that rendering it for a request
 * only encodes that request's values: the same text as JSON.stringify(renderTemplate(…)) gives.
 * Each slot is first rendered as a marker no template can hold (a random id made here), then the
 * text is cut at the markers. `encode`, when given, is applied to the fixed text once, here: an
 * encoding that works character by character (percent-encoding, say) then needs only the values
 * encoded per request, and `json` gives them encoded.
 */
export function compileTemplate (template: BodyTemplate, slots: readonly TemplateSlot[], encode: (text: string) => string = text => text): TemplateRenderer {
  const nonce = randomUUID()
  const marked = JSON.stringify(renderTemplate(template, slots, () => `rcf-slot-${nonce}`))
  const parts = marked.split(`"rcf-slot-${nonce}"`).map(encode)
  // JSON.stringify writes object keys in insertion order and the slots were found in that order too.
  const tokens = slots.map(slot => slot.token)
  return json => {
    let text = parts[0]
    for (let i = 0; i < tokens.length; i++) text += json(tokens[i]) + parts[i + 1]
    return text
  }
}

/** RFC 6901 pointer, for messages and for PSPs (Braintree) that address fields by path. */
export function pointer (path: ReadonlyArray<string | number>): string {
  return '/' + path.map(p => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/')
}

const BILLING_FIELD: Record<string, keyof BillingAddress> = {
  'billing.line1': 'line1',
  'billing.line2': 'line2',
  'billing.city': 'city',
  'billing.state': 'state',
  'billing.postalCode': 'postalCode',
  'billing.country': 'country'
}

/** The vault's value for a billing token; '' when the address or the field is missing. */
export function billingValue (token: CanonicalToken, address: BillingAddress | undefined): string {
  return address?.[BILLING_FIELD[token]] ?? ''
}
