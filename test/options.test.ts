import t from 'tap'
import { resolveOptions } from '../lib/options/index.ts'
import { stripe } from '../lib/psp/adapters/stripe.ts'

const base = {
  allowedIps: ['203.0.113.1'],
  auth: { secret: 'x'.repeat(32), issuer: 'i', audience: 'a' },
  resolvePaymentMethod: async () => null,
  psps: { stripe: stripe({ apiKey: 'sk_test_options' }) },
  destinations: { D: { url: 'https://rokt.example/cards' } }
}

t.test('resolveOptions refuses shapes that cannot be options, naming what is wrong', async t => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /^options: required/],
    ['x', /^options: required/],
    [{ ...base, destinations: { D: null } }, /^destinations.D: must be an object/],
    [{ ...base, destinations: { D: 'https://rokt.example' } }, /^destinations.D: must be an object/],
    [{ ...base, destinations: { D: { url: 'not a url' } } }, /^destinations.D.url: must be an https URL/],
    [{ ...base, destinations: { D: { url: 42 } } }, /^destinations.D.url: must be an https URL/],
    [{ ...base, destinations: { D: { url: 'http://127.0.0.1:1/x' } } }, /^destinations.D.url: must be an https URL/],
    [{ ...base, destinations: { D: { url: 'https://rokt.example', headers: { 'x-n': 1 } } } }, /^destinations.D.headers: "x-n"/],
    [{ ...base, destinations: { D: { url: 'https://rokt.example', body: ['{{card.number}}'] } } }, /^destinations.D.body: must be a JSON object template/],
    [{ ...base, destinations: { D: { url: 'https://rokt.example', body: 'x' } } }, /^destinations.D.body: must be a JSON object template/],
    [{ ...base, psps: null }, /^psps: give at least one/],
    [{ ...base, destinations: null }, /^destinations: give at least one/],
    [{ ...base, idempotencyStore: {} }, /^idempotencyStore: needs begin, complete and release functions \(begin is missing\)/],
    [{ ...base, idempotencyTtlMs: 10 }, /^idempotencyTtlMs/]
  ]
  for (const [options, message] of bad) t.throws(() => resolveOptions(options as any), { message }, String(message))
})

t.test('resolveOptions prepares each destination once, frozen, with its template slots', async t => {
  const resolved = resolveOptions({ ...base, allowInsecureUrls: true, destinations: { D: { url: 'http://127.0.0.1:8080/cards', headers: { 'X-Key': 'k' } } } } as any)
  const d = resolved.destinations.get('D')!
  t.equal(d.url, 'http://127.0.0.1:8080/cards')
  t.same(d.headers, { 'X-Key': 'k' })
  t.ok(Object.isFrozen(d) && Object.isFrozen(d.headers))
  t.equal(d.slots.length, 11, 'the default template')
  t.equal(resolved.path, '/v1/initiate-payment-sharing')
  t.equal(resolved.relay, 'destination')
  t.equal(resolved.bodyLimit, 8192)
})
