import t from 'tap'
import { destinationBody, forwardFailure, headerMap } from '../lib/psp/relay.ts'
import { PspError } from '../lib/errors.ts'

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

t.test('forwardFailure: only a PSP 4xx is a refusal; after a 5xx or an unusable 2xx the card may have gone', async t => {
  for (const [status, outcome] of [[400, undefined], [404, undefined], [499, undefined], [200, 'unknown'], [399, 'unknown'], [500, 'unknown'], [504, 'unknown']] as const) {
    const err = forwardFailure(new PspError('acme', 'x'), status)
    t.equal((err as { outcome?: string }).outcome, outcome, String(status))
    t.equal(err.code, 'CARD_FORWARDING_PSP_ERROR', 'the same error, tagged')
  }
})
