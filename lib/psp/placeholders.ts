import type { BodyTemplate, CanonicalToken, TemplateSlot } from '../../types/index.ts'
import { compileTemplate, type TemplateRenderer } from '../template.ts'

/** A PSP placeholder, written into the body text as it is (`{{number}}`, `{{card_number}}`). */
export interface Placeholder { readonly placeholder: string }

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
  template: BodyTemplate, slots: readonly TemplateSlot[], fill: (token: CanonicalToken) => Placeholder | string
): string {
  let render = compiled.get(slots)
  if (render === undefined) compiled.set(slots, render = compileTemplate(template, slots))
  return render(token => {
    const value = fill(token)
    return typeof value === 'string' ? JSON.stringify(value).replaceAll('{', '\\u007b').replaceAll('}', '\\u007d') : JSON.stringify(value.placeholder)
  })
}
