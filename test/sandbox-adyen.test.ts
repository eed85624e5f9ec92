import t, { type Test } from 'tap'
import { request } from 'undici'
import { ADYEN_SANDBOX, buildAdyenSimulator, startAdyenSimulator, type AdyenSimulatorOptions } from '../lib/sandbox/index.ts'
import { startFakeDestination, type FakeDestination } from '../lib/sandbox/destination.ts'
import { listen } from '../lib/sandbox/server.ts'
import { TEST_CARDS } from '../lib/sandbox/test-cards.ts'

const KEY = ADYEN_SANDBOX.apiKey
const VISA_ID = 'M5N7TQ4TG5PFWR50'
const AMEX_ID = 'H8C3RW6JT1NZ5QKA'
const SHOPPER = 'sandbox-shopper-0001'
const ROKT_KEY = 'rokt_dest_key_0123456789'
const CARD_BODY = JSON.stringify({
  card: { number: '{{number}}', exp_month: '{{expiryMonth}}', exp_year: '{{expiryYear}}', name: '{{holderName}}' },
  billing_address: { line1: '510 Townsend St', country: 'US' }
})

async function startSim (t: Test, options: AdyenSimulatorOptions = {}) {
  const sim = await startAdyenSimulator(options)
  t.teardown(() => sim.close())
  return sim
}

async function startDestination (t: Test): Promise<FakeDestination> {
  const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_KEY } })
  t.teardown(() => destination.close())
  return destination
}

function forwardBody (baseUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    merchantAccount: ADYEN_SANDBOX.merchantAccount,
    shopperReference: SHOPPER,
    storedPaymentMethodId: VISA_ID,
    baseUrl,
    request: {
      httpMethod: 'post',
      urlSuffix: '/v1/cards/tokenize',
      headers: { 'x-rokt-api-key': ROKT_KEY, 'content-type': 'application/json' },
      body: CARD_BODY
    },
    ...overrides
  }
}

interface Answer { status: number, headers: Record<string, unknown>, text: string, json: any }

async function post (base: string, body: unknown, headers: Record<string, string> = {}, path = '/v71/forward'): Promise<Answer> {
  const res = await request(base + path, {
    method: 'POST',
    headers: { 'x-api-key': KEY, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text, json: text === '' ? undefined : JSON.parse(text) }
}

function assertError (t: Test, res: Answer, status: number, errorCode: string, errorType: string, message?: string | RegExp) {
  t.equal(res.status, status, `HTTP ${status}`)
  t.same(Object.keys(res.json).sort(), ['errorCode', 'errorType', 'message', 'pspReference', 'status'], 'Adyen error object')
  t.equal(res.json.status, status)
  t.equal(res.json.errorCode, errorCode)
  t.equal(res.json.errorType, errorType)
  t.match(res.json.pspReference, /^[A-Z0-9]{16}$/)
  if (message !== undefined) t.match(res.json.message, message)
}

t.test('forwards the stored card to the third party and wraps its answer in CheckoutForwardResponse', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const res = await post(sim.url, forwardBody(destination.baseUrl))

  t.equal(res.status, 200)
  t.same(Object.keys(res.json).sort(), ['pspReference', 'response', 'storedPaymentMethodId'])
  t.equal(res.json.storedPaymentMethodId, VISA_ID)
  t.match(res.json.pspReference, /^[A-Z0-9]{16}$/)
  t.equal(res.json.response.status, 200)
  t.type(res.json.response.body, 'string', 'the third party body is a string')
  t.match(res.json.response.headers['content-type'], /application\/json/)
  t.equal(JSON.parse(res.json.response.body).last4, '4242')

  t.equal(destination.received.length, 1)
  const got = destination.received[0]
  t.equal(got.method, 'POST')
  t.equal(got.path, '/v1/cards/tokenize')
  t.equal(got.headers['x-rokt-api-key'], ROKT_KEY)
  t.same(got.body, {
    card: { number: TEST_CARDS.visa.number, exp_month: '12', exp_year: '2034', name: 'Jenny Rosen' },
    billing_address: { line1: '510 Townsend St', country: 'US' }
  }, 'the destination receives the real test card')

  t.equal(sim.calls, 1)
  t.equal(sim.requests[0].headers['x-api-key'], KEY)
  t.notOk(JSON.stringify(sim.requests).includes(TEST_CARDS.visa.number), 'recorded requests hold placeholders only')
  t.notOk(res.text.includes(TEST_CARDS.visa.number), 'the response never carries the PAN the destination did not echo')
})

t.test('the live path shape, other methods, a merchantReference, and the third party answering 4xx', async t => {
  const destination = await startDestination(t)
  destination.setResponse({ status: 402, headers: { 'x-reason': 'declined' }, body: { error: 'card_declined' } })
  const sim = await startSim(t)
  const res = await post(sim.url, forwardBody(destination.baseUrl, {
    merchantReference: 'order-1',
    request: { httpMethod: 'put', urlSuffix: '/cards?x=1', headers: { 'x-rokt-api-key': ROKT_KEY }, body: CARD_BODY }
  }), {}, '/checkout/v71/forward')
  t.equal(res.status, 200, 'a third party 4xx is still a successful forward')
  t.equal(res.json.merchantReference, 'order-1')
  t.equal(res.json.response.status, 402)
  t.equal(res.json.response.headers['x-reason'], 'declined')
  t.same(JSON.parse(res.json.response.body), { error: 'card_declined' })
  t.equal(destination.received[0].method, 'PUT')
  t.equal(destination.received[0].path, '/cards?x=1')
  t.equal(sim.calls, 1, 'the live path counts as a forward call')

  destination.setResponse(null)
  const noHeaders = await post(sim.url, forwardBody(destination.baseUrl, { request: { httpMethod: 'post', body: CARD_BODY } }))
  t.equal(noHeaders.status, 200, 'request.headers is optional')
  t.equal(noHeaders.json.response.status, 401, "the destination's own 401 (no API key) is relayed too")
})

t.test('card values are JSON-escaped inside the body string; {{credentials}} fills headers', async t => {
  const destination = await startFakeDestination()
  t.teardown(() => destination.close())
  const card = { ...TEST_CARDS.amex, holderName: 'Ana "AJ" Silva \\ Jr' }
  const sim = await startSim(t, { storedPaymentMethods: [{ shopperReference: 'shopper-x', storedPaymentMethodId: 'ABC123', card }] })
  const res = await post(sim.url, forwardBody(destination.baseUrl, {
    shopperReference: 'shopper-x',
    storedPaymentMethodId: 'ABC123',
    request: {
      httpMethod: 'patch',
      headers: { Authorization: 'Basic {{credentials}}', 'content-type': 'application/json' },
      credentials: 'dXNlcjpwYXNz',
      body: JSON.stringify({ n: '{{number}}', who: '{{holderName}}', again: '{{number}}' })
    }
  }))
  t.equal(res.status, 200)
  const got = destination.received[0]
  t.equal(got.method, 'PATCH')
  t.equal(got.path, '/', 'no urlSuffix: the baseUrl itself')
  t.equal(got.headers.authorization, 'Basic dXNlcjpwYXNz')
  t.same(got.body, { n: TEST_CARDS.amex.number, who: 'Ana "AJ" Silva \\ Jr', again: TEST_CARDS.amex.number })
})

t.test('authentication: X-API-Key or HTTP Basic, else 401; a key without the roles gets 403 010', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t, { basicAuth: { username: 'ws@Company.Rokt', password: 'pw' }, keysWithoutRecurringRole: ['limited_key'] })
  const body = forwardBody(destination.baseUrl)

  assertError(t, await post(sim.url, body, { 'x-api-key': '' }), 401, '000', 'security', 'Unauthorized')
  assertError(t, await post(sim.url, body, { 'x-api-key': 'wrong' }), 401, '000', 'security')
  assertError(t, await post(sim.url, body, { 'x-api-key': '', authorization: 'Bearer ' + KEY }), 401, '000', 'security')
  const badBasic = 'Basic ' + Buffer.from('ws@Company.Rokt:nope').toString('base64')
  assertError(t, await post(sim.url, body, { 'x-api-key': '', authorization: badBasic }), 401, '000', 'security')
  assertError(t, await post(sim.url, body, { 'x-api-key': 'limited_key' }), 403, '010', 'security', 'Not allowed')
  t.equal(destination.received.length, 0, 'nothing forwarded')

  const goodBasic = 'Basic ' + Buffer.from('ws@Company.Rokt:pw').toString('base64')
  const ok = await post(sim.url, body, { 'x-api-key': '', authorization: goodBasic })
  t.equal(ok.status, 200, 'HTTP Basic works')
  t.equal(destination.received.length, 1)
  t.equal(sim.calls, 6, 'rejected calls still reached the simulator')

  const noHeader = await request(sim.url + '/v71/forward', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
  t.equal(noHeader.statusCode, 401)
  await noHeader.body.dump()
})

t.test('request validation follows the v71 CheckoutForwardRequest schema: 422 validation 702', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const base = forwardBody(destination.baseUrl)
  const req = base.request
  const cases: Array<[string, Record<string, unknown>, string | RegExp]> = [
    ['missing merchantAccount', { merchantAccount: undefined }, "Required field 'merchantAccount' is not provided"],
    ['missing baseUrl', { baseUrl: undefined }, "Required field 'baseUrl' is not provided"],
    ['missing request', { request: undefined }, "Required field 'request' is not provided"],
    ['missing shopperReference', { shopperReference: undefined }, "Required field 'shopperReference' is not provided"],
    ['missing request.body', { request: { ...req, body: undefined } }, "Required field 'request.body' is not provided"],
    ['missing request.httpMethod', { request: { ...req, httpMethod: undefined } }, "Required field 'request.httpMethod' is not provided"],
    ['unknown top-level field', { extra: 1 }, 'Structure CheckoutForwardRequest contains the following unknown fields: [extra]'],
    ['unknown request field', { request: { ...req, method: 'post' } }, 'Structure CheckoutOutgoingForwardRequest contains the following unknown fields: [method]'],
    ['uppercase httpMethod', { request: { ...req, httpMethod: 'POST' } }, "Field 'request.httpMethod' must be one of: post, put, patch"],
    ['GET', { request: { ...req, httpMethod: 'get' } }, /must be one of/],
    ['body over 20000 characters', { request: { ...req, body: 'x'.repeat(20_001) } }, "Field 'request.body' must be at most 20000 characters"],
    ['body not a string', { request: { ...req, body: { card: 1 } } }, "Field 'request.body' must be a string"],
    ['short shopperReference', { shopperReference: 'ab' }, "Field 'shopperReference' must be at least 3 characters"],
    ['numeric merchantAccount', { merchantAccount: 42 }, "Field 'merchantAccount' must be a string"],
    ['request not an object', { request: 'x' }, "Field 'request' must be an object"],
    ['headers not strings', { request: { ...req, headers: { a: 1 } } }, "Field 'request.headers' must be a map of strings"],
    ['headers an array', { request: { ...req, headers: ['a'] } }, "Field 'request.headers' must be a map of strings"],
    ['dryRun not boolean', { options: { dryRun: 'yes' } }, "Field 'options.dryRun' must be a boolean"],
    ['paths not strings', { options: { networkTxReferencePaths: [1] } }, "Field 'options.networkTxReferencePaths' must be an array of strings"],
    ['paths not an array', { options: { transactionLinkIdPaths: 'a' } }, /must be an array of strings/],
    ['unknown networkToken field', { options: { networkToken: { cryptogram: true } } }, /CheckoutNetworkTokenOption contains the following unknown fields: \[cryptogram\]/],
    ['amount value not integer', { amount: { currency: 'EUR', value: 1.5 } }, "Field 'amount.value' must be an integer"],
    ['amount currency too long', { amount: { currency: 'EURO', value: 1 } }, "Field 'amount.currency' must be at most 3 characters"],
    ['amount without currency', { amount: { value: 1 } }, "Required field 'amount.currency' is not provided"],
    ['paymentMethod type', { paymentMethod: { type: 'card' } }, "Field 'paymentMethod.type' must be one of: scheme"],
    ['no storedPaymentMethodId nor paymentMethod card', { storedPaymentMethodId: undefined }, /^Required field 'storedPaymentMethodId' is not provided \(nor paymentMethod number, expiryMonth and expiryYear\)$/],
    ['paymentMethod without an expiry', { storedPaymentMethodId: undefined, paymentMethod: { number: '4111111111111111' } }, /^Required field 'storedPaymentMethodId' is not provided/],
    ['baseUrl not a URL', { baseUrl: 'not a url' }, "Field 'baseUrl' is not a valid URL"],
    ['baseUrl not http(s)', { baseUrl: 'ftp://127.0.0.1' }, "Field 'baseUrl' is not a valid URL"],
    ['baseUrl http:// with a bad host', { baseUrl: 'http://exa mple.com' }, "Field 'baseUrl' is not a valid URL"],
    ['unknown body placeholder', { request: { ...req, body: '{"cvc":"{{cvc}}"}' } }, 'Unknown placeholder {{cvc}} in request.body'],
    ['unknown header placeholder', { request: { ...req, headers: { a: '{{number}}' } } }, 'Unknown placeholder {{number}} in request.headers.a'],
    ['{{credentials}} without credentials', { request: { ...req, headers: { Authorization: 'Basic {{credentials}}' } } }, "Required field 'request.credentials' is not provided"]
  ]
  for (const [name, overrides, message] of cases) {
    const res = await post(sim.url, JSON.parse(JSON.stringify({ ...base, ...overrides })))
    t.test(name, async t => assertError(t, res, 422, '702', 'validation', message))
  }
  t.equal(destination.received.length, 0, 'no invalid request was forwarded')
})

t.test('every optional schema field, well typed, is accepted', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const res = await post(sim.url, forwardBody(destination.baseUrl, {
    amount: { currency: 'EUR', value: 0 },
    merchantReference: 'ref-1',
    options: {
      accountUpdate: false,
      dryRun: false,
      tokenize: false,
      networkToken: { useNetworkToken: false, includeCryptogram: false },
      networkTxReferencePaths: ['a.b'],
      transactionLinkIdPaths: []
    },
    paymentMethod: { type: 'scheme', cvc: '737', holderName: 'x', number: '', expiryMonth: '', expiryYear: '', encryptedCardNumber: '', encryptedExpiryMonth: '', encryptedExpiryYear: '', encryptedSecurityCode: '' },
    request: { httpMethod: 'post', urlSuffix: '/v1/cards/tokenize', headers: { 'x-rokt-api-key': ROKT_KEY }, body: CARD_BODY, credentials: 'unused' }
  }))
  t.equal(res.status, 200)
  t.equal(destination.received.length, 1)
  t.equal((destination.received[0].body as any).card.number, TEST_CARDS.visa.number, 'the stored card is forwarded')
})

t.test('bodies Adyen cannot parse: 400 000; oversized: 413', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  assertError(t, await post(sim.url, '{"merchantAccount":'), 400, '000', 'validation', 'Unable to parse message')
  assertError(t, await post(sim.url, '[]'), 400, '000', 'validation')
  assertError(t, await post(sim.url, 'null'), 400, '000', 'validation')
  assertError(t, await post(sim.url, 'hello', { 'content-type': 'text/plain' }), 400, '000', 'validation')
  assertError(t, await post(sim.url, '<xml/>', { 'content-type': 'application/xml' }), 400, '000', 'validation')
  assertError(t, await post(sim.url, JSON.stringify({ pad: 'x'.repeat(10 * 1024 * 1024) })), 413, '000', 'validation', 'Request Entity Too Large')
  t.equal(destination.received.length, 0)
})

t.test('merchant account, shopper and token are checked: 403 901, 422 800, 422 803', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  assertError(t, await post(sim.url, forwardBody(destination.baseUrl, { merchantAccount: 'SomeoneElse' })), 403, '901', 'security', 'Invalid Merchant Account')
  assertError(t, await post(sim.url, forwardBody(destination.baseUrl, { shopperReference: 'nobody-here' })), 422, '800', 'validation', 'Contract not found')
  assertError(t, await post(sim.url, forwardBody(destination.baseUrl, { storedPaymentMethodId: AMEX_ID })), 422, '803', 'validation', 'PaymentDetail not found')
  t.equal(destination.received.length, 0)

  const amex = await post(sim.url, forwardBody(destination.baseUrl, { shopperReference: 'sandbox-shopper-0002', storedPaymentMethodId: AMEX_ID }))
  t.equal(amex.status, 200, 'the right pairing works')
  t.equal((destination.received[0].body as any).card.number, TEST_CARDS.amex.number)
})

t.test('Idempotency-Key: echoed, the first answer replayed, at most 64 characters', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const body = forwardBody(destination.baseUrl)
  const key = 'k'.repeat(64)
  const first = await post(sim.url, body, { 'idempotency-key': key })
  t.equal(first.status, 200)
  t.equal(first.headers['idempotency-key'], key, 'echoed')
  const second = await post(sim.url, { ...body, merchantReference: 'changed' }, { 'idempotency-key': key })
  t.equal(second.status, 200)
  t.equal(second.headers['idempotency-key'], key)
  t.same(second.json, first.json, 'the same response, same pspReference')
  t.equal(destination.received.length, 1, 'forwarded once')

  const other = await post(sim.url, body, { 'idempotency-key': 'another' })
  t.not(other.json.pspReference, first.json.pspReference, 'a new key is a new forward')
  t.equal(destination.received.length, 2)

  assertError(t, await post(sim.url, body, { 'idempotency-key': 'k'.repeat(65) }), 422, '702', 'validation', 'Idempotency-Key must be at most 64 characters')
  t.equal(destination.received.length, 2)
})

t.test('Idempotency-Key still in flight: 409 704 with transient-error', async t => {
  const destination = await startDestination(t)
  destination.setDelay(300)
  const sim = await startSim(t)
  const body = forwardBody(destination.baseUrl)
  const [a, b] = await Promise.all([
    post(sim.url, body, { 'idempotency-key': 'same' }),
    new Promise<Answer>(resolve => setTimeout(() => resolve(post(sim.url, body, { 'idempotency-key': 'same' })), 100))
  ])
  t.equal(a.status, 200)
  assertError(t, b, 409, '704', 'validation')
  t.equal(b.headers['transient-error'], 'true')
  t.equal(b.headers['idempotency-key'], 'same')
  t.equal(destination.received.length, 1)
})

t.test('options.dryRun returns the masked outgoing request and calls nobody (test environment only)', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const res = await post(sim.url, forwardBody(destination.baseUrl, {
    options: { dryRun: true },
    request: {
      httpMethod: 'post',
      urlSuffix: '/v1/cards/tokenize',
      headers: { Authorization: 'Basic {{credentials}}' },
      credentials: 'c2VjcmV0',
      body: CARD_BODY
    }
  }), { 'idempotency-key': 'dry' })
  t.equal(res.status, 200)
  t.equal(destination.received.length, 0, 'nothing sent to the third party')
  t.equal(res.json.response.status, 200)
  const copy = JSON.parse(res.json.response.body)
  t.equal(copy.url, destination.baseUrl + '/v1/cards/tokenize')
  t.equal(copy.httpMethod, 'post')
  t.same(copy.headers, { Authorization: 'Basic ********' }, 'credentials masked')
  t.same(JSON.parse(copy.body).card, { number: '************4242', exp_month: '**', exp_year: '****', name: '*****' })
  t.notOk(res.text.includes(TEST_CARDS.visa.number), 'no PAN')
  t.notOk(res.text.includes('c2VjcmV0'), 'no credentials')

  const again = await post(sim.url, forwardBody(destination.baseUrl), { 'idempotency-key': 'dry' })
  t.equal(again.status, 200)
  t.equal(destination.received.length, 1, 'a dry run is not stored under its key')

  const live = await startSim(t, { environment: 'live' })
  assertError(t, await post(live.url, forwardBody(destination.baseUrl, { options: { dryRun: true } }), {}, '/checkout/v71/forward'),
    422, '702', 'validation', "Field 'options.dryRun' is only available in the test environment")
})

t.test('an unreachable or slow third party: 500 internal; the key is released', async t => {
  const gone = await listen((await import('fastify')).default())
  const goneUrl = gone.url
  await gone.close()
  const sim = await startSim(t, { destinationTimeoutMs: 200 })
  const unreachable = await post(sim.url, forwardBody(goneUrl), { 'idempotency-key': 'retry-me' })
  assertError(t, unreachable, 500, '000', 'internal', 'Unable to reach third party')

  const destination = await startDestination(t)
  const retried = await post(sim.url, forwardBody(destination.baseUrl), { 'idempotency-key': 'retry-me' })
  t.equal(retried.status, 200, 'a failed attempt is not replayed')
  t.equal(destination.received.length, 1)

  destination.setDelay(1000)
  assertError(t, await post(sim.url, forwardBody(destination.baseUrl)), 500, '000', 'internal', 'Third party did not respond in time')
})

t.test('unknown paths and methods: 404 in the same envelope; calls counts forwards only', async t => {
  const sim = await startSim(t)
  assertError(t, await post(sim.url, '{}', {}, '/v70/forward'), 404, '000', 'validation', 'Not Found')
  const get = await request(sim.url + '/v71/forward', { headers: { 'x-api-key': KEY } })
  t.equal(get.statusCode, 404)
  t.equal((await get.body.json() as any).errorCode, '000')
  t.equal(sim.requests.length, 2)
  t.equal(sim.calls, 0)
  t.equal(sim.requests[1].method, 'GET')
})

t.test('buildAdyenSimulator: the app alone, default options, injectable', async t => {
  const app = buildAdyenSimulator()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/v71/forward', headers: { 'x-api-key': KEY }, payload: { merchantAccount: ADYEN_SANDBOX.merchantAccount } })
  t.equal(res.statusCode, 422)
  t.equal(res.json().message, "Required field 'baseUrl' is not provided")

  const requests: any[] = []
  const recorded = buildAdyenSimulator({ requests })
  t.teardown(() => recorded.close())
  await recorded.inject({ method: 'POST', url: '/v71/forward', payload: { a: 1 } })
  t.equal(requests.length, 1, 'recorded into the array given')
  t.equal(requests[0].body, undefined, 'a 401 is recorded before the body is read')

  const sim = await startAdyenSimulator()
  t.teardown(() => sim.close())
  t.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+$/)
})

t.test('storedPaymentMethodId is optional (v71 schema): the card details may come in paymentMethod', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const body = forwardBody(destination.baseUrl, {
    storedPaymentMethodId: undefined,
    paymentMethod: { type: 'scheme', number: '5555555555554444', expiryMonth: '3', expiryYear: '30', holderName: 'Raw Card' }
  })
  const res = await post(sim.url, JSON.parse(JSON.stringify(body)))
  t.equal(res.status, 200)
  t.equal(res.json.storedPaymentMethodId, undefined)
  t.match(destination.received[0].body, { card: { number: '5555555555554444', exp_month: '03', exp_year: '2030', name: 'Raw Card' } },
    "placeholders written as Adyen's Card object formats them: MM and YYYY (not documented for /forward)")
  const nameless = forwardBody(destination.baseUrl, { storedPaymentMethodId: undefined, paymentMethod: { number: '5555555555554444', expiryMonth: '12', expiryYear: '2031' } })
  t.equal((await post(sim.url, JSON.parse(JSON.stringify(nameless)))).status, 200)
  t.match(destination.received[1].body, { card: { name: '' } }, 'no holderName: an empty one')
})

t.test("substitution 'raw' writes values as they are: a quote in the holder name breaks the JSON (Adyen documents neither way)", async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t, { substitution: 'raw' })
  const body = forwardBody(destination.baseUrl, { shopperReference: 'sandbox-shopper-0002', storedPaymentMethodId: 'Q7UOTEDNAME0001A' })
  const res = await post(sim.url, body)
  t.equal(res.status, 200)
  t.type(destination.received[0].body, 'string', 'not JSON any more')
  t.match(destination.received[0].body, TEST_CARDS.quotedName.holderName)
  const escaped = await startSim(t)
  await post(escaped.url, body)
  t.match(destination.received[1].body, { card: { name: TEST_CARDS.quotedName.holderName } }, "the default, 'json-escaped', keeps it JSON")
})
