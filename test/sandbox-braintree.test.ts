import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { BRAINTREE_SANDBOX_CREDENTIALS, BRAINTREE_TEST_TOKENS, buildBraintreeSimulator, startBraintreeSimulator, type BraintreeSimulator } from '../lib/sandbox/index.ts'
import { startFakeDestination, type FakeDestination } from '../lib/sandbox/destination.ts'
import { TEST_CARDS } from '../lib/sandbox/test-cards.ts'

// The simulator is checked against Braintree's documentation
// (https://developer.paypal.com/braintree/docs/reference/forward-api/forward/ and the pages beside it),
// not against our adapter: request keys, Basic auth, config and transformations, envelope and error shapes.

const AUTH = 'Basic ' + Buffer.from(`${BRAINTREE_SANDBOX_CREDENTIALS.publicKey}:${BRAINTREE_SANDBOX_CREDENTIALS.privateKey}`).toString('base64')

async function post (sim: { url: string }, body: unknown, headers: Record<string, string> = { authorization: AUTH }) {
  const res = await request(sim.url + '/', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  return { status: res.statusCode, body: await res.body.json() as any }
}

function config (destination: { url: string }, extra: Record<string, unknown> = {}) {
  return {
    name: 'rokt_catalog',
    methods: ['POST'],
    url: '^' + destination.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$',
    types: ['CreditCard'],
    request_format: { '/body': 'json' },
    transformations: [
      { path: '/header/X-Rokt-Api-Key', value: '$header_1' },
      { path: '/body/card/number', value: '$number' },
      { path: '/body/card/exp_month', value: '$expiration_month' },
      { path: '/body/card/exp_year', value: '$expiration_year' },
      { path: '/body/card/name', value: '$cardholder_name' },
      { path: '/body/billing_address/line1', value: '$billing_line1' },
      { path: '/body/billing_address/country', value: '$billing_country' },
      { path: '/body/source', value: 'partner' },
      { path: '/body/version', value: 1 }
    ],
    ...extra
  }
}

function forwardRequest (destination: { url: string }, extra: Record<string, unknown> = {}) {
  return {
    merchant_id: BRAINTREE_SANDBOX_CREDENTIALS.merchantId,
    payment_method_token: BRAINTREE_TEST_TOKENS.visa,
    url: destination.url,
    method: 'POST',
    config: config(destination),
    data: { billing_line1: '510 Townsend St', billing_country: 'US' },
    sensitive_data: { header_1: 'rokt-secret' },
    ...extra
  }
}

async function setup (t: { teardown: (fn: () => unknown) => void }, options?: Parameters<typeof startBraintreeSimulator>[0]): Promise<{ sim: BraintreeSimulator, dest: FakeDestination }> {
  const dest = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': 'rokt-secret' } })
  t.teardown(() => dest.close())
  const sim = await startBraintreeSimulator(options)
  t.teardown(() => sim.close())
  return { sim, dest }
}

t.test('forwards the vaulted card: transformations build the body and headers, the envelope relays the answer', async t => {
  const { sim, dest } = await setup(t)
  const res = await post(sim, forwardRequest(dest))
  t.equal(res.status, 200)
  t.equal(dest.received.length, 1)
  const got = dest.received[0]
  t.equal(got.method, 'POST')
  t.equal(got.headers['content-type'], 'application/json')
  t.equal(got.headers['x-rokt-api-key'], 'rokt-secret')
  t.same(got.body, {
    card: { number: TEST_CARDS.visa.number, exp_month: '12', exp_year: '2034', name: 'Jenny Rosen' },
    billing_address: { line1: '510 Townsend St', country: 'US' },
    source: 'partner',
    version: 1
  })
  t.equal(res.body.status, 200)
  t.equal(res.body.headers['content-type'], 'application/json; charset=utf-8')
  t.type(res.body.body, 'string', 'body is the raw destination body')
  t.match(JSON.parse(res.body.body), { status: 'tokenized', last4: '4242' })
  t.type(res.body['request-time'], 'number')
  t.equal(sim.calls, 1)
  t.equal(sim.requests[0].path, '/')
  t.equal(sim.requests[0].headers.authorization, AUTH)
  t.match(sim.requests[0].body, { merchant_id: BRAINTREE_SANDBOX_CREDENTIALS.merchantId })
})

t.test('a destination error is still HTTP 200, its status in the envelope', async t => {
  const { sim, dest } = await setup(t)
  dest.setResponse({ status: 503, headers: { 'content-type': 'text/plain' }, body: 'down' })
  const res = await post(sim, forwardRequest(dest))
  t.equal(res.status, 200)
  t.equal(res.body.status, 503)
  t.equal(res.body.body, 'down')
})

t.test('the transformation language: functions, lookups, url params, arrays, urlencode, card type', async t => {
  const { sim, dest } = await setup(t, {
    vault: { unknown: { ...TEST_CARDS.visa, number: '9011111111111117' } }
  })
  const transformations = [
    { path: '/header/X-Rokt-Api-Key', value: '$header_1' },
    { path: '/var/pan_cvvless', value: ['join', '-', ['array', '$number', '$expiration_year']] },
    { path: '/body/joined', value: '$/var/pan_cvvless' },
    { path: '/body/encoded', value: ['base64', '$cardholder_name'] },
    { path: '/body/one', value: ['join', '+', '$card_type'] },
    { path: '/urlparam/ref', value: 'abc' },
    { path: '/body/items/0/type', value: '$card_type' },
    { path: '/body/again', value: '$/body/items/0/type' },
    { path: '/body/a~1b', value: null },
    { path: '/body/n', value: null },
    { path: '/body/n/x', value: 1 }
  ]
  let res = await post(sim, forwardRequest(dest, { config: config(dest, { transformations }) }))
  t.equal(res.status, 200)
  t.same(dest.received[0].body, {
    joined: `${TEST_CARDS.visa.number}-2034`,
    encoded: Buffer.from('Jenny Rosen').toString('base64'),
    one: 'Visa',
    items: [{ type: 'Visa' }],
    again: 'Visa',
    'a/b': null,
    n: { x: 1 }
  })
  t.equal(dest.received[0].path, '/v1/cards/tokenize?ref=abc')

  res = await post(sim, forwardRequest(dest, {
    payment_method_token: 'unknown',
    config: config(dest, {
      request_format: { '/body': 'urlencode' },
      transformations: [{ path: '/header/X-Rokt-Api-Key', value: '$header_1' }, { path: '/body/card[type]', value: '$card_type' }]
    })
  }))
  t.equal(res.status, 200)
  t.equal(dest.received[1].body, 'card%5Btype%5D=Unknown', 'urlencoded, and no Content-Type defaulted')
  t.equal(dest.received[1].headers['content-type'], undefined)

  res = await post(sim, forwardRequest(dest, {
    payment_method_token: BRAINTREE_TEST_TOKENS.amex,
    config: config(dest, {
      transformations: [
        { path: '/header/X-Rokt-Api-Key', value: '$header_1' },
        { path: '/body', value: ['array', '$card_type'] },
        { path: '/body/1', value: 'second' }
      ]
    })
  }))
  t.equal(res.status, 200)
  t.same(dest.received[2].body, ['American Express', 'second'], '/body replaces the whole body')

  res = await post(sim, forwardRequest(dest, {
    config: config(dest, {
      transformations: [
        { path: '/header/X-Rokt-Api-Key', value: '$header_1' },
        { path: '/body', value: 'text' },
        { path: '/body/k', value: 1 }
      ]
    })
  }))
  t.same(dest.received[3].body, { k: 1 }, 'a field under a non-object body starts a new object')

  res = await post(sim, forwardRequest(dest, {
    payment_method_token: BRAINTREE_TEST_TOKENS.mastercard,
    data: undefined,
    config: config(dest, { transformations: undefined, request_format: undefined })
  }))
  t.equal(res.status, 200)
  t.same(dest.received[4].body, {}, 'no transformation: an empty JSON object')
  t.equal(dest.received[4].headers['content-type'], 'application/json', 'JSON is the default /body format')
  t.equal(res.body.status, 401, 'no key header was configured, and the destination said so')
})

t.test('a config loaded by name (production): url regex and methods are enforced, inline configs refused', async t => {
  const dest = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': 'rokt-secret' } })
  t.teardown(() => dest.close())
  const sim = await startBraintreeSimulator({ environment: 'production', configs: [config(dest)] })
  t.teardown(() => sim.close())
  const { config: _inline, ...byName } = forwardRequest(dest)

  let res = await post(sim, { ...byName, name: 'rokt_catalog' })
  t.equal(res.status, 200)
  t.equal(dest.received.length, 1)
  t.equal((dest.received[0].body as any).card.number, TEST_CARDS.visa.number)

  res = await post(sim, forwardRequest(dest))
  t.equal(res.status, 400)
  t.same(res.body.message, { 'validation_error?': true })
  t.equal(res.body.error, 'Inline configurations are not allowed in production')

  res = await post(sim, { ...byName, name: 'rokt_catalog', url: dest.url + '/extra' })
  t.equal(res.status, 400)
  t.equal(res.body.error, 'URL not allowed by config', 'the regex is anchored at both ends')
  res = await post(sim, { ...byName, name: 'rokt_catalog', url: dest.baseUrl + '/other' })
  t.equal(res.body.error, 'URL not allowed by config')
  res = await post(sim, { ...byName, name: 'rokt_catalog', method: 'put' })
  t.equal(res.body.error, 'HTTP method not allowed by config')
  t.same(res.body.message, { method: 'PUT', 'validation_error?': true })
  res = await post(sim, { ...byName, name: 'unknown' })
  t.equal(res.body.error, 'Unknown config')
  res = await post(sim, byName)
  t.equal(res.body.error, 'Missing config name')
  t.equal(dest.received.length, 1, 'nothing else reached the destination')
})

t.test('vault errors, as documented', async t => {
  const { sim, dest } = await setup(t)
  const vault = (status: number, message?: string) => ({
    error: 'Vault error',
    message: { 'vault_error?': true, vault_status: status, ...(message === undefined ? {} : { message }) }
  })
  const bad = 'Basic ' + Buffer.from(`${BRAINTREE_SANDBOX_CREDENTIALS.publicKey}:wrong`).toString('base64')
  const cases: Array<[string, unknown, Record<string, string> | undefined, number, string?]> = [
    ['wrong private key', forwardRequest(dest), { authorization: bad }, 401],
    ['no credentials', forwardRequest(dest), {}, 401],
    ['unknown merchant_id', forwardRequest(dest, { merchant_id: 'someone_else' }), undefined, 404],
    ['not an object', [], undefined, 404],
    ['unknown token', forwardRequest(dest, { payment_method_token: 'nope' }), undefined, 404, 'payment_method_token not found'],
    ['inherited name is no token', forwardRequest(dest, { payment_method_token: 'toString' }), undefined, 404, 'payment_method_token not found'],
    ['unknown nonce', forwardRequest(dest, { payment_method_token: undefined, payment_method_nonce: 'fake-valid-nonce' }), undefined, 404, 'payment_method_nonce not found'],
    ['no payment data', forwardRequest(dest, { payment_method_token: BRAINTREE_TEST_TOKENS.noPaymentData }), undefined, 422, 'No payment data'],
    ['not exportable', forwardRequest(dest, { payment_method_token: BRAINTREE_TEST_TOKENS.notExportable }), undefined, 422, 'The provided payment method cannot be exported']
  ]
  for (const [name, body, headers, status, message] of cases) {
    const res = await post(sim, body, headers)
    t.equal(res.status, status, name)
    t.match(res.body, vault(status, message), name)
    t.same(Object.keys(res.body.message).sort(), Object.keys(vault(status, message).message).sort(), name)
    t.match(res.body['request-uuid'], /^[0-9a-f-]{36}$/, name)
  }

  const denied = await startBraintreeSimulator({ forwardApiRight: false })
  t.teardown(() => denied.close())
  const res = await post(denied, forwardRequest(dest))
  t.equal(res.status, 403)
  t.match(res.body, vault(403))
  t.equal(dest.received.length, 0, 'no vault error reached the destination')
})

t.test('validation errors carry "validation_error?": true', async t => {
  const { sim, dest } = await setup(t)
  const withConfig = (extra: Record<string, unknown>) => forwardRequest(dest, { config: config(dest, extra) })
  const cases: Array<[unknown, string, Record<string, unknown>?]> = [
    [forwardRequest(dest, { url: undefined }), 'Missing required parameter', { parameter: 'url' }],
    [forwardRequest(dest, { method: 7 }), 'Missing required parameter', { parameter: 'method' }],
    [forwardRequest(dest, { method: 'FETCH' }), 'Unknown HTTP Method', { method: 'FETCH' }],
    [forwardRequest(dest, { url: 'not a url' }), 'Invalid URL', { url: 'not a url' }],
    [forwardRequest(dest, { payment_method_token: undefined }), 'Missing required parameter', { parameter: 'payment_method_token' }],
    [forwardRequest(dest, { config: 'nope' }), "Config 'methods' must be an array"],
    [withConfig({ methods: 'POST' }), "Config 'methods' must be an array"],
    [withConfig({ url: 42 }), 'Config must specify a valid URL regex'],
    [withConfig({ url: '(' }), 'Config must specify a valid URL regex'],
    [withConfig({ request_format: { '/body': 'yaml' } }), 'Invalid request_format', { request_format: { '/body': 'yaml' } }],
    [withConfig({ request_format: 'json' }), 'Invalid request_format', { request_format: 'json' }],
    [withConfig({ types: ['PayPalAccount'] }), 'No config specified for payment type', { vault_type: 'CreditCard', supported_by_config: ['PayPalAccount'] }],
    [withConfig({ types: undefined }), 'No config specified for payment type', { vault_type: 'CreditCard', supported_by_config: [] }],
    [withConfig({ methods: [1, 'GET'] }), 'HTTP method not allowed by config', { method: 'POST' }],
    [withConfig({ transformations: [{ path: '/body/cvv', value: '$cvv' }] }), 'Undefined variable', { variable: '$cvv' }],
    [withConfig({ transformations: [{ path: '/body/x', value: '$/var/missing' }] }), 'Undefined variable', { variable: '$/var/missing' }],
    [withConfig({ transformations: [{ path: '/body/x', value: '$/body/a/b' }] }), 'Undefined variable', { variable: '$/body/a/b' }],
    [withConfig({ transformations: [{ path: '/body/x', value: ['sha1', '$number'] }] }), 'Unknown function', { function: 'sha1' }],
    [withConfig({ transformations: ['oops'] }), 'Invalid transformation', { transformation: 'oops' }],
    [withConfig({ transformations: [{ path: '/cookie/x', value: 1 }] }), 'Invalid transformation path', { path: '/cookie/x' }],
    [withConfig({ transformations: [{ path: '/header', value: 1 }] }), 'Invalid transformation path', { path: '/header' }],
    [withConfig({ transformations: [{ path: 'body/x', value: 1 }] }), 'Invalid transformation path', { path: 'body/x' }],
    [withConfig({ transformations: [{ path: '/body/__proto__/x', value: 1 }] }), 'Invalid transformation path', { path: '/body/__proto__/x' }],
    [withConfig({ transformations: [{ path: '/header/X-Evil', value: 'a\r\nb: c' }] }), 'Invalid HTTP headers, headers cannot contain newlines or carriage returns']
  ]
  for (const [body, error, fields] of cases) {
    const res = await post(sim, body)
    t.equal(res.status, 400, error)
    t.equal(res.body.error, error)
    t.same(res.body.message, { ...fields, 'validation_error?': true }, error)
    t.match(res.body['request-uuid'], /^[0-9a-f-]{36}$/)
  }

  const garbage = await post(sim, '{"merchant_id":', { authorization: AUTH })
  t.equal(garbage.status, 400)
  t.match(garbage.body, { error: 'Invalid request', message: { 'validation_error?': true } })

  const xml = await post(sim, withConfig({ request_format: { '/body': 'xml' } }))
  t.equal(xml.status, 501, 'XML bodies are not simulated, and say so')
  t.equal(dest.received.length, 0)
})

t.test('server errors: timeouts are 504, TLS and connection failures 502', async t => {
  const dest = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': 'rokt-secret' }, delayMs: 10_000 })
  t.teardown(() => dest.close())
  const sim = await startBraintreeSimulator({ destinationTimeoutMs: 150 })
  t.teardown(() => sim.close())

  let res = await post(sim, forwardRequest(dest))
  t.equal(res.status, 504)
  t.match(res.body, { error: 'Request timeout', message: { 'server_error?': true, request_timeout: 150 } })
  t.match(res.body['request-uuid'], /^[0-9a-f-]{36}$/)

  res = await post(sim, forwardRequest(dest, { config: config(dest, { request_timeout: 100 }) }))
  t.equal(res.status, 504)
  t.match(res.body, { error: 'Request timeout', message: { request_timeout: 100 } }, "the config's request_timeout wins")

  // Headers, then a body that never ends.
  const stall = http.createServer((_req, reply) => {
    reply.writeHead(200, { 'content-type': 'application/json' })
    reply.write('{"partial":')
  })
  await new Promise<void>(resolve => stall.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { stall.closeAllConnections(); stall.close() })
  const stallUrl = `http://127.0.0.1:${(stall.address() as AddressInfo).port}/v1/cards`
  res = await post(sim, forwardRequest({ url: stallUrl }))
  t.equal(res.status, 504)
  t.match(res.body, { error: 'Socket timeout', message: { 'server_error?': true, socket_timeout: 150 } })

  // https to a plain-HTTP server: the TLS handshake fails.
  const tlsUrl = stallUrl.replace('http:', 'https:')
  res = await post(sim, forwardRequest({ url: tlsUrl }))
  t.equal(res.status, 502)
  t.same(res.body.message, { 'server_error?': true })
  t.equal(res.body.error, 'TLS error')

  // Nothing listens there any more.
  const gone = http.createServer()
  await new Promise<void>(resolve => gone.listen(0, '127.0.0.1', resolve))
  const goneUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/v1/cards`
  await new Promise(resolve => gone.close(resolve))
  res = await post(sim, forwardRequest({ url: goneUrl }))
  t.equal(res.status, 502)
  t.equal(res.body.error, 'Connection error')
})

t.test('buildBraintreeSimulator gives the Fastify app, with the default 10 s destination timeout', async t => {
  const app = buildBraintreeSimulator()
  t.teardown(() => app.close())
  const dest = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': 'rokt-secret' } })
  t.teardown(() => dest.close())
  const res = await app.inject({ method: 'POST', url: '/', headers: { authorization: AUTH }, payload: forwardRequest(dest) })
  t.equal(res.statusCode, 200)
  t.equal(res.json().status, 200)
})

t.test('variable precedence, as documented: Forward API variables < data < sensitive_data', async t => {
  const { sim, dest } = await setup(t)
  const transformations = [
    { path: '/header/X-Rokt-Api-Key', value: '$header_1' },
    { path: '/body/number', value: '$number' },
    { path: '/body/name', value: '$cardholder_name' },
    { path: '/body/both', value: '$both' }
  ]
  const res = await post(sim, forwardRequest(dest, {
    config: config(dest, { transformations }),
    data: { number: 'from-data', both: 'data', cardholder_name: 'Data Name' },
    sensitive_data: { header_1: 'rokt-secret', both: 'sensitive' }
  }))
  t.equal(res.status, 200)
  t.same(dest.received[0].body, { number: 'from-data', name: 'Data Name', both: 'sensitive' }, 'data over the vault, sensitive_data over data')
})

t.test('template lookups: a section comes back serialized by its request_format, /var as it is', async t => {
  const { sim, dest } = await setup(t)
  const transformations = [
    { path: '/header/X-Rokt-Api-Key', value: '$header_1' },
    { path: '/body/card/number', value: '$number' },
    { path: '/body/card/kind', value: '$card_type' },
    { path: '/var/parts', value: ['array', 'a', 'b'] },
    { path: '/header/X-Card', value: '$/body/card' },
    { path: '/header/X-Parts', value: ['join', '+', '$/var/parts'] },
    { path: '/header/X-Kind', value: '$/body/card/kind' },
    { path: '/header/X-Again', value: '$/header/X-Kind' }
  ]
  const res = await post(sim, forwardRequest(dest, { config: config(dest, { transformations }) }))
  t.equal(res.status, 200)
  const headers = dest.received[0].headers
  t.equal(headers['x-card'], JSON.stringify({ number: TEST_CARDS.visa.number, kind: 'Visa' }), 'the /body section as JSON text')
  t.equal(headers['x-parts'], 'a+b', '/var is not serialized: still an array to join')
  t.equal(headers['x-kind'], 'Visa', 'a single value: its text (not documented)')
  t.equal(headers['x-again'], 'Visa')

  const form = await post(sim, forwardRequest(dest, {
    config: config(dest, {
      request_format: { '/body': 'urlencode' },
      transformations: [
        { path: '/header/X-Rokt-Api-Key', value: '$header_1' },
        { path: '/body/a', value: '1' },
        { path: '/body/b', value: 'x y' },
        { path: '/header/X-Body', value: '$/body' }
      ]
    })
  }))
  t.equal(form.status, 200)
  t.equal(dest.received[1].headers['x-body'], 'a=1&b=x+y', 'urlencode: the form text')
})

t.test('format_expiration writes the documented directives, whatever the vault holds', async t => {
  const { sim, dest } = await setup(t)
  const transformations = [
    { path: '/header/X-Rokt-Api-Key', value: '$header_1' },
    { path: '/body/raw_year', value: '$expiration_year' },
    { path: '/body/Y', value: ['format_expiration', '%Y'] },
    { path: '/body/y', value: ['format_expiration', '%y'] },
    { path: '/body/m', value: ['format_expiration', '%m'] },
    { path: '/body/unpadded', value: ['format_expiration', '%-m'] },
    { path: '/body/both', value: ['format_expiration', '%m/%y 100%%'] }
  ]
  for (const token of [BRAINTREE_TEST_TOKENS.twoDigitYear, BRAINTREE_TEST_TOKENS.visa]) {
    const res = await post(sim, forwardRequest(dest, { payment_method_token: token, config: config(dest, { transformations }) }))
    t.equal(res.status, 200)
  }
  t.same(dest.received[0].body, { raw_year: '29', Y: '2029', y: '29', m: '07', unpadded: '7', both: '07/29 100%' }, 'a card vaulted with a two-digit year')
  t.same(dest.received[1].body, { raw_year: '2034', Y: '2034', y: '34', m: '12', unpadded: '12', both: '12/34 100%' })
  const bad = await post(sim, forwardRequest(dest, { config: config(dest, { transformations: [{ path: '/body/x', value: ['format_expiration', 7] }] }) }))
  t.equal(bad.status, 400)
  t.equal(bad.body.error, 'Invalid format_expiration format')
})
