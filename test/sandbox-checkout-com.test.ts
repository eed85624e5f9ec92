import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { request } from 'undici'
import { CHECKOUT_COM_SANDBOX_SECRET_KEY as KEY, CHECKOUT_COM_TEST_SOURCES as SRC, startCheckoutComSimulator } from '../lib/sandbox/index.ts'
import { CHECKOUT_COM_TEST_CVV_TOKEN, CHECKOUT_COM_TEST_TOKEN } from '../lib/sandbox/checkout-com/wire.ts'
import { startFakeDestination, type DestinationResponse } from '../lib/sandbox/destination.ts'
import { listen } from '../lib/sandbox/server.ts'
import { TEST_CARDS } from '../lib/sandbox/test-cards.ts'

/**
 * The fake Rokt destination, answering by path: /bad a 400, /slow after 1.5 s, /text plain text,
 * /cookies two Set-Cookie headers, anything else the default tokenized JSON.
 */
async function startDestination (t: Test) {
  const dest = await startFakeDestination({
    response: async (received): Promise<DestinationResponse> => {
      if (received.path === '/bad') return { status: 400, body: { error: 'card_declined' } }
      if (received.path === '/slow') await sleep(1500)
      if (received.path === '/text') return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'plain answer' }
      // Fastify sends an array value as repeated headers; DestinationResponse types it as a string.
      if (received.path === '/cookies') return { status: 200, headers: { 'set-cookie': ['a=1', 'b=2'] as unknown as string }, body: { received: true } }
      return { status: 200, headers: { 'x-destination': 'rokt' }, body: { received: true } }
    }
  })
  t.teardown(() => dest.close())
  return { url: dest.baseUrl, received: dest.received }
}

async function startSim (t: Test, options: Parameters<typeof startCheckoutComSimulator>[0] = {}) {
  const sim = await startCheckoutComSimulator(options)
  t.teardown(() => sim.close())
  return sim
}

async function post (base: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(base + '/forward', {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text, json: text === '' ? undefined : JSON.parse(text) }
}

async function get (base: string, path: string, auth = `Bearer ${KEY}`) {
  const res = await request(base + path, { headers: { authorization: auth } })
  const text = await res.body.text()
  return { status: res.statusCode, json: text === '' ? undefined : JSON.parse(text) }
}

const ALL_PLACEHOLDERS = JSON.stringify({
  number: '{{card_number}}',
  month: '{{ card_expiry_month }}',
  mm: '{{card_expiry_month_mm}}',
  yy: '{{card_expiry_year_yy}}',
  yyyy: '{{card_expiry_year_yyyy}}',
  name: '{{cardholder_name}}',
  line1: '{{billing_address_line1}}',
  line2: '{{billing_address_line2}}',
  city: '{{billing_address_city}}',
  state: '{{billing_address_state}}',
  zip: '{{billing_address_zip}}',
  country: '{{billing_address_country}}'
})

function forwardBody (url: string, overrides: { source?: unknown, body?: string, headers?: Record<string, string>, method?: string, extra?: Record<string, unknown> } = {}) {
  return {
    source: overrides.source ?? { type: 'id', id: SRC.visa },
    destination_request: {
      url,
      method: overrides.method ?? 'POST',
      headers: { raw: overrides.headers ?? { 'Content-Type': 'application/json', 'X-Api-Key': 'rokt-key' } },
      body: overrides.body ?? ALL_PLACEHOLDERS
    },
    ...overrides.extra
  }
}

t.test('test constants have the documented shapes', async t => {
  for (const id of Object.values(SRC)) t.match(id, /^src_\w{26}$/)
  t.match(CHECKOUT_COM_TEST_TOKEN, /^tok_\w{26}$/)
  t.match(CHECKOUT_COM_TEST_CVV_TOKEN, /^tok_\w{26}$/)
  // checkout-sdk-node's NAS sandbox key pattern (src/config.js), so the SDK sends it as `Bearer sk_sbox_…`
  t.match(KEY, /^sk_sbox_?[a-z2-7]{26}[a-z2-7*#$=]$/)
})

t.test('forwards the vaulted card into the destination request and relays the answer', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t)
  const res = await post(sim.url, forwardBody(dest.url + '/ok', {
    headers: { 'Content-Type': 'application/json', 'X-Api-Key': 'rokt-key', 'X-Holder': '{{ cardholder_name }}' },
    extra: { reference: 'ORDER-1', processing_channel_id: 'pc_azsiyswl7bwe2ynjzujy7lcjca' }
  }))
  t.equal(res.status, 200)
  t.match(res.headers['cko-request-id'], /^fwd_/)
  t.match(res.json.request_id, /^fwd_[0-9A-Z]{26}$/)
  t.equal(res.json.destination_response.status, 200)
  t.same(res.json.destination_response.headers['Content-Type'], ['application/json; charset=utf-8'])
  t.same(res.json.destination_response.headers['X-Destination'], ['rokt'], 'names canonical, values string arrays')
  t.same(JSON.parse(res.json.destination_response.body), { received: true })

  t.equal(dest.received.length, 1)
  const got = dest.received[0]
  t.equal(got.method, 'POST')
  t.equal(got.path, '/ok')
  t.equal(got.headers['x-api-key'], 'rokt-key')
  t.equal(got.headers['x-holder'], 'Jenny Rosen', 'raw header values are filled too')
  const card = TEST_CARDS.visa
  t.same(got.body, {
    number: card.number,
    month: '12',
    mm: '12',
    yy: '34',
    yyyy: '2034',
    name: card.holderName,
    line1: card.billing.line1,
    line2: '',
    city: card.billing.city,
    state: card.billing.state,
    zip: card.billing.postalCode,
    country: card.billing.country
  })

  t.equal(sim.calls, 1)
  t.equal(sim.requests[0].method, 'POST')
  t.equal(sim.requests[0].path, '/forward')
  t.match(sim.requests[0].body, { source: { id: SRC.visa } })
})

t.test('single-digit month, two-digit MM, line2, and JSON escaping of card values', async t => {
  const dest = await startDestination(t)
  const odd = { ...TEST_CARDS.mastercard, holderName: 'Zoë "Q" O\'Brien \\ Jr' }
  const sim = await startSim(t, { sources: { [SRC.mastercard]: odd } })
  const res = await post(sim.url, forwardBody(dest.url + '/ok', { source: { type: 'id', id: SRC.mastercard } }))
  t.equal(res.status, 200)
  const body = dest.received[0].body as Record<string, string>
  t.equal(body.month, '3')
  t.equal(body.mm, '03')
  t.equal(body.yy, '30')
  t.equal(body.line2, 'Suite 4')
  t.equal(body.name, odd.holderName, 'a name with quotes and backslashes stays valid JSON')
})

t.test('missing billing fields fill as empty strings; repeated response headers stay one entry', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t, { sources: { [SRC.visa]: { ...TEST_CARDS.visa, billing: {} } } })
  const res = await post(sim.url, forwardBody(dest.url + '/cookies'))
  t.equal(res.status, 200)
  t.same(res.json.destination_response.headers['Set-Cookie'], ['a=1, b=2'])
  const body = dest.received[0].body as Record<string, string>
  t.same([body.line1, body.line2, body.city, body.state, body.zip, body.country], ['', '', '', '', '', ''])
  t.equal(body.number, TEST_CARDS.visa.number)
})

t.test('accepts the key bare (older keys, as the SDK sends them) and refuses a wrong one with an empty 401', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t)
  const bare = await post(sim.url, forwardBody(dest.url + '/ok'), { authorization: KEY })
  t.equal(bare.status, 200)

  for (const authorization of ['Bearer sk_sbox_wrong', 'sk_sbox_wrong', `Basic ${KEY}`]) {
    const res = await post(sim.url, forwardBody(dest.url + '/ok'), { authorization })
    t.equal(res.status, 401, authorization)
    t.equal(res.text, '', 'no body')
  }
  const none = await request(sim.url + '/forward', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  t.equal(none.statusCode, 401)
  t.equal(await none.body.text(), '')
  t.equal(dest.received.length, 1, 'nothing unauthenticated reached the destination')
  t.equal(sim.calls, 5, 'every request is recorded')
})

t.test('GET /forward/{id} returns the request with placeholders and redacted secrets', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t)
  const body = forwardBody(dest.url + '/ok', {
    headers: { 'Content-Type': 'application/json', 'X-Api-Key': 'rokt-key', Authorization: 'Bearer rokt' },
    extra: { reference: 'ORDER-2' }
  })
  const res = await post(sim.url, body)
  const found = await get(sim.url, '/forward/' + res.json.request_id)
  t.equal(found.status, 200)
  t.equal(found.json.request_id, res.json.request_id)
  t.equal(found.json.reference, 'ORDER-2')
  t.match(found.json.entity_id, /^ent_/)
  t.ok(!Number.isNaN(Date.parse(found.json.created_on)))
  t.same(found.json.destination_request, {
    url: dest.url + '/ok',
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Api-Key': '***redacted***', Authorization: '***redacted***' },
    body: ALL_PLACEHOLDERS
  })
  t.notMatch(JSON.stringify(found.json), TEST_CARDS.visa.number, 'no PAN kept')
  t.same(found.json.destination_response, res.json.destination_response)

  const missing = await get(sim.url, '/forward/fwd_unknown')
  t.equal(missing.status, 404)
  t.same(missing.json.error_codes, ['forward_request_not_found'])
  t.equal(missing.json.error_type, 'not_found')
  t.match(missing.json.request_id, /^fwd_/)

  const anonymous = await get(sim.url, '/forward/' + res.json.request_id, 'Bearer nope')
  t.equal(anonymous.status, 401)
})

t.test('a destination 4xx is relayed inside a 200; text bodies and other methods pass through', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t)
  const bad = await post(sim.url, forwardBody(dest.url + '/bad'))
  t.equal(bad.status, 200)
  t.equal(bad.json.destination_response.status, 400)
  t.same(JSON.parse(bad.json.destination_response.body), { error: 'card_declined' })

  const text = await post(sim.url, forwardBody(dest.url + '/text', { method: 'PUT', body: 'number={{card_number}}' }))
  t.equal(text.json.destination_response.body, 'plain answer')
  t.equal(dest.received[1].method, 'PUT')
  t.equal(dest.received[1].body, 'number=4242424242424242')
})

t.test('encrypted headers are accepted (not decrypted) and reference/channel are checked', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t)
  const body = forwardBody(dest.url + '/ok')
  ;(body.destination_request.headers as Record<string, unknown>).encrypted = 'eyJhbGciOi.jwe'
  const res = await post(sim.url, body)
  t.equal(res.status, 200)
  t.equal(dest.received[0].headers['x-api-key'], 'rokt-key')
})

t.test('request validation answers 422 request_invalid with every failing code', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t)
  const url = dest.url + '/ok'
  const ok = forwardBody(url)
  const dr = ok.destination_request
  const cases: Array<[string, unknown, string[]]> = [
    ['empty object', {}, ['source_required', 'destination_request_required']],
    ['not an object', [], ['request_body_invalid']],
    ['source not an object', { ...ok, source: 'src' }, ['source_invalid']],
    ['source type missing', { ...ok, source: { id: SRC.visa } }, ['source_type_required']],
    ['source type unknown', { ...ok, source: { type: 'card' } }, ['source_type_invalid']],
    ['id missing', { ...ok, source: { type: 'id' } }, ['source_id_required']],
    ['id malformed', { ...ok, source: { type: 'id', id: 'src_short' } }, ['source_id_invalid']],
    ['id not a string', { ...ok, source: { type: 'id', id: 42 } }, ['source_id_invalid']],
    ['cvv token malformed', { ...ok, source: { type: 'id', id: SRC.visa, cvv_token: 'tok_x' } }, ['cvv_token_invalid']],
    ['cvv token not a string', { ...ok, source: { type: 'id', id: SRC.visa, cvv_token: 1 } }, ['cvv_token_invalid']],
    ['token missing', { ...ok, source: { type: 'token' } }, ['source_token_required']],
    ['token malformed', { ...ok, source: { type: 'token', token: 'tok_1' } }, ['source_token_invalid']],
    ['token not a string', { ...ok, source: { type: 'token', token: {} } }, ['source_token_invalid']],
    ['destination not an object', { ...ok, destination_request: 'x' }, ['destination_request_invalid']],
    ['destination empty', { ...ok, destination_request: {} }, [
      'destination_request_url_required', 'destination_request_method_required',
      'destination_request_headers_required', 'destination_request_body_required'
    ]],
    ['url not a url', { ...ok, destination_request: { ...dr, url: 'not a url' } }, ['destination_request_url_invalid']],
    ['url not a string', { ...ok, destination_request: { ...dr, url: 7 } }, ['destination_request_url_invalid']],
    ['url plain http off loopback', { ...ok, destination_request: { ...dr, url: 'http://example.com/x' } }, ['destination_request_url_invalid']],
    ['url other scheme', { ...ok, destination_request: { ...dr, url: 'ftp://127.0.0.1/x' } }, ['destination_request_url_invalid']],
    ['url too long', { ...ok, destination_request: { ...dr, url: 'https://example.com/' + 'a'.repeat(1010) } }, ['destination_request_url_invalid']],
    ['method lower case', { ...ok, destination_request: { ...dr, method: 'post' } }, ['destination_request_method_invalid']],
    ['method not a string', { ...ok, destination_request: { ...dr, method: 1 } }, ['destination_request_method_invalid']],
    ['headers without raw', { ...ok, destination_request: { ...dr, headers: {} } }, ['destination_request_headers_invalid']],
    ['headers not an object', { ...ok, destination_request: { ...dr, headers: 'x' } }, ['destination_request_headers_invalid']],
    ['raw value not a string', { ...ok, destination_request: { ...dr, headers: { raw: { a: 1 } } } }, ['destination_request_headers_invalid']],
    ['encrypted not a string', { ...ok, destination_request: { ...dr, headers: { raw: {}, encrypted: 5 } } }, ['destination_request_headers_invalid']],
    ['encrypted too long', { ...ok, destination_request: { ...dr, headers: { raw: {}, encrypted: 'e'.repeat(8193) } } }, ['destination_request_headers_invalid']],
    ['body not a string', { ...ok, destination_request: { ...dr, body: { a: 1 } } }, ['destination_request_body_invalid']],
    ['body too long', { ...ok, destination_request: { ...dr, body: 'b'.repeat(16_385) } }, ['destination_request_body_invalid']],
    ['reference too long', { ...ok, reference: 'r'.repeat(81) }, ['reference_invalid']],
    ['reference not a string', { ...ok, reference: 5 }, ['reference_invalid']],
    ['processing channel malformed', { ...ok, processing_channel_id: 'pc_1' }, ['processing_channel_id_invalid']],
    ['processing channel not a string', { ...ok, processing_channel_id: 1 }, ['processing_channel_id_invalid']]
  ]
  for (const [name, body, codes] of cases) {
    const res = await post(sim.url, body)
    t.equal(res.status, 422, name)
    t.equal(res.json.error_type, 'request_invalid', name)
    t.same(res.json.error_codes, codes, name)
    t.match(res.json.request_id, /^fwd_/, name)
  }
  const malformed = await post(sim.url, '{"source":')
  t.equal(malformed.status, 422)
  t.same(malformed.json.error_codes, ['request_body_malformed'])
  t.equal(dest.received.length, 0, 'nothing invalid was forwarded')
})

t.test('unknown source: 404 not_found', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t)
  const res = await post(sim.url, forwardBody(dest.url + '/ok', { source: { type: 'id', id: 'src_' + 'z'.repeat(26) } }))
  t.equal(res.status, 404)
  t.same(res.json, { request_id: res.json.request_id, error_type: 'not_found', error_codes: ['source_not_found'] })
  t.equal(dest.received.length, 0)
})

t.test('{{card_cvv}} needs a cvv_token for a stored instrument; a card token carries its CVV', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t)
  const body = '{"cvv":"{{card_cvv}}","number":"{{card_number}}"}'

  const without = await post(sim.url, forwardBody(dest.url + '/ok', { body }))
  t.equal(without.status, 422)
  t.same(without.json.error_codes, ['card_cvv_unavailable'])

  const withToken = await post(sim.url, forwardBody(dest.url + '/ok', { body, source: { type: 'id', id: SRC.visa, cvv_token: CHECKOUT_COM_TEST_CVV_TOKEN } }))
  t.equal(withToken.status, 200)
  t.same(dest.received[0].body, { cvv: '100', number: TEST_CARDS.visa.number })

  const unknownToken = await post(sim.url, forwardBody(dest.url + '/ok', { body, source: { type: 'id', id: SRC.visa, cvv_token: 'tok_' + 'q'.repeat(26) } }))
  t.equal(unknownToken.status, 422)
  t.same(unknownToken.json.error_codes, ['cvv_token_invalid'])

  const cardToken = await post(sim.url, forwardBody(dest.url + '/ok', { body, source: { type: 'token', token: CHECKOUT_COM_TEST_TOKEN } }))
  t.equal(cardToken.status, 200)
  t.same(dest.received[1].body, { cvv: TEST_CARDS.visaWithCvc.cvc, number: TEST_CARDS.visaWithCvc.number })
  t.equal(dest.received.length, 2)
})

t.test('a card token without a CVC, and unknown placeholders, are refused', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t, { sources: { [CHECKOUT_COM_TEST_TOKEN]: TEST_CARDS.amex } })
  const noCvc = await post(sim.url, forwardBody(dest.url + '/ok', { body: '{"c":"{{card_cvv}}"}', source: { type: 'token', token: CHECKOUT_COM_TEST_TOKEN } }))
  t.same(noCvc.json.error_codes, ['card_cvv_unavailable'])

  const both = await post(sim.url, forwardBody(dest.url + '/ok', { body: '{"c":"{{card_cvv}}","p":"{{card_pin}}"}', source: { type: 'token', token: CHECKOUT_COM_TEST_TOKEN } }))
  t.same(both.json.error_codes, ['card_cvv_unavailable', 'destination_request_placeholder_invalid'])

  const typo = await post(sim.url, forwardBody(dest.url + '/ok', { body: '{}', headers: { 'X-N': '{{card_numbr}}' }, source: { type: 'token', token: CHECKOUT_COM_TEST_TOKEN } }))
  t.equal(typo.status, 422)
  t.same(typo.json.error_codes, ['destination_request_placeholder_invalid'])
  t.equal(dest.received.length, 0)
})

t.test('an unreachable or slow destination: 200 with a request id and no destination_response', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t, { destinationTimeoutMs: 150 })
  const closed = Fastify({ logger: false })
  const gone = await listen(closed)
  await gone.close()

  const unreachable = await post(sim.url, forwardBody(gone.url + '/ok'))
  t.equal(unreachable.status, 200)
  t.same(Object.keys(unreachable.json), ['request_id'])

  const slow = await post(sim.url, forwardBody(dest.url + '/slow'))
  t.equal(slow.status, 200)
  t.same(Object.keys(slow.json), ['request_id'])
  const stored = await get(sim.url, '/forward/' + slow.json.request_id)
  t.equal(stored.json.destination_response, undefined)
})

t.test('Cko-Idempotency-Key is ignored on /forward by default: Checkout.com does not list /forward as idempotent', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t)
  const first = await post(sim.url, forwardBody(dest.url + '/ok'), { 'cko-idempotency-key': 'k1' })
  const again = await post(sim.url, forwardBody(dest.url + '/ok'), { 'cko-idempotency-key': 'k1' })
  t.equal(again.status, 200)
  t.not(again.json.request_id, first.json.request_id, 'a second forward')
  t.equal(dest.received.length, 2, 'the card went twice')
})

t.test('with options.idempotency: a 2xx replayed, not an error, and a concurrent duplicate is 409 (the documented rule since it replaced 429)', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t, { idempotency: true })
  const first = await post(sim.url, forwardBody(dest.url + '/ok'), { 'cko-idempotency-key': 'k1' })
  const again = await post(sim.url, forwardBody(dest.url + '/ok'), { 'cko-idempotency-key': 'k1' })
  t.equal(again.status, 200)
  t.same(again.json, first.json, 'same status and body')
  t.equal(dest.received.length, 1, 'the destination was called once')

  const other = await post(sim.url, forwardBody(dest.url + '/ok'), { 'cko-idempotency-key': 'k2' })
  t.not(other.json.request_id, first.json.request_id)
  t.equal(dest.received.length, 2)

  const invalid = await post(sim.url, { source: { type: 'id', id: SRC.visa } }, { 'cko-idempotency-key': 'k3' })
  t.equal(invalid.status, 422)
  const fixed = await post(sim.url, forwardBody(dest.url + '/ok'), { 'cko-idempotency-key': 'k3' })
  t.equal(fixed.status, 200, 'an error is not replayed')
  t.equal(dest.received.length, 3)

  const [a, b] = await Promise.all([
    post(sim.url, forwardBody(dest.url + '/slow'), { 'cko-idempotency-key': 'k4' }),
    new Promise(resolve => setTimeout(resolve, 100)).then(() => post(sim.url, forwardBody(dest.url + '/slow'), { 'cko-idempotency-key': 'k4' }))
  ])
  t.equal(a.status, 200)
  t.equal(b.status, 409)
  t.same(b.json.error_codes, ['request_in_progress'])
  t.equal(dest.received.length, 4)
})

async function call (base: string, method: 'POST' | 'GET' | 'PATCH' | 'DELETE', path: string, body?: unknown) {
  const res = await request(base + path, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.body.text()
  return { status: res.statusCode, json: text === '' ? undefined : JSON.parse(text) }
}

t.test('the Secrets API: create, list, update (version + 1), delete; names and values as the SDKs validate them; never the value back', async t => {
  const sim = await startSim(t)
  const created = await call(sim.url, 'POST', '/secrets', { name: 'rokt_key', value: 's3cr3t', entity_id: 'ent_1' })
  t.equal(created.status, 201)
  t.match(created.json, { name: 'rokt_key', version: 1, entity_id: 'ent_1', created_at: String, updated_at: String })
  t.notOk(JSON.stringify(created.json).includes('s3cr3t'))
  t.equal((await call(sim.url, 'POST', '/secrets', { name: 'rokt_key', value: 'x' })).status, 409, 'a name in use')
  for (const [body, code] of [
    [{ name: 'has-dash', value: 'x' }, 'name_invalid'],
    [{ name: 'n'.repeat(65), value: 'x' }, 'name_invalid'],
    [{ name: 'ok', value: '' }, 'value_required'],
    [{ name: 'ok', value: 'x'.repeat(8193) }, 'value_too_long'],
    [{ value: 'x' }, 'name_invalid']
  ] as const) {
    const res = await call(sim.url, 'POST', '/secrets', body)
    t.equal(res.status, 422)
    t.same(res.json.error_codes, [code])
  }
  t.equal((await call(sim.url, 'POST', '/secrets')).status, 422, 'no body')

  const updated = await call(sim.url, 'PATCH', '/secrets/rokt_key', { value: 'n3w', entity_id: 'ent_2' })
  t.match(updated.json, { name: 'rokt_key', version: 2, entity_id: 'ent_2' })
  t.equal((await call(sim.url, 'PATCH', '/secrets/rokt_key', {})).json.version, 3)
  t.equal((await call(sim.url, 'PATCH', '/secrets/rokt_key')).json.version, 4, 'no body: only the version moves')
  t.equal((await call(sim.url, 'PATCH', '/secrets/rokt_key', { value: '' })).status, 422)
  t.equal((await call(sim.url, 'PATCH', '/secrets/nope', { value: 'x' })).status, 404)
  const listed = await call(sim.url, 'GET', '/secrets')
  t.same(listed.json.data.map((s: any) => s.name), ['rokt_key'])
  t.notOk(JSON.stringify(listed.json).includes('n3w'))
  t.equal((await call(sim.url, 'DELETE', '/secrets/rokt_key')).status, 204)
  t.equal((await call(sim.url, 'DELETE', '/secrets/rokt_key')).status, 404)
  t.same((await call(sim.url, 'GET', '/secrets')).json.data, [])
})

t.test('secret placeholders in headers and body: {{secret_<name>}} and {{ secret.<name> }} (both forms of the guide); unknown ones refused', async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t, { secrets: { api_key: 'k-123', other: 'o-456' } })
  const res = await post(sim.url, forwardBody(dest.url + '/ok', {
    headers: { 'X-Api-Key': '{{secret_api_key}}', 'X-Other': 'Bearer {{ secret.other }}' },
    body: JSON.stringify({ pan: '{{card_number}}', key: '{{ secret_api_key }}' })
  }))
  t.equal(res.status, 200)
  t.equal(dest.received[0].headers['x-api-key'], 'k-123')
  t.equal(dest.received[0].headers['x-other'], 'Bearer o-456')
  t.match(dest.received[0].body, { key: 'k-123' })
  const stored = await get(sim.url, '/forward/' + res.json.request_id)
  t.notOk(JSON.stringify(stored.json).includes('k-123'), 'GET /forward/{id} shows the placeholders, not the secrets')
  t.equal(stored.json.destination_request.headers['X-Api-Key'], '***redacted***')

  const unknown = await post(sim.url, forwardBody(dest.url + '/ok', { headers: { 'X-Api-Key': '{{secret_missing}}' } }))
  t.equal(unknown.status, 422)
  t.same(unknown.json.error_codes, ['secret_not_found'])
  const both = await post(sim.url, forwardBody(dest.url + '/ok', { headers: { 'X-Api-Key': '{{secret_missing}}' }, body: '{{card_pin}}' }))
  t.same(both.json.error_codes, ['secret_not_found', 'destination_request_placeholder_invalid'])
  t.equal(dest.received.length, 1)
})

t.test("substitution 'raw' writes values as they are (not documented either way); expiry placeholders are normalised", async t => {
  const dest = await startDestination(t)
  const sim = await startSim(t, { substitution: 'raw' })
  const res = await post(sim.url, forwardBody(dest.url + '/ok', { source: { type: 'id', id: SRC.quotedName }, body: '{"name":"{{cardholder_name}}"}' }))
  t.equal(res.status, 200)
  t.type(dest.received[0].body, 'string', 'the quote in the name broke the JSON')
  t.match(dest.received[0].body, TEST_CARDS.quotedName.holderName)

  await post(sim.url, forwardBody(dest.url + '/ok', { source: { type: 'id', id: SRC.shortExpiry } }))
  t.match(dest.received[1].body, { month: '3', mm: '03', yy: '30', yyyy: '2030' }, 'a one-digit month, as Checkout.com holds it')
  const twoDigits = await startSim(t, { sources: { [SRC.visa]: TEST_CARDS.twoDigitYear } })
  await post(twoDigits.url, forwardBody(dest.url + '/ok'))
  t.match(dest.received[2].body, { mm: '07', yy: '29', yyyy: '2029' }, 'a two-digit year given to the simulator still fills _yyyy')
})
