import t from 'tap'
import { billingValue, compileTemplate, DEFAULT_TEMPLATE, parseTemplate, pointer, renderTemplate } from '../lib/template.ts'

t.test('parseTemplate finds every token with its path', async t => {
  const slots = parseTemplate({ a: ['{{card.number}}', { b: '{{ billing.city }}' }], n: 1, f: false, z: null, text: 'plain' }, 'x')
  t.same(slots, [{ path: ['a', 0], token: 'card.number' }, { path: ['a', 1, 'b'], token: 'billing.city' }])
  t.equal(parseTemplate(DEFAULT_TEMPLATE, 'default').length, 11, 'the default template uses all eleven tokens')
})

t.test('parseTemplate refuses unknown tokens, partial tokens and non-JSON values', async t => {
  t.throws(() => parseTemplate({ a: '{{card.pan}}' }, 'dest'), { message: 'dest: unknown token "{{card.pan}}" at /a' })
  t.throws(() => parseTemplate({ a: 'PAN {{card.number}}' }, 'dest'), { message: 'dest: a token must be a whole string value, at /a' })
  t.throws(() => parseTemplate({ 'a/b~c': '}}' }, 'dest'), { message: 'dest: a token must be a whole string value, at /a~1b~0c' })
  t.throws(() => parseTemplate({ a: (() => 1) as any }, 'dest'), { message: 'dest: templates hold JSON values only, at /a' })
})

t.test('renderTemplate fills a copy and leaves the template untouched', async t => {
  const template = { card: { number: '{{card.number}}' }, list: ['{{billing.country}}'], keep: 'k' }
  const slots = parseTemplate(template, 'x')
  const out = renderTemplate(template, slots, token => token === 'card.number' ? '{{number}}' : 'GB')
  t.same(out, { card: { number: '{{number}}' }, list: ['GB'], keep: 'k' })
  t.equal(template.card.number, '{{card.number}}')
})

t.test('compileTemplate renders the same JSON text as renderTemplate, filling only the slots', async t => {
  const templates = [
    DEFAULT_TEMPLATE,
    // Integer-like keys come first in JSON.stringify's order, whatever the order they were written in.
    { z: '{{card.number}}', 10: ['{{billing.city}}', 7, { deep: '{{card.cvc}}' }], 2: 'rcf-slot-x', a: { b: null, c: true }, 'é "q"': '{{billing.country}}' },
    { only: '{{card.number}}' }
  ]
  // Assertion messages name the values by index: a raw U+2028 in a message breaks the TAP stream.
  const values = ['4242', 'Zürich "old town" \\ \u2028', '', '{{number}}']
  for (const template of templates) {
    const slots = parseTemplate(template as any, 'x')
    const render = compileTemplate(template as any, slots)
    for (const [i, value] of values.entries()) {
      const fill = (token: string) => `${token}:${value}`
      t.equal(render(token => JSON.stringify(fill(token))), JSON.stringify(renderTemplate(template as any, slots, fill)), `value ${i}`)
      const encoded = compileTemplate(template as any, slots, encodeURIComponent)
      t.equal(encoded(token => encodeURIComponent(JSON.stringify(fill(token)))), encodeURIComponent(JSON.stringify(renderTemplate(template as any, slots, fill))), `value ${i}, encoded`)
    }
  }
})

t.test('billingValue reads the vault address, empty when missing', async t => {
  const address = { line1: '1 Main', postalCode: '10001', country: 'US' }
  t.equal(billingValue('billing.line1', address), '1 Main')
  t.equal(billingValue('billing.postalCode', address), '10001')
  t.equal(billingValue('billing.city', address), '')
  t.equal(billingValue('billing.city', undefined), '')
  t.equal(pointer([]), '/')
})

t.test('C52 parseTemplate refuses a key holding {{ or }}: no PSP can ever read a placeholder in a key', async t => {
  for (const key of ['{{number}}', '{{card.number}}', 'a{{b', 'x}}']) {
    t.throws(() => parseTemplate({ card: { number: '{{card.number}}' }, nested: { [key]: 1 } }, 'dest'), { message: `dest: a key must not hold {{ or }}, at ${pointer(['nested', key])}` }, key)
  }
  t.same(parseTemplate({ '{single}': '{{card.number}}' }, 'dest'), [{ path: ['{single}'], token: 'card.number' }], 'single braces are plain text')
})
