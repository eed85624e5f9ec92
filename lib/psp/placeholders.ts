import type { BodyTemplate, CanonicalToken, TemplateSlot } from '../../types/index.ts'
import { renderTemplate } from '../template.ts'

/** A PSP placeholder, written into the body text as it is (`{{number}}`, `{{card_number}}`). */
export interface Placeholder { readonly placeholder: string }

/**
 * Private-use marks that stand in for `{` and `}` of our own values while rendering: the PSPs that
 * substitute `{{…}}` anywhere in the body text (Adyen, Checkout.com) would otherwise read a vault
 * value such as "{{number}}" as a placeholder and put the PAN there.
 */
const OPEN = '\uE000'
const CLOSE = '\uE001'

/**
 * The JSON text of a destination body for a PSP that substitutes placeholders in it. Each token is
 * either the PSP's placeholder or a value of ours, which JSON.stringify encodes (so a quote or a
 * backslash can never break the document) with braces written as \u007b / \u007d: the PSP sees no
 * placeholder, and the destination's JSON parser restores the exact value.
 */
export function renderWithPlaceholders (
  template: BodyTemplate, slots: readonly TemplateSlot[], fill: (token: CanonicalToken) => Placeholder | string
): string {
  const json = JSON.stringify(renderTemplate(template, slots, token => {
    const value = fill(token)
    return typeof value === 'string' ? value.replaceAll('{', OPEN).replaceAll('}', CLOSE) : value.placeholder
  }))
  return json.replaceAll(OPEN, '\\u007b').replaceAll(CLOSE, '\\u007d')
}
