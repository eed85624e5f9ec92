import net from 'node:net'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Agent } from 'undici'
import Checkout from 'checkout-sdk-node'
import { checkoutCom, checkoutComAuthorization, CHECKOUT_COM_FORWARD_URLS, CHECKOUT_COM_MAX_BODY } from '../lib/psp/adapters/checkout-com.ts'
import { startCheckoutComSimulator, CHECKOUT_COM_SANDBOX_SECRET_KEY as KEY, CHECKOUT_COM_TEST_SOURCES as SRC } from '../lib/sandbox/index.ts'
import { startFakeDestination } from '../lib/sandbox/destination.ts'
import { listen } from '../lib/sandbox/server.ts'
import { TEST_CARDS } from '../lib/sandbox/test-cards.ts'
import { DEFAULT_TEMPLATE, parseTemplate } from '../lib/template.ts'
import type { BodyTemplate, CheckoutComOptions, PreparedDestination, TemplateSlot } from '../types/index.ts'
import { CORRELATION_ID } from './helpers/psp-kits.ts'

const ROKT_KEY = 'rokt_dest_key_0123456789'
const LIVE_NAS_KEY = 'sk_m73dzbpy7cf3gfd46xr4yj5xo4e'
const PREVIOUS_SANDBOX_KEY = 'sk_test_0b9b5db6-f223-49d0-b68f-f6643dd4f808'
const CHANNEL = 'pc_azsiyswl7bwe2ynjzujy7lcjca'

/** DEFAULT_TEMPLATE as Checkout.com should receive it: its own placeholders, the CVC empty. */
const EXPECTED_BODY = JSON.stringify({
  card: {
    number: '{{card_number}}',
    exp_month: '{{card_expiry_month_mm}}',
    exp_year: '{{card_expiry_year_yyyy}}',
    name: '{{cardholder_name}}',
    cvc: ''
  },
  billing_address: {
    line1: '{{billing_address_line1}}',
    line2: '{{billing_address_line2}}',
    city: '{{billing_address_city}}',
    state: '{{billing_address_state}}',
    postal_code: '{{billing_address_zip}}',
    country: '{{billing_address_country}}'
  }
})

function destinationFor (url: string, overrides: Partial<PreparedDestination> = {}): PreparedDestination {
  const template = overrides.template ?? DEFAULT_TEMPLATE
  return {
    id: 'COM.ROKT.CATALOG',
    url,
    headers: { 'x-rokt-api-key': ROKT_KEY },
    template,
    slots: overrides.slots ?? parseTemplate(template, 'test'),
    ...overrides
  }
}

/** A record with no billing address or holder name: Checkout.com's placeholders fill those. */
const record = (sourceId: string = SRC.visa) => ({ psp: 'checkoutCom', sourceId })

async function setup (t: Test, options: Partial<CheckoutComOptions> = {}, destinationDelayMs = 0) {
  const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_KEY }, delayMs: destinationDelayMs })
  t.teardown(() => destination.close())
  const simulator = await startCheckoutComSimulator()
  t.teardown(() => simulator.close())
  const adapter = checkoutCom({ secretKey: KEY, environment: 'sandbox', baseUrl: simulator.url, ...options })
  t.teardown(() => adapter.close?.())
  return { destination, simulator, adapter, prepared: destinationFor(destination.url) }
}

/** A loopback server that records what it receives and answers what the test says. */
async function startCapture (t: Test) {
  const received: Array<{ method: string, url: string, headers: Record<string, unknown>, body: string }> = []
  const state = { status: 200, body: { request_id: 'fwd_1', destination_response: { status: 201, headers: { 'Content-Type': ['application/json'] }, body: '{"ok":true}' } } as unknown }
  const app = Fastify({ logger: false })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body))
  app.all('/*', async (req, reply) => {
    received.push({ method: req.method, url: req.url, headers: req.headers, body: req.body as string })
    return reply.code(state.status).type('application/json').send(JSON.stringify(state.body))
  })
  const server = await listen(app)
  t.teardown(() => server.close())
  return { url: server.url, received, state }
}

/** An undici dispatcher that sends every connection, whatever the host, to a loopback port over plain TCP. */
function loopbackDispatcher (t: Test, url: string): Agent {
  const port = Number(new URL(url).port)
  const agent = new Agent({
    connect: (_opts, callback) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => callback(null, socket))
      socket.once('error', err => callback(err, null))
    }
  })
  t.teardown(() => agent.close())
  return agent
}

async function rejection (t: Test, promise: Promise<unknown>) {
  const err = await promise.then(() => null, (e: unknown) => e) as (Error & { statusCode: number, code: string }) | null
  t.ok(err, 'rejected')
  t.notMatch(String(err?.message) + String(err?.stack), /sk_sbox|sk_test|rokt_dest_key/, 'no secret in the error')
  return err as Error & { statusCode: number, code: string }
}

t.test('options are checked at construction; messages name the option, never its value', async t => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['no options', null, /options are required/],
    ['no key', { environment: 'sandbox' }, /secretKey is required/],
    ['key with spaces', { secretKey: 'sk_sbox_ a b', environment: 'sandbox' }, /^checkout\.com: secretKey must be 8 to 512 printable characters without spaces, as the Dashboard shows the secret key$/],
    ['bad secret name', { secretKey: KEY, environment: 'sandbox', secretHeaders: { 'x-rokt-api-key': 'has-dash' } }, /secretHeaders must map header names to secret names \(1 to 64 letters, digits or underscores/],
    ['secretHeaders not an object', { secretKey: KEY, environment: 'sandbox', secretHeaders: null }, /secretHeaders must map/],
    ['no environment', { secretKey: KEY }, /environment must be 'sandbox' or 'production'/],
    ['sandbox key in production', { secretKey: KEY, environment: 'production' }, /sandbox key but environment is 'production'/],
    ['previous sandbox key in production', { secretKey: PREVIOUS_SANDBOX_KEY, environment: 'production' }, /sandbox key/],
    ['live key in sandbox', { secretKey: LIVE_NAS_KEY, environment: 'sandbox' }, /live key but environment is 'sandbox'/],
    ['previous live key in sandbox', { secretKey: 'sk_0b9b5db6-f223-49d0-b68f-f6643dd4f808', environment: 'sandbox' }, /live key/],
    ['bad processing channel', { secretKey: KEY, environment: 'sandbox', processingChannelId: 'pc_1' }, /processingChannelId must be a processing channel id \(pc_ and 26 letters, digits or underscores\)/],
    ['processing channel not a string', { secretKey: KEY, environment: 'sandbox', processingChannelId: 5 }, /processingChannelId must be/],
    ['plain http off loopback', { secretKey: KEY, environment: 'sandbox', baseUrl: 'http://forward.example' }, /baseUrl must be an https URL/],
    ['not a url', { secretKey: KEY, environment: 'sandbox', baseUrl: 'nope' }, /baseUrl must be an https URL/]
  ]
  for (const [name, options, message] of cases) {
    const err = t.throws(() => checkoutCom(options as CheckoutComOptions), message, name) as Error
    t.notMatch(err.message, /sk_sbox|sk_test|sk_m73|0b9b5db6/, `${name}: no key in the message`)
  }
  for (const options of [
    { secretKey: KEY, environment: 'sandbox' },
    { secretKey: PREVIOUS_SANDBOX_KEY, environment: 'sandbox', processingChannelId: CHANNEL },
    { secretKey: LIVE_NAS_KEY, environment: 'production' },
    { secretKey: 'Bearer oauth-access-token', environment: 'production', baseUrl: 'https://forward.example/' }
  ] as CheckoutComOptions[]) {
    const adapter = checkoutCom(options)
    t.equal(adapter.name, 'checkout.com')
    await adapter.close?.()
  }
})

t.test('the Authorization header is what checkout-sdk-node sends for each key shape', async t => {
  t.equal(checkoutComAuthorization(KEY), `Bearer ${KEY}`)
  t.equal(checkoutComAuthorization(LIVE_NAS_KEY), `Bearer ${LIVE_NAS_KEY}`)
  t.equal(checkoutComAuthorization(PREVIOUS_SANDBOX_KEY), PREVIOUS_SANDBOX_KEY)
  t.equal(checkoutComAuthorization('Bearer oauth-access-token'), 'Bearer oauth-access-token')
})

t.test("isRecord accepts a src_ id of the SDKs' pattern ^(src)_(\\w{26})$ and nothing else", async t => {
  const { adapter } = await setup(t)
  t.ok(adapter.isRecord({ psp: 'c', sourceId: SRC.visa }))
  t.ok(adapter.isRecord({ psp: 'c', sourceId: 'src_ABC_' + '1'.repeat(22) }), 'letters, digits, underscores')
  for (const sourceId of [undefined, 42, '', 'src_', 'src_ABC123', 'src_' + 'a'.repeat(25), 'src_' + 'a'.repeat(27), 'tok_v5rgkf3gdtpuzjqesyxmyodnya', 'src_a-' + 'b'.repeat(24), ' ' + SRC.visa]) {
    t.notOk(adapter.isRecord({ psp: 'c', sourceId }), String(sourceId))
  }
})

t.test('forwards the stored card: the destination gets the real card, the answer is unwrapped', async t => {
  const { destination, simulator, adapter, prepared } = await setup(t)
  adapter.prepareDestination?.(prepared)
  const result = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared })

  t.equal(result.status, 200)
  t.match(result.headers['content-type'], /^application\/json/)
  t.equal(typeof result.headers['content-type'], 'string', 'array header values are flattened')
  t.match(result.body, { status: 'tokenized', last4: '4242' })
  t.type(result.requestTime, 'number')
  t.ok(result.requestTime >= 0)
  t.match(result.pspBody, { request_id: /^fwd_/, destination_response: { status: 200 } })

  t.equal(destination.received.length, 1)
  const got = destination.received[0]
  t.equal(got.method, 'POST')
  t.equal(got.headers['x-rokt-api-key'], ROKT_KEY)
  t.match(got.headers['content-type'], 'application/json')
  const card = TEST_CARDS.visa
  t.same(got.body, {
    card: { number: card.number, exp_month: card.expMonth, exp_year: card.expYear, name: card.holderName, cvc: '' },
    // Checkout.com's own billing placeholders: the instrument's address, not the vault record's.
    billing_address: { line1: card.billing.line1, line2: '', city: card.billing.city, state: card.billing.state, postal_code: card.billing.postalCode, country: card.billing.country }
  })

  t.equal(simulator.calls, 1)
  const sent = simulator.requests[0]
  t.equal(sent.method, 'POST')
  t.equal(sent.path, '/forward')
  t.equal(sent.headers.authorization, `Bearer ${KEY}`)
  t.equal(sent.headers['cko-idempotency-key'], undefined, 'no idempotency key unless one is given')
  t.same(sent.body, {
    source: { type: 'id', id: SRC.visa },
    reference: CORRELATION_ID,
    destination_request: {
      url: destination.url,
      method: 'POST',
      headers: { raw: { 'x-rokt-api-key': ROKT_KEY, 'Content-Type': 'application/json' } },
      body: EXPECTED_BODY
    }
  })
})

t.test('registration-time rendering: the body is rendered once, and works without an explicit prepare', async t => {
  const { destination, simulator, adapter, prepared } = await setup(t, { processingChannelId: CHANNEL })
  // No prepareDestination call: the first forward prepares it.
  await adapter.forward({ correlationId: CORRELATION_ID, record: record(SRC.mastercard), destination: prepared })
  // A later change to the destination object is not seen: the prepared form is cached by id.
  await adapter.forward({ correlationId: CORRELATION_ID, record: record(SRC.mastercard), destination: { ...prepared, template: { changed: '{{card.number}}' } } })
  for (const sent of simulator.requests) {
    t.match(sent.body, { destination_request: { body: EXPECTED_BODY }, processing_channel_id: CHANNEL })
  }
  t.match(destination.received[1].body, { card: { number: TEST_CARDS.mastercard.number, exp_month: '03' }, billing_address: { line2: 'Suite 4' } })
})

t.test('a template with only some tokens, and a destination that already sets Content-Type', async t => {
  const { destination, simulator, adapter } = await setup(t)
  const template: BodyTemplate = { pan: '{{card.number}}', zip: '{{billing.postalCode}}', cvc: '{{card.cvc}}', fixed: 'yes', n: 1 }
  const prepared = destinationFor(destination.url, { template, headers: { 'x-rokt-api-key': ROKT_KEY, 'content-type': 'application/json; charset=utf-8' } })
  adapter.prepareDestination?.(prepared)
  await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared })
  t.same(destination.received[0].body, { pan: TEST_CARDS.visa.number, zip: '94103', cvc: '', fixed: 'yes', n: 1 })
  t.same((simulator.requests[0].body as any).destination_request.headers.raw, { 'x-rokt-api-key': ROKT_KEY, 'content-type': 'application/json; charset=utf-8' })
})

t.test('prepareDestination refuses what Checkout.com cannot serve, naming the token or limit', async t => {
  const { adapter } = await setup(t)
  const url = 'https://rokt.example/v1/cards'
  const unknown = { ...destinationFor(url), slots: [{ path: ['x'], token: 'card.pin' } as unknown as TemplateSlot] }
  t.throws(() => adapter.prepareDestination?.(unknown), { message: 'checkout.com: cannot fill {{card.pin}} for destination COM.ROKT.CATALOG' })
  t.throws(() => adapter.prepareDestination?.(destinationFor('https://rokt.example/' + 'a'.repeat(1010))), /url .* longer than 1024/)
  // (parseTemplate refuses such a key at registration: this is the adapter's own check, for a destination built by hand)
  t.throws(() => adapter.prepareDestination?.(destinationFor(url, { template: { '{{card_number}}': '{{card.number}}' }, slots: [{ path: ['{{card_number}}'], token: 'card.number' }] })), /contains "\{\{" outside a token/)
  t.throws(() => adapter.prepareDestination?.(destinationFor(url, { headers: { 'x-key': 'a{{b' } })), /header x-key of destination COM.ROKT.CATALOG contains "\{\{"/)
  const big = destinationFor(url, { template: { pan: '{{card.number}}', pad: 'p'.repeat(CHECKOUT_COM_MAX_BODY) } })
  t.throws(() => adapter.prepareDestination?.(big), /Checkout.com accepts at most 16384/)
})

t.test('an idempotency key goes in Cko-Idempotency-Key, which Checkout.com does not document for /forward: nothing relies on it', async t => {
  const { destination, simulator, adapter, prepared } = await setup(t)
  const first = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared, idempotencyKey: 'rokt-idem-1' })
  const second = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared, idempotencyKey: 'rokt-idem-1' })
  t.equal(simulator.requests[0].headers['cko-idempotency-key'], 'rokt-idem-1')
  t.not((second.pspBody as any).request_id, (first.pspBody as any).request_id, 'by default the simulator, like the documentation, ignores it')
  t.equal(destination.received.length, 2)

  const emulated = await startCheckoutComSimulator({ idempotency: true })
  t.teardown(() => emulated.close())
  const keyed = checkoutCom({ secretKey: KEY, environment: 'sandbox', baseUrl: emulated.url })
  t.teardown(() => keyed.close?.())
  const a = await keyed.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared, idempotencyKey: 'rokt-idem-2' })
  const b = await keyed.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared, idempotencyKey: 'rokt-idem-2' })
  t.equal((b.pspBody as any).request_id, (a.pspBody as any).request_id, 'if Checkout.com honours it as for payments, the retry is answered from the first')
  t.equal(destination.received.length, 3)
})

t.test('a destination 4xx or a text answer is relayed as a success', async t => {
  const { destination, adapter, prepared } = await setup(t)
  destination.setResponse({ status: 422, body: { error: 'invalid_card' } })
  const rejected = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared })
  t.equal(rejected.status, 422)
  t.same(rejected.body, { error: 'invalid_card' })

  destination.setResponse({ status: 503, headers: { 'content-type': 'text/plain', 'retry-after': '5' }, body: 'busy' })
  const text = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared })
  t.equal(text.status, 503)
  t.equal(text.body, 'busy')
  t.equal(text.headers['retry-after'], '5')
})

t.test("Checkout.com's error envelope becomes a PspError with its code and no secret", async t => {
  const { destination, adapter, prepared } = await setup(t)
  const unknown = await rejection(t, adapter.forward({ correlationId: CORRELATION_ID, record: record('src_' + 'z'.repeat(26)), destination: prepared }))
  t.equal(unknown.statusCode, 502)
  t.equal(unknown.code, 'CARD_FORWARDING_PSP_ERROR')
  t.equal(unknown.message, 'checkout.com forward failed: source_not_found')

  // isRecord would refuse this id (the route never sends it); Checkout.com refuses it too.
  const invalid = await rejection(t, adapter.forward({ correlationId: CORRELATION_ID, record: record('src_short'), destination: prepared }))
  t.equal(invalid.message, 'checkout.com forward failed: source_id_invalid')

  const tooLong = await rejection(t, adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: { ...destinationFor('http://example.com/x'), id: 'OTHER' } }))
  t.equal(tooLong.message, 'checkout.com forward failed: destination_request_url_invalid')
  t.equal(destination.received.length, 0)
})

t.test('a wrong key: 401 with no body is a PspError without the key', async t => {
  const { simulator, prepared } = await setup(t)
  const wrong = checkoutCom({ secretKey: 'sk_sbox_' + 'a'.repeat(27), environment: 'sandbox', baseUrl: simulator.url })
  t.teardown(() => wrong.close?.())
  const err = await rejection(t, wrong.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared }))
  t.equal(err.statusCode, 502)
  // Checkout.com's 401 has no body: the status names the refusal.
  t.equal(err.message, 'checkout.com forward failed: http_401')
  t.match(err, { reason: 'http_401', outcome: undefined })
  t.notMatch(err.message, /aaaaaaaa/)
})

t.test('a destination that cannot be reached: no destination_response, a clear code', async t => {
  const { destination, adapter } = await setup(t)
  await destination.close()
  const err = await rejection(t, adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: destinationFor(destination.url) }))
  t.equal(err.message, 'checkout.com forward failed: no_destination_response')
  t.equal((err as { outcome?: string }).outcome, 'unknown', 'Checkout.com made the forward request: the destination may have the card')
})

t.test('Checkout.com not answering in time is a PspTimeoutError', async t => {
  const { adapter, prepared } = await setup(t, { timeouts: { headersMs: 400 } }, 2500)
  const err = await rejection(t, adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared }))
  t.equal(err.statusCode, 504)
  t.equal(err.code, 'CARD_FORWARDING_PSP_TIMEOUT')
  t.equal(err.message, 'checkout.com did not answer in time')
})

t.test('odd PSP answers: error type only, no envelope, unsafe codes, 2xx without the fields', async t => {
  const capture = await startCapture(t)
  const adapter = checkoutCom({ secretKey: KEY, environment: 'sandbox', baseUrl: capture.url })
  t.teardown(() => adapter.close?.())
  const input = { correlationId: CORRELATION_ID, record: record(), destination: destinationFor('https://rokt.example/v1/cards') }
  const cases: Array<[number, unknown, string]> = [
    [500, { request_id: 'fwd_1', error_type: 'internal_error' }, 'internal_error'],
    [404, { message: 'Route not found' }, 'http_404'],
    [422, { error_codes: ['no spaces allowed sk_sbox_x'] }, 'unknown'],
    [422, { error_codes: [7], error_type: 'request_invalid' }, 'request_invalid'],
    [200, {}, 'invalid_response'],
    [200, null, 'invalid_response'],
    [200, { request_id: 'fwd_1', destination_response: null }, 'invalid_response'],
    [200, { request_id: 'fwd_1', destination_response: { status: '200' } }, 'invalid_response'],
    [200, { destination_response: 'x' }, 'invalid_response']
  ]
  for (const [status, body, code] of cases) {
    capture.state.status = status
    capture.state.body = body
    const err = await rejection(t, adapter.forward(input))
    t.equal(err.message, `checkout.com forward failed: ${code}`, `${status} ${JSON.stringify(body)}`)
  }
  capture.state.status = 201
  capture.state.body = { request_id: 'fwd_2', destination_response: { status: 204, headers: { 'X-Multi': ['a', 'b'] } } }
  const ok = await adapter.forward(input)
  t.same(ok, { status: 204, headers: { 'x-multi': 'a, b' }, body: null, requestTime: ok.requestTime, pspBody: capture.state.body })
})

t.test('SDK equivalence: checkout-sdk-node forward.forwardRequest sends what the adapter sends', async t => {
  const capture = await startCapture(t)
  const destination = destinationFor('https://rokt.example/v1/cards/tokenize')
  for (const secretKey of [KEY, PREVIOUS_SANDBOX_KEY]) {
    capture.received.length = 0
    const cko = new Checkout(secretKey, { subdomain: 'abc12345' })
    const config = cko.config as { forwardUrl?: string }
    t.equal(config.forwardUrl, CHECKOUT_COM_FORWARD_URLS.sandbox, 'the SDK and the adapter agree on the sandbox host')
    config.forwardUrl = capture.url

    const adapter = checkoutCom({ secretKey, environment: 'sandbox', baseUrl: capture.url, processingChannelId: CHANNEL })
    t.teardown(() => adapter.close?.())
    const ours = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination })

    // The same input, written as Checkout.com documents the request.
    const theirs = await cko.forward.forwardRequest({
      source: { type: 'id', id: SRC.visa },
      reference: CORRELATION_ID,
      destination_request: {
        url: destination.url,
        method: 'POST',
        headers: { raw: { 'x-rokt-api-key': ROKT_KEY, 'Content-Type': 'application/json' } },
        body: EXPECTED_BODY
      },
      processing_channel_id: CHANNEL
    })
    t.same(ours.pspBody, theirs, 'both read the same answer')

    const [a, b] = capture.received
    t.equal(a.method, b.method)
    t.equal(a.url, '/forward')
    t.equal(a.url, b.url)
    t.equal(a.headers.authorization, b.headers.authorization, `Authorization for ${secretKey.slice(0, 8)}…`)
    t.match(a.headers['content-type'], /^application\/json/)
    t.match(b.headers['content-type'], /^application\/json/)
    t.same(JSON.parse(a.body), JSON.parse(b.body), 'the JSON bodies are deep-equal')
  }
})

t.test('default hosts: the adapter calls forward.sandbox.checkout.com / forward.checkout.com like the SDK', async t => {
  const capture = await startCapture(t)
  const destination = destinationFor('https://rokt.example/v1/cards/tokenize')
  const live = new Checkout(LIVE_NAS_KEY, { subdomain: 'abc12345' })
  t.equal((live.config as { forwardUrl?: string }).forwardUrl, CHECKOUT_COM_FORWARD_URLS.production)

  for (const [environment, secretKey, host] of [
    ['sandbox', KEY, 'forward.sandbox.checkout.com'],
    ['production', LIVE_NAS_KEY, 'forward.checkout.com']
  ] as const) {
    const adapter = checkoutCom({ secretKey, environment, dispatcher: loopbackDispatcher(t, capture.url) })
    await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination })
    await adapter.close?.()
    const last = capture.received[capture.received.length - 1]
    t.equal(last.headers.host, host)
    t.equal(last.url, '/forward')
  }
})

t.test('secretHeaders: the header goes out as {{secret_<name>}}, the value is a Checkout.com secret, never in the request', async t => {
  const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_KEY } })
  t.teardown(() => destination.close())
  const simulator = await startCheckoutComSimulator({ maxRecorded: Infinity })
  t.teardown(() => simulator.close())
  // The partner registers the secret once, as checkout-sdk-node does it (the simulator implements the Secrets API).
  const cko = new Checkout(KEY, { subdomain: 'abc12345' })
  ;(cko.config as { forwardUrl?: string }).forwardUrl = simulator.url
  const created = await cko.forward.createSecret({ name: 'rokt_api_key', value: ROKT_KEY })
  t.match(created, { name: 'rokt_api_key', version: 1 })
  t.notOk(JSON.stringify(created).includes(ROKT_KEY), 'the Secrets API never answers with the value')

  const adapter = checkoutCom({ secretKey: KEY, environment: 'sandbox', baseUrl: simulator.url, secretHeaders: { 'X-Rokt-Api-Key': 'rokt_api_key' } })
  t.teardown(() => adapter.close?.())
  const prepared = destinationFor(destination.url)
  adapter.prepareDestination?.(prepared)
  const result = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared })
  t.equal(result.status, 200, 'Checkout.com filled the secret: the destination accepted the key')
  t.equal(destination.received[0].headers['x-rokt-api-key'], ROKT_KEY)
  const sent = simulator.requests.find(r => r.path === '/forward') as { body: any }
  t.same(sent.body.destination_request.headers.raw, { 'x-rokt-api-key': '{{secret_rokt_api_key}}', 'Content-Type': 'application/json' })
  t.notOk(JSON.stringify(sent.body).includes(ROKT_KEY), 'the key never travels in the forward request')

  await cko.forward.deleteSecret('rokt_api_key')
  const gone = await rejection(t, adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared }))
  t.equal(gone.message, 'checkout.com forward failed: secret_not_found', 'a secret missing at Checkout.com is a refusal naming it')
  t.equal(destination.received.length, 1)

  t.throws(() => adapter.prepareDestination?.(destinationFor(destination.url, { id: 'OTHER', headers: { authorization: 'Bearer x' } })),
    { message: 'checkout.com: destination OTHER has no header x-rokt-api-key (secretHeaders)' })
})

t.test("the vault's holder name and billing address are written by the adapter: exact whether Checkout.com escapes what it substitutes or not", async t => {
  const card = TEST_CARDS.quotedName
  for (const substitution of ['json-escaped', 'raw'] as const) {
    const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_KEY } })
    t.teardown(() => destination.close())
    const simulator = await startCheckoutComSimulator({ substitution })
    t.teardown(() => simulator.close())
    const adapter = checkoutCom({ secretKey: KEY, environment: 'sandbox', baseUrl: simulator.url })
    t.teardown(() => adapter.close?.())
    const prepared = destinationFor(destination.url)
    const vaulted = { psp: 'checkoutCom', sourceId: SRC.quotedName, cardholderName: card.holderName, billingAddress: card.billing }
    const ok = await adapter.forward({ correlationId: CORRELATION_ID, record: vaulted, destination: prepared })
    t.equal(ok.status, 200, `${substitution}: the destination parsed the body`)
    t.match(destination.received[0].body, { card: { number: card.number, name: card.holderName }, billing_address: { line1: card.billing.line1, city: card.billing.city } }, `${substitution}: exact`)

    // Without them, Checkout.com's placeholders fill the name and address: then what it does decides.
    await adapter.forward({ correlationId: CORRELATION_ID, record: record(SRC.quotedName), destination: prepared })
    const second = destination.received[1].body
    if (substitution === 'json-escaped') t.match(second, { card: { name: card.holderName } })
    else t.type(second, 'string', 'raw: the quote breaks the JSON: why the vault\'s values are used when the record has them')
  }
})

t.test('a vault address that pushes the body past 16384 characters is refused before calling Checkout.com', async t => {
  const { simulator, adapter, prepared } = await setup(t)
  const long = { psp: 'checkoutCom', sourceId: SRC.visa, billingAddress: { line1: 'x'.repeat(CHECKOUT_COM_MAX_BODY) } }
  const err = await rejection(t, adapter.forward({ correlationId: CORRELATION_ID, record: long, destination: prepared }))
  t.equal(err.message, 'checkout.com forward failed: request_body_too_long')
  t.equal(simulator.calls, 0)
})

t.test('the expiry placeholders name their format: a one-digit month Checkout.com holds arrives as MM', async t => {
  const { destination, adapter, prepared } = await setup(t)
  await adapter.forward({ correlationId: CORRELATION_ID, record: record(SRC.shortExpiry), destination: prepared })
  t.match(destination.received[0].body, { card: { exp_month: '03', exp_year: '2030' } })
})

t.test("Checkout.com's request_id of a failed forward is kept as the failure's pspReference, for reconcile", async t => {
  const capture = await startCapture(t)
  const adapter = checkoutCom({ secretKey: KEY, environment: 'sandbox', baseUrl: capture.url })
  t.teardown(() => adapter.close?.())
  const input = { correlationId: CORRELATION_ID, record: record(), destination: destinationFor('https://rokt.example/v1/cards') }
  const id = 'fwd_01HZX3K5Q7ABCDEFGHJKMNPQRS'
  capture.state.status = 500
  capture.state.body = { request_id: id, error_type: 'internal_error' }
  t.match(await rejection(t, adapter.forward(input)), { outcome: 'unknown', reason: 'internal_error', pspReference: id })
  capture.state.status = 200
  capture.state.body = { request_id: id }
  t.match(await rejection(t, adapter.forward(input)), { outcome: 'unknown', reason: 'no_destination_response', pspReference: id })
  capture.state.body = { request_id: 'not an id\r\n' }
  const odd: any = await rejection(t, adapter.forward(input))
  t.equal(odd.pspReference, undefined, 'only an id of the documented shape')
})
