import t from 'tap'
import { Placeholder, renderWithPlaceholders } from '../lib/psp/placeholders.ts'
import { parseTemplate } from '../lib/template.ts'

const template = { card: { number: '{{card.number}}', name: '{{card.holderName}}' }, billing: { line1: '{{billing.line1}}', postal_code: '{{billing.postalCode}}', city: '{{billing.city}}' } }
const slots = parseTemplate(template, 'test')

t.test("only the adapter's placeholders become PSP placeholders; vault values of any shape are plain text in valid JSON", async t => {
  const vault: Record<string, unknown> = {
    'card.holderName': { placeholder: '{{number}}' },
    'billing.line1': 'Flat {{number}} } {',
    'billing.postalCode': 10001,
    'billing.city': null
  }
  const body = renderWithPlaceholders(template, slots, token => token === 'card.number' ? new Placeholder('{{number}}') : vault[token])
  const parsed = JSON.parse(body)
  t.same(parsed, { card: { number: '{{number}}', name: '' }, billing: { line1: 'Flat {{number}} } {', postal_code: '10001', city: '' } },
    'a number is its text, an object or null is empty, and the JSON parser restores the braces exactly')
  t.equal(body.split('{{').length - 1, 1, 'the only placeholder in the text is the card number the adapter put there')
})
