import t from 'tap'
import Fastify from 'fastify'
import Stripe from 'stripe'
import { request } from 'undici'
import type { Dispatcher } from 'undici'
import { startFakeDestination } from '../lib/sandbox/destination.ts'
import type { FakeDestination, FakeDestinationOptions } from '../lib/sandbox/destination.ts'
import { DestinationUnreachableError } from '../lib/sandbox/outbound.ts'
import { listen } from '../lib/sandbox/server.ts'
import { buildStripeSimulator, startStripeSimulator, STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import type { StripeSimulator, StripeSimulatorOptions } from '../lib/sandbox/index.ts'
import { maskApiKey, upstreamFailure } from '../lib/sandbox/stripe/errors.ts'
import { decodeStripeForm } from '../lib/sandbox/stripe/form.ts'
import { blackholeUrl } from './helpers/faulty-psp.ts'

interface Test { teardown: (fn: () => unknown) => void }
type Pairs = Array<[string, string]>

const KEY = STRIPE_SANDBOX_API_KEY
const BEARER = { authorization: `Bearer ${KEY}` }

/** A body as the adapter sends it: card fields empty, the rest filled. */
const EMPTY_CARD_BODY = {
  card: { number: '', exp_month: '', exp_year: '', cvc: '', name: '' },
  billing_address: { line1: '510 Townsend St', city: 'San Francisco', country: 'US' },
  metadata: { reference: 'ORDER_67890' }
}

async function setup (t: Test, simOpts: StripeSimulatorOptions = {}, destOpts: FakeDestinationOptions = {}): Promise<{ sim: StripeSimulator, dest: FakeDestination }> {
  const dest = await startFakeDestination(destOpts)
  t.teardown(() => dest.close())
  const sim = await startStripeSimulator({ destinations: [{ url: dest.url }], ...simOpts })
  t.teardown(() => sim.close())
  return { sim, dest }
}

function forwardPairs (dest: FakeDestination, overrides: Pairs = [], replacements = ['card_number', 'card_expiry', 'cardholder_name']): Pairs {
  return [
    ['payment_method', 'pm_card_visa'],
    ['url', dest.url],
    ...replacements.map((r, i): [string, string] => [`replacements[${i}]`, r]),
    ['request[headers][0][name]', 'Authorization'],
    ['request[headers][0][value]', 'Bearer rokt-destination-key'],
    ['request[body]', JSON.stringify(EMPTY_CARD_BODY)],
    ...overrides
  ]
}

interface Answer { status: number, headers: Dispatcher.ResponseData['headers'], body: any }

async function post (sim: StripeSimulator, pairs: Pairs | string, headers: Record<string, string> = BEARER, path = '/v1/forwarding/requests'): Promise<Answer> {
  const res = await request(sim.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof pairs === 'string' ? pairs : new URLSearchParams(pairs).toString()
  })
  return { status: res.statusCode, headers: res.headers, body: await res.body.json() }
}

async function get (sim: StripeSimulator, path: string, headers: Record<string, string> = BEARER): Promise<Answer> {
  const res = await request(sim.url + path, { headers })
  return { status: res.statusCode, headers: res.headers, body: await res.body.json() }
}

t.test('happy path: the destination gets the real card where replacements name it, nothing else changes', async (t) => {
  const { sim, dest } = await setup(t)
  const res = await post(sim, forwardPairs(dest, [
    ['request[headers][1][name]', 'X-Trace'],
    ['request[headers][1][value]', 'trace-1'],
    ['metadata[order]', 'ORDER_67890']
  ]))
  t.equal(res.status, 200)
  t.match(res.headers['request-id'], /^req_/)

  t.equal(dest.received.length, 1)
  const got = dest.received[0]
  t.equal(got.method, 'POST')
  t.equal(got.path, '/v1/cards/tokenize')
  t.same(got.body, {
    card: { number: '4242424242424242', exp_month: '12', exp_year: '2034', cvc: '', name: 'Jenny Rosen' },
    billing_address: EMPTY_CARD_BODY.billing_address,
    metadata: EMPTY_CARD_BODY.metadata
  })
  t.equal(got.headers.authorization, 'Bearer rokt-destination-key')
  t.equal(got.headers['x-trace'], 'trace-1')
  t.equal(got.headers['content-type'], 'application/json')

  const fr = res.body
  t.match(fr.id, /^fwdreq_[A-Za-z0-9]{20,}$/)
  t.equal(fr.object, 'forwarding.request')
  t.ok(Number.isInteger(fr.created) && Math.abs(fr.created - Date.now() / 1000) < 5)
  t.equal(fr.livemode, false)
  t.same(fr.metadata, { order: 'ORDER_67890' })
  t.equal(fr.payment_method, 'pm_card_visa')
  t.same(fr.replacements, ['card_number', 'card_expiry', 'cardholder_name'])
  t.equal(fr.url, dest.url)
  t.ok(Number.isInteger(fr.request_context.destination_duration) && fr.request_context.destination_duration >= 0)
  t.equal(fr.request_context.destination_ip_address, '127.0.0.1')

  t.equal(fr.request_details.http_method, 'POST')
  t.same(JSON.parse(fr.request_details.body), EMPTY_CARD_BODY, 'the stored request is redacted back to empty card fields')
  t.same(fr.request_details.headers, [
    { name: 'Authorization', value: '[REDACTED]' },
    { name: 'X-Trace', value: '[REDACTED]' },
    { name: 'Content-Type', value: 'application/json' }
  ])

  t.equal(fr.response_details.status, 200)
  t.equal(typeof fr.response_details.body, 'string')
  t.match(JSON.parse(fr.response_details.body), { token: /^rokt_tok_/, status: 'tokenized', last4: '4242' })
  t.ok(fr.response_details.headers.some((h: { name: string, value: string }) => h.name === 'content-type' && /application\/json/.test(h.value)))

  const text = JSON.stringify(fr)
  t.notMatch(text, '4242424242424242', 'no PAN in the ForwardingRequest')
  t.notMatch(text, 'rokt-destination-key', 'no destination secret in the ForwardingRequest')

  t.equal(sim.calls, 1)
  t.equal(sim.requests.length, 1)
  t.equal(sim.requests[0].method, 'POST')
  t.equal(sim.requests[0].path, '/v1/forwarding/requests')
  t.equal(sim.requests[0].headers.authorization, `Bearer ${KEY}`)
  t.match(sim.requests[0].body, /^payment_method=pm_card_visa&/)

  const again = await get(sim, `/v1/forwarding/requests/${fr.id}`)
  t.equal(again.status, 200)
  t.same(again.body, fr)
  const missing = await get(sim, '/v1/forwarding/requests/fwdreq_nope')
  t.equal(missing.status, 404)
  t.same(missing.body, { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'id', message: "No such forwarding request: 'fwdreq_nope'", doc_url: 'https://stripe.com/docs/error-codes/resource-missing' } })
  t.equal(sim.calls, 1, 'GETs are not forwards')
  t.equal(sim.requests.length, 3)
})

t.test('only the named replacements are filled; HTTP Basic auth; replacements[] and optional empties', async (t) => {
  const { sim, dest } = await setup(t)
  const basic = { authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` }
  const res = await post(sim, [
    ['payment_method', 'pm_card_mastercard'],
    ['url', dest.url],
    ['replacements[]', 'card_number'],
    ['request[body]', JSON.stringify(EMPTY_CARD_BODY)],
    ['request[headers]', ''],
    ['metadata[kept]', 'yes'],
    ['metadata[unset]', '']
  ], basic)
  t.equal(res.status, 200)
  t.same(res.body.replacements, ['card_number'])
  t.same(res.body.metadata, { kept: 'yes' }, 'an empty metadata value unsets the key')
  t.same(dest.received[0].body, { ...EMPTY_CARD_BODY, card: { ...EMPTY_CARD_BODY.card, number: '5555555555554444' } })
  t.same(res.body.request_details.headers, [{ name: 'Content-Type', value: 'application/json' }])

  // `metadata=` unsets it; a request without a body sends an empty JSON object.
  const bare = await post(sim, [
    ['payment_method', 'pm_card_amex'],
    ['url', dest.url],
    ['replacements[0]', 'card_expiry'],
    ['replacements[1]', 'card_expiry'],
    ['request[headers][0][name]', 'X-A'],
    ['request[headers][0][value]', '1'],
    ['metadata', '']
  ])
  t.equal(bare.status, 200)
  t.same(bare.body.metadata, {})
  t.same(dest.received[1].body, { card: { exp_month: '08', exp_year: '2031' } }, 'missing objects are created at the configured paths')
  t.same(dest.received[1].headers['content-type'], 'application/json')
})

t.test('a destination with its own field paths: numbers stay numbers, several paths, caller Content-Type replaced', async (t) => {
  const dest = await startFakeDestination()
  t.teardown(() => dest.close())
  const sim = await startStripeSimulator({
    destinations: [{
      url: dest.url,
      fields: {
        card_number: ['paymentCard.pan', 'echo.pan'],
        card_expiry_month: ['paymentCard.expiry.month'],
        card_expiry_year: ['paymentCard.expiry.year'],
        cardholder_name: ['paymentCard.holder']
      }
    }],
    paymentMethods: {
      pm_two_digit_year: { card: { number: '4000000000000077', expMonth: '7', expYear: '29', holderName: 'Li Wei', billing: {} } }
    }
  })
  t.teardown(() => sim.close())
  const body = { paymentCard: { pan: '', expiry: { month: 0, year: 0 }, holder: '' }, echo: null, keep: [1, 2] }
  const res = await post(sim, [
    ['payment_method', 'pm_two_digit_year'],
    ['url', dest.url],
    ['replacements[0]', 'card_number'],
    ['replacements[1]', 'card_expiry'],
    ['replacements[2]', 'cardholder_name'],
    ['request[headers][0][name]', 'content-type'],
    ['request[headers][0][value]', 'text/plain'],
    ['request[body]', JSON.stringify(body)]
  ])
  t.equal(res.status, 200)
  t.same(dest.received[0].body, {
    paymentCard: { pan: '4000000000000077', expiry: { month: 7, year: 2029 }, holder: 'Li Wei' },
    echo: { pan: '4000000000000077' },
    keep: [1, 2]
  })
  t.equal(dest.received[0].headers['content-type'], 'application/json')
  t.same(JSON.parse(res.body.request_details.body), { paymentCard: { pan: '', expiry: { month: 0, year: 0 }, holder: '' }, echo: { pan: '' }, keep: [1, 2] })
  t.same(res.body.request_details.headers, [{ name: 'Content-Type', value: 'application/json' }])
})

t.test('the destination answering 4xx/5xx is still HTTP 200, with its status in response_details', async (t) => {
  const { sim, dest } = await setup(t, {}, { response: { status: 500, headers: { 'content-type': 'text/plain' }, body: 'upstream broke' } })
  const res = await post(sim, forwardPairs(dest))
  t.equal(res.status, 200)
  t.equal(res.body.response_details.status, 500)
  t.equal(res.body.response_details.body, 'upstream broke')

  dest.setResponse({ status: 401, body: { error: 'bad key' } })
  const unauthorized = await post(sim, forwardPairs(dest))
  t.equal(unauthorized.status, 200)
  t.equal(unauthorized.body.response_details.status, 401)
  t.same(JSON.parse(unauthorized.body.response_details.body), { error: 'bad key' })

  dest.setResponse({ status: 302, headers: { location: '/elsewhere', 'set-cookie': ['a=1', 'b=2'] }, body: '' })
  const redirect = await post(sim, forwardPairs(dest))
  t.equal(redirect.status, 200)
  t.equal(redirect.body.response_details.status, 302, 'redirects are relayed, not followed')
  t.equal(redirect.body.response_details.body, '')
  const relayed = Object.fromEntries(redirect.body.response_details.headers.map((h: { name: string, value: string }) => [h.name, h.value]))
  t.equal(relayed.location, '/elsewhere')
  t.equal(relayed['set-cookie'], 'a=1, b=2')
})

t.test('expand[]=payment_method returns the PaymentMethod object; a hostname URL reports the address it resolved to', async (t) => {
  const dest = await startFakeDestination()
  t.teardown(() => dest.close())
  const byName = dest.url.replace('127.0.0.1', 'localhost')
  const sim = await startStripeSimulator({ destinations: [{ url: byName }] })
  t.teardown(() => sim.close())
  const res = await post(sim, [
    ['payment_method', 'pm_card_visa'],
    ['url', byName],
    ['replacements[0]', 'card_number'],
    ['request[body]', '{}'],
    ['expand[0]', 'payment_method']
  ])
  t.equal(res.status, 200)
  t.equal(res.body.payment_method.id, 'pm_card_visa')
  t.equal(res.body.payment_method.card.last4, '4242')
  t.notOk('number' in res.body.payment_method.card)
  t.match(res.body.request_context.destination_ip_address, /^(127\.0\.0\.1|::1)$/, 'a string, as stripe-node types it')
  t.equal(dest.received.length, 1)
  const listed = await get(sim, '/v1/forwarding/requests')
  t.equal(listed.body.data[0].payment_method, 'pm_card_visa', 'stored unexpanded: the list gives the id')
})

t.test("missingCvc 'refuse': card_cvc for a CVC that is gone is a 400, not stored under the key; other forwards pass", async (t) => {
  const { sim, dest } = await setup(t, { missingCvc: 'refuse' })
  const cvcPairs = forwardPairs(dest, [['payment_method', 'pm_card_visa_debit']], ['card_number', 'card_cvc'])
  t.equal((await post(sim, cvcPairs)).status, 200)
  const refused = await post(sim, cvcPairs, { ...BEARER, 'idempotency-key': 'cvc-gone' })
  t.equal(refused.status, 400)
  t.match(refused.body.error, { type: 'invalid_request_error', code: 'forwarding_api_invalid_parameter', param: 'replacements' })
  t.equal(dest.received.length, 1, 'nothing forwarded')
  const without = await post(sim, forwardPairs(dest, [['payment_method', 'pm_card_visa_debit']]), { ...BEARER, 'idempotency-key': 'cvc-gone' })
  t.equal(without.status, 200, 'the same key is free again: the refusal was validation')
})

t.test('CVC: forwarded once, then gone (per simulator); absent on cards that have none', async (t) => {
  const { sim, dest } = await setup(t)
  const cvcPairs = forwardPairs(dest, [['payment_method', 'pm_card_visa_debit']], ['card_number', 'card_cvc'])
  const first = await post(sim, cvcPairs)
  t.equal(first.status, 200)
  t.equal((dest.received[0].body as any).card.cvc, '123')
  t.equal((dest.received[0].body as any).card.number, '4000056655665556')
  t.notMatch(JSON.stringify(first.body), '"123"', 'the CVC is redacted from the ForwardingRequest')

  const second = await post(sim, cvcPairs)
  t.equal(second.status, 200)
  t.equal((dest.received[1].body as any).card.cvc, '', 'consumed by the first forward')

  await post(sim, forwardPairs(dest, [], ['card_cvc']))
  t.equal((dest.received[2].body as any).card.cvc, '', 'pm_card_visa has no CVC')

  const fresh = await startStripeSimulator({ destinations: [{ url: dest.url }] })
  t.teardown(() => fresh.close())
  await post(fresh, cvcPairs)
  t.equal((dest.received[3].body as any).card.cvc, '123', 'another simulator has its own vault')
})

t.test('auth: wrong, missing and malformed keys get 401 with a masked key; nothing is forwarded', async (t) => {
  const { sim, dest } = await setup(t)
  const pairs = forwardPairs(dest)

  const wrong = await post(sim, pairs, { authorization: 'Bearer sk_test_51WrongKeyAbcdefgh1234' })
  t.equal(wrong.status, 401)
  t.same(wrong.body, { error: { type: 'invalid_request_error', message: `Invalid API Key provided: sk_test_${'*'.repeat(18)}1234` } })
  t.notMatch(JSON.stringify(wrong.body), 'WrongKey')

  const basicWrong = await post(sim, pairs, { authorization: `Basic ${Buffer.from('rk_live_abcdefghijkl:pw').toString('base64')}` })
  t.equal(basicWrong.status, 401)
  t.equal(basicWrong.body.error.message, 'Invalid API Key provided: rk_live_********ijkl')

  const short = await post(sim, pairs, { authorization: 'Bearer sk_x' })
  t.equal(short.body.error.message, 'Invalid API Key provided: ****')

  for (const authorization of [undefined, 'Token abc', 'Bearer', `Basic ${Buffer.from(':').toString('base64')}`]) {
    const res = await post(sim, pairs, authorization === undefined ? {} : { authorization })
    t.equal(res.status, 401, String(authorization))
    t.equal(res.body.error.type, 'invalid_request_error')
    t.match(res.body.error.message, /^You did not provide an API key/)
  }

  const pm = await get(sim, '/v1/payment_methods/pm_card_visa', {})
  t.equal(pm.status, 401, 'GETs need the key too')
  t.equal(dest.received.length, 0)
  t.equal(sim.calls, 7, 'refused requests are still recorded')
})

t.test('maskApiKey never returns the key', async (t) => {
  t.equal(maskApiKey('sk_test_abcdefgh'), 'sk_test_****efgh')
  t.equal(maskApiKey('sk_test_short'), '*'.repeat(13))
  t.equal(maskApiKey('whatever'), '********')
})

t.test('validation errors use Stripe codes and params, and forward nothing', async (t) => {
  const { sim, dest } = await setup(t)
  const core: Pairs = [['payment_method', 'pm_card_visa'], ['url', dest.url], ['replacements[0]', 'card_number']]
  const base: Pairs = [...core, ['request[body]', '{}']]
  const without = (name: string) => base.filter(([k]) => k !== name)
  const h = (name: string, value: string): Pairs => [['request[headers][0][name]', name], ['request[headers][0][value]', value]]

  const cases: Array<{ name: string, pairs: Pairs | string, status?: number, code?: string, param?: string, message?: RegExp }> = [
    { name: 'missing payment_method', pairs: without('payment_method'), code: 'parameter_missing', param: 'payment_method', message: /^Missing required param: payment_method\.$/ },
    { name: 'missing url', pairs: without('url'), code: 'parameter_missing', param: 'url' },
    { name: 'missing replacements', pairs: without('replacements[0]'), code: 'parameter_missing', param: 'replacements' },
    { name: 'empty payment_method', pairs: [...without('payment_method'), ['payment_method', '']], code: 'parameter_invalid_empty', param: 'payment_method', message: /empty string for 'payment_method'/ },
    { name: 'payment_method as a hash', pairs: [...without('payment_method'), ['payment_method[id]', 'pm_card_visa']], param: 'payment_method', message: /^Invalid string/ },
    { name: 'url too long', pairs: [...without('url'), ['url', `https://x.example/${'a'.repeat(5000)}`]], param: 'url', message: /at most 5000 characters/ },
    { name: 'replacements as a string', pairs: [...without('replacements[0]'), ['replacements', 'card_number']], param: 'replacements', message: /^Invalid array/ },
    { name: 'replacements as a hash', pairs: [...without('replacements[0]'), ['replacements[a]', 'card_number']], param: 'replacements', message: /^Invalid array/ },
    { name: 'empty replacements', pairs: [...without('replacements[0]'), ['replacements', '']], code: 'parameter_invalid_empty', param: 'replacements' },
    { name: 'unknown replacement', pairs: [...base, ['replacements[1]', 'card_pin']], code: 'forwarding_api_invalid_parameter', param: 'replacements[1]', message: /must be one of card_cvc/ },
    { name: 'replacement as a hash', pairs: [...without('replacements[0]'), ['replacements[0][x]', 'card_number']], code: 'forwarding_api_invalid_parameter', param: 'replacements[0]' },
    { name: 'request_signature without a config for it', pairs: [...base, ['replacements[1]', 'request_signature']], code: 'forwarding_api_invalid_parameter', param: 'replacements' },
    { name: 'unknown top-level param', pairs: [...base, ['config', 'fwdcfg_1']], code: 'parameter_unknown', param: 'config', message: /^Received unknown parameter: config$/ },
    { name: 'missing request', pairs: core, code: 'parameter_missing', param: 'request' },
    { name: 'empty request', pairs: [...core, ['request', '']], code: 'parameter_invalid_empty', param: 'request' },
    { name: 'request as a string', pairs: [...core, ['request', 'x']], param: 'request', message: /^Invalid hash/ },
    { name: 'unknown request param', pairs: [...base, ['request[method]', 'PUT']], code: 'parameter_unknown', param: 'request[method]' },
    { name: 'request[body] as a hash', pairs: [...core, ['request[body][card]', 'x']], param: 'request[body]', message: /^Invalid string/ },
    { name: 'request[headers] as a string', pairs: [...base, ['request[headers]', 'x']], param: 'request[headers]', message: /^Invalid array/ },
    { name: 'a header as a string', pairs: [...base, ['request[headers][0]', 'x']], param: 'request[headers][0]', message: /^Invalid hash/ },
    { name: 'unknown header param', pairs: [...base, ...h('A', '1'), ['request[headers][0][secret]', '1']], code: 'parameter_unknown', param: 'request[headers][0][secret]' },
    { name: 'header without name', pairs: [...base, ['request[headers][0][value]', '1']], code: 'parameter_missing', param: 'request[headers][0][name]' },
    { name: 'header without value', pairs: [...base, ['request[headers][0][name]', 'A']], code: 'parameter_missing', param: 'request[headers][0][value]' },
    { name: 'header value as a hash', pairs: [...base, ['request[headers][0][name]', 'A'], ['request[headers][0][value][x]', '1']], param: 'request[headers][0][value]', message: /^Invalid string/ },
    { name: 'header name not a token', pairs: [...base, ...h('Bad Header', '1')], code: 'forwarding_api_invalid_parameter', param: 'request[headers][0][name]' },
    { name: 'reserved header', pairs: [...base, ...h('Content-Length', '1')], code: 'forwarding_api_invalid_parameter', param: 'request[headers][0][name]' },
    { name: 'header value with CRLF', pairs: [...base, ...h('X-A', 'a\r\nX-Injected: 1')], code: 'forwarding_api_invalid_parameter', param: 'request[headers][0][value]' },
    { name: 'metadata as a string', pairs: [...base, ['metadata', 'x']], param: 'metadata', message: /^Invalid hash/ },
    { name: 'nested metadata', pairs: [...base, ['metadata[a][b]', 'c']], param: 'metadata[a]', message: /^Invalid string/ },
    { name: 'expand as a string', pairs: [...base, ['expand', 'payment_method']], param: 'expand', message: /^Invalid array/ },
    { name: 'expand of hashes', pairs: [...base, ['expand[0][a]', 'b']], param: 'expand', message: /^Invalid array/ },
    { name: 'url not onboarded', pairs: [...without('url'), ['url', 'https://evil.example/steal']], code: 'forwarding_api_invalid_parameter', param: 'url', message: /not supported/ },
    { name: 'unknown PaymentMethod', pairs: [...without('payment_method'), ['payment_method', 'pm_x']], status: 404, code: 'resource_missing', param: 'payment_method', message: /^No such PaymentMethod: 'pm_x'$/ },
    { name: 'request[body] not JSON', pairs: [...core, ['request[body]', 'card=']], code: 'forwarding_api_invalid_parameter', param: 'request[body]' },
    { name: 'request[body] a JSON array', pairs: [...core, ['request[body]', '[1]']], code: 'forwarding_api_invalid_parameter', param: 'request[body]' },
    { name: 'request[body] JSON null', pairs: [...core, ['request[body]', 'null']], code: 'forwarding_api_invalid_parameter', param: 'request[body]' },
    { name: 'malformed key', pairs: 'a]=1', param: 'a]', message: /^Invalid parameter name/ },
    { name: 'nested too deep', pairs: `metadata${'[a]'.repeat(100_000)}=1`, param: 'metadata', message: /^Invalid parameter name: nested deeper than 8 levels$/ },
    { name: 'push in the middle', pairs: 'a[][b]=1', param: 'a[][b]', message: /^Invalid parameter name/ },
    { name: 'value then hash', pairs: 'metadata=1&metadata[b]=2', param: 'metadata[b]', message: /^Invalid hash/ },
    { name: 'hash then value', pairs: 'metadata[b]=2&metadata=1', param: 'metadata', message: /^Invalid string/ }
  ]
  for (const c of cases) {
    const res = await post(sim, c.pairs)
    t.equal(res.status, c.status ?? 400, `${c.name}: status`)
    t.equal(res.body.error.type, 'invalid_request_error', `${c.name}: type`)
    t.equal(res.body.error.code, c.code, `${c.name}: code`)
    t.equal(res.body.error.param, c.param, `${c.name}: param`)
    if (c.code !== undefined) t.equal(res.body.error.doc_url, `https://stripe.com/docs/error-codes/${c.code.replaceAll('_', '-')}`)
    if (c.message) t.match(res.body.error.message, c.message, `${c.name}: message`)
  }
  t.equal(dest.received.length, 0, 'nothing reached the destination')
})

t.test('bodies that are not form-encoded carry no parameters', async (t) => {
  const { sim, dest } = await setup(t)
  const json = await post(sim, JSON.stringify({ payment_method: 'pm_card_visa', url: dest.url, replacements: ['card_number'] }), { ...BEARER, 'content-type': 'application/json' })
  t.equal(json.status, 400)
  t.equal(json.body.error.code, 'parameter_missing')
  t.equal(json.body.error.param, 'payment_method')

  const noBody = await request(`${sim.url}/v1/forwarding/requests`, { method: 'POST', headers: BEARER })
  t.equal(noBody.statusCode, 400)
  t.equal((await noBody.body.json() as any).error.code, 'parameter_missing')

  const noType = await request(`${sim.url}/v1/forwarding/requests`, { method: 'POST', headers: BEARER, body: `payment_method=pm_card_visa&url=${encodeURIComponent(dest.url)}&replacements[0]=card_number` })
  t.equal(noType.statusCode, 400, 'no Content-Type: not read as a form')
  t.equal((await noType.body.json() as any).error.param, 'payment_method')
  t.equal(dest.received.length, 0)
})

t.test('decodeStripeForm: bracket notation, arrays by index or push, prototype-safe', async (t) => {
  t.same(decodeStripeForm('a=1&b[c]=2&b[d][0]=x&b[d][1]=y&e[]=p&e[]=q&f[2]=z&f[10]=w'), {
    a: '1', b: { c: '2', d: ['x', 'y'] }, e: ['p', 'q'], f: ['z', 'w']
  })
  t.same(decodeStripeForm('request%5Bheaders%5D%5B0%5D%5Bname%5D=A'), { request: { headers: [{ name: 'A' }] } }, 'encoded brackets too')
  const polluted = decodeStripeForm('__proto__[polluted]=1&metadata[__proto__]=2')
  t.equal(({} as any).polluted, undefined)
  t.equal(Object.getPrototypeOf(polluted.metadata), Object.prototype)
  t.equal(decodeStripeForm('').constructor, Object)
})

t.test('unreachable destination: 502 forwarding_api_upstream_connection_error', async (t) => {
  const gone = await listen(Fastify())
  await gone.close()
  const url = `${gone.url}/v1/cards/tokenize`
  const sim = await startStripeSimulator({ destinations: [{ url }] })
  t.teardown(() => sim.close())
  const res = await post(sim, [['payment_method', 'pm_card_visa'], ['url', url], ['replacements[0]', 'card_number'], ['request[body]', '{}']])
  t.equal(res.status, 502)
  t.same(res.body, { error: { type: 'api_error', code: 'forwarding_api_upstream_connection_error', message: 'Could not connect to the destination.' } })
})

t.test('destination too slow: 504 forwarding_api_upstream_connection_timeout', async (t) => {
  const { sim, dest } = await setup(t, { destinationTimeoutMs: 150 }, { delayMs: 5000 })
  const started = performance.now()
  const res = await post(sim, forwardPairs(dest))
  t.ok(performance.now() - started < 3000)
  t.equal(res.status, 504)
  t.same(res.body, { error: { type: 'api_error', code: 'forwarding_api_upstream_connection_timeout', message: 'The destination did not answer in time.' } })
  t.equal(dest.received.length, 1, 'the card did leave: the destination got it but did not answer in time')
})

t.test('a destination connect timeout follows the API version: 402 from basil on, 504 before (the account default here)', async (t) => {
  const url = await blackholeUrl(t)
  const sim = await startStripeSimulator({ destinations: [{ url }], destinationTimeoutMs: 300 })
  t.teardown(() => sim.close())
  const pairs: Pairs = [['payment_method', 'pm_card_visa'], ['url', url], ['replacements[0]', 'card_number'], ['request[body]', '{}']]
  const pinned = await post(sim, pairs, { ...BEARER, 'stripe-version': '2025-03-31.basil' })
  t.equal(pinned.status, 402)
  t.equal(pinned.body.error.code, 'forwarding_api_upstream_connection_timeout')
  const later = await post(sim, pairs, { ...BEARER, 'stripe-version': '2026-10-28.endive' })
  t.equal(later.status, 402, 'and every later version')
  const accountDefault = await post(sim, pairs)
  t.equal(accountDefault.status, 504, 'the simulated account defaults to 2024-12-18.acacia')
  t.equal(accountDefault.body.error.code, 'forwarding_api_upstream_connection_timeout')
  const oldAccount = await startStripeSimulator({ destinations: [{ url }], destinationTimeoutMs: 300, accountApiVersion: '2025-09-30.clover' })
  t.teardown(() => oldAccount.close())
  t.equal((await post(oldAccount, pairs)).status, 402, 'accountApiVersion sets that default')
})

t.test('Stripe-Version: a value that is not a version is refused before anything is forwarded', async (t) => {
  const { sim, dest } = await setup(t)
  const res = await post(sim, forwardPairs(dest), { ...BEARER, 'stripe-version': 'latest' })
  t.equal(res.status, 400)
  t.same(res.body, { error: { type: 'invalid_request_error', message: 'Invalid Stripe API version: latest' } })
  t.equal(dest.received.length, 0)
})

t.test('metadata: Stripe\'s limits (50 keys, 40-character keys, 500-character values), and only from 2024-10-28.acacia', async (t) => {
  const { sim, dest } = await setup(t)
  const tooMany: Pairs = Array.from({ length: 51 }, (_, i): [string, string] => [`metadata[k${i}]`, 'v'])
  const cases: Array<[Pairs, string]> = [
    [tooMany, 'Invalid metadata: metadata can have at most 50 keys'],
    [[[`metadata[${'k'.repeat(41)}]`, 'v']], 'Invalid metadata: keys can be at most 40 characters'],
    [[['metadata[k]', 'v'.repeat(501)]], 'Invalid metadata: values can be at most 500 characters']
  ]
  for (const [extra, message] of cases) {
    const res = await post(sim, forwardPairs(dest, extra))
    t.equal(res.status, 400)
    t.equal(res.body.error.message, message)
  }
  const limits = await post(sim, forwardPairs(dest, [[`metadata[${'k'.repeat(40)}]`, 'v'.repeat(500)], ...tooMany.slice(0, 49)]))
  t.equal(limits.status, 200, 'exactly at the limits')
  const old = await post(sim, forwardPairs(dest, [['metadata[a]', '1']]), { ...BEARER, 'stripe-version': '2024-09-30.acacia' })
  t.equal(old.status, 400)
  t.equal(old.body.error.code, 'parameter_unknown')
  t.equal(old.body.error.param, 'metadata')
  t.equal(dest.received.length, 1)
})

t.test('GET /v1/forwarding/requests: newest first, limit, cursors, a created range; no metadata filter', async (t) => {
  const { sim, dest } = await setup(t)
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push((await post(sim, forwardPairs(dest, [['metadata[n]', String(i)]]))).body.id)
  const newest = [...ids].reverse()
  const all = await get(sim, '/v1/forwarding/requests')
  t.match(all.body, { object: 'list', has_more: false, url: '/v1/forwarding/requests' })
  t.same(all.body.data.map((r: any) => r.id), newest)
  t.same(all.body.data[0].metadata, { n: '4' })
  t.notMatch(JSON.stringify(all.body), /4242424242424242/, 'redacted, like the create answer')

  const page1 = await get(sim, '/v1/forwarding/requests?limit=2')
  t.same(page1.body.data.map((r: any) => r.id), newest.slice(0, 2))
  t.equal(page1.body.has_more, true)
  const page2 = await get(sim, `/v1/forwarding/requests?limit=2&starting_after=${newest[1]}`)
  t.same(page2.body.data.map((r: any) => r.id), newest.slice(2, 4))
  const last = await get(sim, `/v1/forwarding/requests?limit=2&starting_after=${newest[3]}`)
  t.same(last.body.data.map((r: any) => r.id), newest.slice(4))
  t.equal(last.body.has_more, false)
  const back = await get(sim, `/v1/forwarding/requests?limit=2&ending_before=${newest[4]}`)
  t.same(back.body.data.map((r: any) => r.id), newest.slice(2, 4), 'ending_before: the page just before the cursor')
  t.equal(back.body.has_more, true)
  t.equal((await get(sim, `/v1/forwarding/requests?ending_before=${newest[1]}`)).body.has_more, false)

  // Stripe's created is in whole seconds: the five may straddle a second, so the counts come from their own times.
  const times: number[] = all.body.data.map((r: any) => r.created)
  const created = times[0]
  const count = (keep: (time: number) => boolean) => times.filter(keep).length
  t.equal((await get(sim, `/v1/forwarding/requests?created[gte]=${created}`)).body.data.length, count(time => time >= created))
  t.equal((await get(sim, `/v1/forwarding/requests?created[gt]=${created}`)).body.data.length, 0, 'none after the newest')
  t.equal((await get(sim, `/v1/forwarding/requests?created[lt]=${created}`)).body.data.length, count(time => time < created))
  t.equal((await get(sim, `/v1/forwarding/requests?created[lte]=${created}&created[gte]=${created}`)).body.data.length, count(time => time === created))
  t.equal((await get(sim, `/v1/forwarding/requests?created=${created}`)).body.data.length, count(time => time === created), 'an exact timestamp')
  t.equal((await get(sim, `/v1/forwarding/requests?created[lte]=${created}`)).body.data.length, 5, 'every one at or before the newest')

  const refusals: Array<[string, number, string]> = [
    ['metadata[n]=1', 400, 'parameter_unknown'],
    ['created[eq]=1', 400, 'parameter_unknown'],
    ['limit=0', 400, 'limit'],
    ['limit=101', 400, 'limit'],
    ['limit=ten', 400, 'limit'],
    ['created[gt]=-1', 400, 'created[gt]'],
    ['created[0]=1', 400, 'created'],
    ['starting_after=fwdreq_nope', 404, 'resource_missing'],
    ['ending_before=fwdreq_nope', 404, 'resource_missing'],
    [`starting_after=${ids[0]}&ending_before=${ids[1]}`, 400, 'ending_before']
  ]
  for (const [query, status, what] of refusals) {
    const res = await get(sim, `/v1/forwarding/requests?${query}`)
    t.equal(res.status, status, query)
    t.ok(res.body.error.code === what || res.body.error.param === what, `${query}: ${what}`)
  }
})

t.test('onboarded destination headers (the credentials given at onboarding) go with every forward, over the caller\'s', async (t) => {
  const dest = await startFakeDestination({ requiredHeaders: { authorization: 'Bearer onboarded' } })
  t.teardown(() => dest.close())
  const sim = await startStripeSimulator({ destinations: [{ url: dest.url, headers: { Authorization: 'Bearer onboarded' } }] })
  t.teardown(() => sim.close())
  const res = await post(sim, forwardPairs(dest))
  t.equal(res.body.response_details.status, 200)
  t.equal(dest.received[0].headers.authorization, 'Bearer onboarded', 'the onboarded value wins over the request\'s')
  t.notMatch(JSON.stringify(res.body.request_details), /onboarded/, 'redacted')
})

t.test('upstreamFailure: a connect timeout is 402 (Stripe basil: nothing was sent, safe to retry)', async (t) => {
  const connect = upstreamFailure(new DestinationUnreachableError(true, { cause: Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }) }))
  t.equal(connect.status, 402)
  t.equal(connect.error.code, 'forwarding_api_upstream_connection_timeout')
  const before = upstreamFailure(new DestinationUnreachableError(true, { cause: Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }) }), '2025-02-24')
  t.equal(before.status, 504, 'before basil, a timeout like any other')
  const headers = upstreamFailure(new DestinationUnreachableError(true, { cause: Object.assign(new Error('headers timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' }) }))
  t.equal(headers.status, 504)
  const refused = upstreamFailure(new DestinationUnreachableError(false, { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) }))
  t.equal(refused.status, 502)
  t.equal(refused.error.code, 'forwarding_api_upstream_connection_error')
})

t.test('Idempotency-Key: same params replay without a second forward; other params are refused', async (t) => {
  const { sim, dest } = await setup(t)
  const pairs = forwardPairs(dest, [['metadata[a]', '1'], ['metadata[b]', '2']])
  const first = await post(sim, pairs, { ...BEARER, 'idempotency-key': 'key-1' })
  t.equal(first.status, 200)
  t.notOk(first.headers['idempotent-replayed'])

  const reordered: Pairs = [...pairs.slice(0, -2), ['metadata[b]', '2'], ['metadata[a]', '1']]
  const replay = await post(sim, reordered, { ...BEARER, 'idempotency-key': 'key-1' })
  t.equal(replay.status, 200)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.same(replay.body, first.body, 'the stored response, same id')
  t.equal(dest.received.length, 1, 'the destination was called once')

  const other = await post(sim, forwardPairs(dest, [['metadata[a]', 'changed']]), { ...BEARER, 'idempotency-key': 'key-1' })
  t.equal(other.status, 400)
  t.equal(other.body.error.type, 'idempotency_error')
  t.match(other.body.error.message, /same parameters/)
  t.equal(dest.received.length, 1)

  const fresh = await post(sim, pairs, { ...BEARER, 'idempotency-key': 'key-2' })
  t.equal(fresh.status, 200)
  t.not(fresh.body.id, first.body.id)
  t.equal(dest.received.length, 2)
})

t.test('Idempotency-Key: validation errors are not stored; upstream errors are replayed', async (t) => {
  const { sim, dest } = await setup(t)
  const invalid = await post(sim, forwardPairs(dest, [['payment_method', 'pm_x']]), { ...BEARER, 'idempotency-key': 'k' })
  t.equal(invalid.status, 404)
  const valid = await post(sim, forwardPairs(dest), { ...BEARER, 'idempotency-key': 'k' })
  t.equal(valid.status, 200, 'the key was not taken by the refused request')

  const gone = await listen(Fastify())
  await gone.close()
  const failing = await startStripeSimulator({ destinations: [{ url: gone.url }] })
  t.teardown(() => failing.close())
  const pairs: Pairs = [['payment_method', 'pm_card_visa'], ['url', gone.url], ['replacements[0]', 'card_number'], ['request[body]', '{}']]
  const first = await post(failing, pairs, { ...BEARER, 'idempotency-key': 'u' })
  t.equal(first.status, 502)
  // Something now listens where the destination was; the replay must not reach it.
  const second = await post(failing, pairs, { ...BEARER, 'idempotency-key': 'u' })
  t.equal(second.status, 502)
  t.equal(second.headers['idempotent-replayed'], 'true')
})

t.test('Idempotency-Key: a concurrent duplicate gets 409 while the first is in flight', async (t) => {
  const { sim, dest } = await setup(t, {}, { delayMs: 300 })
  const headers = { ...BEARER, 'idempotency-key': 'same' }
  const first = post(sim, forwardPairs(dest), headers)
  while (dest.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  const second = await post(sim, forwardPairs(dest), headers)
  t.equal(second.status, 409)
  t.same(second.body.error.type, 'idempotency_error')
  t.equal(second.body.error.code, 'idempotency_key_in_use')
  t.equal((await first).status, 200)
  t.equal(dest.received.length, 1)
})

t.test('GET /v1/payment_methods/:id: the PaymentMethod without its number', async (t) => {
  const sim = await startStripeSimulator({
    paymentMethods: {
      pm_custom: { card: { number: '3530111333300000', expMonth: '1', expYear: '2040', holderName: 'Ola Nordmann', billing: {} }, funding: 'prepaid', billingDetails: { email: 'ola@example.com' } },
      pm_discover: { card: { number: '6011111111111117', expMonth: '02', expYear: '2033', holderName: 'D', billing: {} } }
    }
  })
  t.teardown(() => sim.close())

  const visa = await get(sim, '/v1/payment_methods/pm_card_visa')
  t.equal(visa.status, 200)
  t.same(visa.body, {
    id: 'pm_card_visa',
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: {
      address: { city: 'San Francisco', country: 'US', line1: '510 Townsend St', line2: null, postal_code: '94103', state: 'CA' },
      email: 'jenny.rosen@example.com',
      name: 'Jenny Rosen',
      phone: '+14155550100'
    },
    card: { brand: 'visa', country: 'US', exp_month: 12, exp_year: 2034, funding: 'credit', last4: '4242' },
    created: visa.body.created,
    customer: null,
    livemode: false,
    metadata: {},
    type: 'card'
  })
  t.notMatch(JSON.stringify(visa.body), '4242424242424242')

  const mc = await get(sim, '/v1/payment_methods/pm_card_mastercard')
  t.equal(mc.body.card.brand, 'mastercard')
  t.equal(mc.body.billing_details.address.line2, 'Suite 4')
  t.equal(mc.body.card.exp_month, 3)
  t.equal((await get(sim, '/v1/payment_methods/pm_card_amex')).body.card.brand, 'amex')
  const debit = await get(sim, '/v1/payment_methods/pm_card_visa_debit')
  t.equal(debit.body.card.funding, 'debit')
  t.notOk('cvc' in debit.body.card)
  t.equal((await get(sim, '/v1/payment_methods/pm_discover')).body.card.brand, 'discover')

  const custom = await get(sim, '/v1/payment_methods/pm_custom')
  t.same(custom.body.billing_details, {
    address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
    email: 'ola@example.com',
    name: 'Ola Nordmann',
    phone: null
  })
  t.match(custom.body.card, { brand: 'unknown', funding: 'prepaid', exp_month: 1, exp_year: 2040, last4: '0000' })

  const missing = await get(sim, '/v1/payment_methods/pm_nope')
  t.equal(missing.status, 404)
  t.same(missing.body.error, { type: 'invalid_request_error', code: 'resource_missing', param: 'id', message: "No such PaymentMethod: 'pm_nope'", doc_url: 'https://stripe.com/docs/error-codes/resource-missing' })
})

t.test('unknown URLs and oversized bodies get Stripe envelopes; no destinations by default', async (t) => {
  const sim = await startStripeSimulator()
  t.teardown(() => sim.close())
  const unknown = await get(sim, '/v1/charges?limit=1')
  t.equal(unknown.status, 404)
  t.same(unknown.body, { error: { type: 'invalid_request_error', message: 'Unrecognized request URL (GET: /v1/charges). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.' } })
  t.equal(sim.requests.at(-1)?.path, '/v1/charges', 'recorded without the query string')

  const big = await post(sim, `payment_method=${'a'.repeat(1024 * 1024 + 10)}`)
  t.equal(big.status, 413)
  t.equal(big.body.error.type, 'invalid_request_error')
  t.type(big.body.error.message, 'string')

  const refused = await post(sim, [['payment_method', 'pm_card_visa'], ['url', 'https://forwarding-api-demo.stripedemos.com/tokens'], ['replacements[0]', 'card_number'], ['request[body]', '{}']])
  t.equal(refused.status, 400)
  t.equal(refused.body.error.code, 'forwarding_api_invalid_parameter')
})

t.test('buildStripeSimulator returns the app, a custom key works', async (t) => {
  const app = buildStripeSimulator({ apiKey: 'sk_test_custom_key_123' })
  const server = await listen(app)
  t.teardown(() => server.close())
  const ok = await request(`${server.url}/v1/payment_methods/pm_card_amex`, { headers: { authorization: 'Bearer sk_test_custom_key_123' } })
  t.equal(ok.statusCode, 200)
  t.equal((await ok.body.json() as any).card.last4, '0005')
  const old = await request(`${server.url}/v1/payment_methods/pm_card_amex`, { headers: BEARER })
  t.equal(old.statusCode, 401)
  await old.body.dump()
})

t.test('the official stripe SDK speaks to the simulator', async (t) => {
  const { sim, dest } = await setup(t, {}, { requiredHeaders: { authorization: 'Bearer rokt-destination-key' } })
  const port = Number(new URL(sim.url).port)
  const stripe = new Stripe(KEY, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 })

  const fr = await stripe.forwarding.requests.create({
    payment_method: 'pm_card_visa_debit',
    url: dest.url,
    replacements: ['card_number', 'card_expiry', 'card_cvc', 'cardholder_name'],
    request: {
      headers: [{ name: 'Authorization', value: 'Bearer rokt-destination-key' }],
      body: JSON.stringify(EMPTY_CARD_BODY)
    },
    metadata: { reference: 'ORDER_67890' }
  }, { idempotencyKey: 'sdk-key-1' })
  t.equal(fr.object, 'forwarding.request')
  t.match(fr.id, /^fwdreq_/)
  t.equal(fr.response_details?.status, 200)
  t.match(JSON.parse(fr.response_details?.body as string), { status: 'tokenized', last4: '5556' })
  t.equal(fr.request_details?.http_method, 'POST')
  t.same(fr.metadata, { reference: 'ORDER_67890' })
  t.same((dest.received[0].body as any).card, { number: '4000056655665556', exp_month: '11', exp_year: '2032', cvc: '123', name: 'Kai Tanaka' })
  t.equal(sim.requests[0].headers['idempotency-key'], 'sdk-key-1')
  t.match(sim.requests[0].body, /replacements\[0\]=card_number/)
  t.match(sim.requests[0].body, /request\[headers\]\[0\]\[name\]=Authorization/)

  const replay = await stripe.forwarding.requests.create({
    payment_method: 'pm_card_visa_debit',
    url: dest.url,
    replacements: ['card_number', 'card_expiry', 'card_cvc', 'cardholder_name'],
    request: { headers: [{ name: 'Authorization', value: 'Bearer rokt-destination-key' }], body: JSON.stringify(EMPTY_CARD_BODY) },
    metadata: { reference: 'ORDER_67890' }
  }, { idempotencyKey: 'sdk-key-1' })
  t.equal(replay.id, fr.id)
  t.equal(dest.received.length, 1)

  const retrieved = await stripe.forwarding.requests.retrieve(fr.id)
  t.equal(retrieved.id, fr.id)

  const pm = await stripe.paymentMethods.retrieve('pm_card_visa')
  t.equal(pm.card?.last4, '4242')
  t.equal(pm.billing_details.address?.postal_code, '94103')

  await t.rejects(stripe.forwarding.requests.create({ payment_method: 'pm_x', url: dest.url, replacements: ['card_number'], request: { body: '{}' } }),
    { type: 'StripeInvalidRequestError', code: 'resource_missing', param: 'payment_method', statusCode: 404 })
  await t.rejects(stripe.forwarding.requests.create({ payment_method: 'pm_card_visa', url: 'https://elsewhere.example/', replacements: ['card_number'], request: { body: '{}' } }),
    { type: 'StripeInvalidRequestError', code: 'forwarding_api_invalid_parameter', param: 'url' })
  const badKey = new Stripe('sk_test_wrong_key_0000', { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 })
  await t.rejects(badKey.paymentMethods.retrieve('pm_card_visa'), { type: 'StripeAuthenticationError', statusCode: 401, message: /^Invalid API Key provided: sk_test_\*+0000$/ })
})
