import type { BodyTemplate, CanonicalToken, TemplateSlot } from '../../types/index.ts'
import { compileTemplate, type TemplateRenderer } from '../template.ts'

/**
 * A PSP placeholder, written into the body text as it is (`{{number}}`, `{{card_number}}`). Only an
 * adapter makes one (`new Placeholder(…)`): a value from the vault record, whatever its shape, is
 * never taken for one.
 */
export class Placeholder {
  readonly placeholder: string
  // A private field: the type is nominal (a plain { placeholder } object does not type-check as
  // one) and `is` tells a real one from any look-alike.
  readonly #madeByAnAdapter = true
  constructor (placeholder: string) {
    this.placeholder = placeholder
    Object.freeze(this)
  }

  static is (value: unknown): value is Placeholder {
    return value !== null && typeof value === 'object' && #madeByAnAdapter in value
  }
}

/** A vault value as body text: a string, number or boolean as its string, anything else (a record of the wrong shape) empty. */
function vaultText (value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : ''
}

/** Each destination's template compiled once, keyed by its slots array (made with the destination, it lives as long). */
const compiled = new WeakMap<readonly TemplateSlot[], TemplateRenderer>()

/**
 * The JSON text of a destination body for a PSP that substitutes placeholders in it (Adyen,
 * Checkout.com substitute `{{…}}` anywhere in the body text). Each token is either the PSP's
 * placeholder or a value of ours, which JSON.stringify encodes (so a quote or a backslash can never
 * break the document) with braces written as \u007b / \u007d: the PSP would otherwise read a vault
 * value such as "{{number}}" as a placeholder and put the PAN there. The template's own text holds
 * no braces (parseTemplate refuses them).
 */
export function renderWithPlaceholders (
  template: BodyTemplate, slots: readonly TemplateSlot[], fill: (token: CanonicalToken) => unknown
): string {
  let render = compiled.get(slots)
  if (render === undefined) compiled.set(slots, render = compileTemplate(template, slots))
  return render(token => {
    const value = fill(token)
    if (Placeholder.is(value)) return JSON.stringify(value.placeholder)
    return JSON.stringify(vaultText(value)).replaceAll('{', '\\u007b').replaceAll('}', '\\u007d')
  })
}
