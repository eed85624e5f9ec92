import t from 'tap'
import { destinationBody, headerMap } from '../lib/relay.ts'

t.test('headerMap flattens every PSP header shape and drops hop-by-hop headers', async t => {
  t.same(headerMap([{ name: 'Content-Type', value: 'application/json' }, { name: 'Connection', value: 'close' }, null, { value: 'x' }]), { 'content-type': 'application/json' }, 'Stripe name/value list')
  t.same(headerMap({ 'Content-Type': ['application/json'], 'X-Multi': ['a', 'b'], 'Keep-Alive': 'timeout=5', 'Transfer-Encoding': 'chunked' }), { 'content-type': 'application/json', 'x-multi': 'a, b' }, 'Checkout.com arrays')
  t.same(headerMap({ 'content-length': 12 }), { 'content-length': '12' }, 'Adyen/Braintree map')
  t.same(headerMap(null), {})
  t.same(headerMap('nonsense'), {})
})

t.test('destinationBody parses JSON answers only', async t => {
  t.same(destinationBody('{"a":1}', { 'content-type': 'application/json; charset=utf-8' }), { a: 1 })
  t.same(destinationBody('{"a":1}', { 'content-type': 'application/problem+json' }), { a: 1 })
  t.equal(destinationBody('{"a":1}', { 'content-type': 'text/plain' }), '{"a":1}')
  t.equal(destinationBody('{"a":1}', {}), '{"a":1}', 'no content type: raw string')
  t.equal(destinationBody('not json', { 'content-type': 'application/json' }), 'not json', 'a destination lying about JSON: raw string')
  t.same(destinationBody({ already: 'parsed' }, {}), { already: 'parsed' })
  t.equal(destinationBody(undefined, {}), null)
})
