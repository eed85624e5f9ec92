// Braintree has no official Node SDK for the Forward API (the `braintree` package wraps the gateway
// only), so there is no SDK-equivalence test here: the adapter is checked against the simulator,
// which follows Braintree's Forward API documentation, and against hand-written PSP answers.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { MockAgent } from 'undici'
import { braintree, braintreeForwardConfig } from '../lib/psp/adapters/braintree.ts'
import { BRAINTREE_SANDBOX_CREDENTIALS as CREDS, BRAINTREE_TEST_TOKENS as TOKENS, startBraintreeSimulator, type BraintreeSimulatorOptions } from '../lib/sandbox/index.ts'
import { startFakeDestination, type FakeDestination } from '../lib/sandbox/destination.ts'
import { listen } from '../lib/sandbox/server.ts'
import { TEST_CARDS } from '../lib/sandbox/test-cards.ts'
import { DEFAULT_TEMPLATE, parseTemplate } from '../lib/template.ts'
import type { BodyTemplate, BraintreeOptions, PreparedDestination } from '../types/index.ts'
import { CORRELATION_ID } from './helpers/psp-kits.ts'

const ROKT_KEY = 'rokt-secret-key-0123'
const BILLING = { line1: '1 Main St', city: 'Austin', state: 'TX', postalCode: '78701', country: 'US' }
const record = { psp: 'braintree', paymentMethodToken: TOKENS.visa, billingAddress: BILLING, cardholderName: 'Not Used' }

function prepared (dest: { url: string }, body: BodyTemplate = DEFAULT_TEMPLATE, id = 'COM.ROKT.CATALOG'): PreparedDestination {
  return { id, url: dest.url, headers: { 'X-Rokt-Api-Key': ROKT_KEY }, template: body, slots: parseTemplate(body, 'test') }
}

async function destination (t: Test): Promise<FakeDestination> {
  const dest = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_KEY } })
  t.teardown(() => dest.close())
  return dest
}

async function simulator (t: Test, options?: BraintreeSimulatorOptions) {
  const sim = await startBraintreeSimulator(options)
  t.teardown(() => sim.close())
  return sim
}

function adapter (t: Test, options: Partial<BraintreeOptions> & { baseUrl: string }) {
  const a = braintree({ ...CREDS, environment: 'sandbox', ...options })
  t.teardown(() => a.close?.())
  return a
}

/** A destination, the simulator, and an adapter that has prepared the default template for it. */
async function throughSimulator (t: Test) {
  const dest = await destination(t)
  const sim = await simulator(t)
  const bt = adapter(t, { baseUrl: sim.url })
  const target = prepared(dest)
  bt.prepareDestination?.(target)
  return { dest, sim, bt, target }
}

function noSecrets (t: Test, err: unknown) {
  const text = JSON.stringify({ message: (err as Error).message, err })
  for (const secret of [CREDS.privateKey, CREDS.publicKey, ROKT_KEY, TEST_CARDS.visa.number]) {
    t.notOk(text.includes(secret), 'no secret in the error')
  }
}

t.test('sandbox: an inline config generated from the template; the destination gets the vaulted card', async t => {
  const { dest, sim, bt, target } = await throughSimulator(t)
  const result = await bt.forward({ correlationId: CORRELATION_ID, record, destination: target, idempotencyKey: 'idem-1' })

  t.equal(result.status, 200)
  t.equal(result.headers['content-type'], 'application/json; charset=utf-8')
  t.match(result.body, { status: 'tokenized', last4: '4242' }, 'a JSON answer is parsed')
  t.type(result.requestTime, 'number')
  t.equal(result.requestTime, (result.pspBody as any)['request-time'], "Braintree's own request-time")
  t.match(result.pspBody, { status: 200, headers: Object, body: String })

  t.same(dest.received[0].body, {
    card: { number: TEST_CARDS.visa.number, exp_month: '12', exp_year: '2034', name: 'Jenny Rosen', cvc: '' },
    billing_address: { line1: '1 Main St', line2: '', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }
  }, 'PAN, expiry and name from the vault, no CVV, billing from the record')

  const sent = sim.requests[0]
  t.equal(sent.path, '/')
  t.equal(sent.headers['trace-id'], CORRELATION_ID, "the correlation id, as Braintree's Trace-Id")
  t.equal(sent.headers.authorization, 'Basic ' + Buffer.from(`${CREDS.publicKey}:${CREDS.privateKey}`).toString('base64'))
  t.equal(sent.headers['content-type'], 'application/json')
  t.equal(sent.headers['idempotency-key'], undefined, 'Braintree documents no idempotency header')
  t.same(sent.body, {
    merchant_id: CREDS.merchantId,
    payment_method_token: TOKENS.visa,
    url: dest.url,
    method: 'POST',
    config: braintreeForwardConfig({ id: target.id, url: dest.url, headers: target.headers }, { name: 'card_forwarding_COM.ROKT.CATALOG' }),
    data: { billing_line1: '1 Main St', billing_line2: '', billing_city: 'Austin', billing_state: 'TX', billing_postal_code: '78701', billing_country: 'US' },
    sensitive_data: { header_1: ROKT_KEY }
  })
  t.notOk(JSON.stringify((sent.body as any).config).includes(ROKT_KEY), 'the config never holds the destination secret')
})

t.test("a destination's 4xx or text answer is relayed as a success", async t => {
  const dest = await destination(t)
  const sim = await simulator(t)
  const bt = adapter(t, { baseUrl: sim.url, configName: 'my_config' })
  const target = prepared(dest, { pan: '{{card.number}}', items: ['{{card.expYear}}', 7, true, null], note: 'plain' })
  bt.prepareDestination?.(target)

  dest.setResponse({ status: 402, body: { error: 'declined' } })
  let result = await bt.forward({ correlationId: CORRELATION_ID, record: { psp: 'braintree', paymentMethodToken: TOKENS.mastercard }, destination: target })
  t.equal(result.status, 402)
  t.same(result.body, { error: 'declined' })
  t.same(dest.received[0].body, { pan: TEST_CARDS.mastercard.number, items: ['2030', 7, true, null], note: 'plain' })
  t.same((sim.requests[0].body as any).data, {}, 'no billing token, no data')
  t.equal((sim.requests[0].body as any).config.name, 'my_config')

  dest.setResponse({ status: 500, headers: { 'content-type': 'text/plain' }, body: 'upstream down' })
  result = await bt.forward({ correlationId: CORRELATION_ID, record: { psp: 'braintree', paymentMethodToken: TOKENS.amex }, destination: target })
  t.equal(result.status, 500)
  t.equal(result.body, 'upstream down')
})

t.test('production: the generated config, loaded by name, gives the same destination body as sandbox', async t => {
  const dest = await destination(t)
  const options = { id: 'COM.ROKT.CATALOG', url: dest.url, headers: { 'X-Rokt-Api-Key': ROKT_KEY } }
  const reviewed = braintreeForwardConfig(options, { name: 'rokt_catalog_v1' })
  const prod = await simulator(t, { environment: 'production', configs: [reviewed] })
  const sandbox = await simulator(t)
  const target = prepared(dest)

  const live = adapter(t, { baseUrl: prod.url, environment: 'production', configName: { [target.id]: 'rokt_catalog_v1' } })
  live.prepareDestination?.(target)
  const a = await live.forward({ correlationId: CORRELATION_ID, record, destination: target })
  const test = adapter(t, { baseUrl: sandbox.url })
  test.prepareDestination?.(target)
  const b = await test.forward({ correlationId: CORRELATION_ID, record, destination: target })

  t.equal(a.status, 200)
  t.equal(b.status, 200)
  t.same(dest.received[0].body, dest.received[1].body, 'same body either way')
  t.same(dest.received[0].headers['x-rokt-api-key'], ROKT_KEY)
  const sent = prod.requests[0].body as any
  t.equal(sent.name, 'rokt_catalog_v1')
  t.equal(sent.config, undefined, 'never an inline config in production')

  const other = prepared(dest, DEFAULT_TEMPLATE, 'COM.ROKT.OTHER')
  t.throws(() => live.prepareDestination?.(other), /braintree: destination COM\.ROKT\.OTHER: no configName for this destination/)
})

t.test('braintreeForwardConfig: the JSON a partner submits for review', async t => {
  const config = braintreeForwardConfig({
    id: 'COM.ROKT.CATALOG',
    url: 'https://pci.rokt.example/v1/cards?x=(1)',
    headers: { 'X-Rokt-Api-Key': 'k', 'a/b~c': 'v' },
    body: { card: { number: '{{card.number}}', cvc: '{{card.cvc}}', name: '{{card.holderName}}' }, zip: '{{billing.postalCode}}', list: [1, false], n: null }
  }, { name: 'rokt_catalog' })
  t.same(config, {
    name: 'rokt_catalog',
    methods: ['POST'],
    url: '^https://pci\\.rokt\\.example/v1/cards\\?x=\\(1\\)$',
    types: ['CreditCard'],
    request_format: { '/body': 'json' },
    transformations: [
      { path: '/header/X-Rokt-Api-Key', value: '$header_1' },
      { path: '/header/a~1b~0c', value: '$header_2' },
      { path: '/body/card/number', value: '$number' },
      { path: '/body/card/cvc', value: '' },
      { path: '/body/card/name', value: '$cardholder_name' },
      { path: '/body/zip', value: '$billing_postal_code' },
      { path: '/body/list/0', value: 1 },
      { path: '/body/list/1', value: false },
      { path: '/body/n', value: null }
    ]
  })
  const url = new RegExp(config.url)
  t.ok(url.test('https://pci.rokt.example/v1/cards?x=(1)'))
  t.notOk(url.test('https://pciXrokt.example/v1/cards?x=(1)'), 'dots are escaped')
  t.notOk(url.test('https://pci.rokt.example/v1/cards?x=(1)/more'), 'anchored')

  const defaults = braintreeForwardConfig({ id: 'D', url: 'https://rokt.example/' }, { name: 'n' })
  t.equal(defaults.transformations.length, 11, 'the default template, no headers')
  t.same(braintreeForwardConfig({ id: 'D', url: 'https://rokt.example/', body: {} }, { name: 'n' }).transformations, [], 'an empty body template')

  const bad: Array<[BodyTemplate, RegExp]> = [
    [{ price: '$5' }, /braintree: destination D: the text at \/price starts with "\$"/],
    [{ meta: {} }, /braintree: destination D: an empty object or array \(at \/meta\)/],
    [{ list: [] }, /an empty object or array \(at \/list\)/],
    [{ m: { 0: 'x' } }, /the key at \/m\/0 is all digits/],
    [{ pan: '{{card.numbr}}' }, /unknown token/]
  ]
  for (const [body, message] of bad) t.throws(() => braintreeForwardConfig({ id: 'D', url: 'https://rokt.example/', body }, { name: 'n' }), message)

  const bt = braintree({ ...CREDS, environment: 'sandbox' })
  t.teardown(() => bt.close?.())
  t.throws(() => bt.prepareDestination?.(prepared({ url: 'https://rokt.example/' }, { price: '$5' })), /starts with "\$"/, 'registration fails the same way')
})

t.test('vault, validation and server errors become PspError / PspTimeoutError with a safe code', async t => {
  const dest = await destination(t)
  const sim = await simulator(t)
  const target = prepared(dest)
  const bt = adapter(t, { baseUrl: sim.url })
  bt.prepareDestination?.(target)

  const expect = async (a: typeof bt, rec: typeof record | { psp: string, paymentMethodToken: string }, code: string, where: PreparedDestination = target) => {
    const err: any = await a.forward({ correlationId: CORRELATION_ID, record: rec as any, destination: where }).then(() => null, e => e)
    t.equal(err?.code, 'CARD_FORWARDING_PSP_ERROR', code)
    t.equal(err?.statusCode, 502)
    t.equal(err?.message, `braintree forward failed: ${code}`)
    t.equal(err?.reason, code, 'the code is the audit reason')
    noSecrets(t, err)
  }
  await expect(bt, { ...record, paymentMethodToken: 'missing_token' }, 'vault_error_404')
  await expect(bt, { ...record, paymentMethodToken: TOKENS.noPaymentData }, 'vault_error_422')
  await expect(bt, { ...record, paymentMethodToken: TOKENS.notExportable }, 'vault_error_422')

  const wrongKey = adapter(t, { baseUrl: sim.url, privateKey: 'wrong_private_key' })
  wrongKey.prepareDestination?.(target)
  await expect(wrongKey, record, 'vault_error_401')
  const wrongMerchant = adapter(t, { baseUrl: sim.url, merchantId: 'other_merchant' })
  wrongMerchant.prepareDestination?.(target)
  await expect(wrongMerchant, record, 'vault_error_404')

  const noRight = await simulator(t, { forwardApiRight: false })
  const denied = adapter(t, { baseUrl: noRight.url })
  denied.prepareDestination?.(target)
  await expect(denied, record, 'vault_error_403')

  // A sandbox adapter against a production Forward API: inline configs are refused.
  const prod = await simulator(t, { environment: 'production' })
  const inline = adapter(t, { baseUrl: prod.url })
  inline.prepareDestination?.(target)
  await expect(inline, record, 'validation_error')

  // The destination cannot be reached: Braintree's 502.
  const nowhere = prepared({ url: 'https://127.0.0.1:1/v1/cards' }, DEFAULT_TEMPLATE, 'NOWHERE')
  bt.prepareDestination?.(nowhere)
  await expect(bt, record, 'server_error_502', nowhere)
  t.equal(dest.received.length, 0, 'nothing reached the destination')
})

t.test("Braintree's 504 and our own PSP timeout are PspTimeoutError", async t => {
  const dest = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_KEY }, delayMs: 10_000 })
  t.teardown(() => dest.close())
  const target = prepared(dest)

  const sim = await simulator(t, { destinationTimeoutMs: 100 })
  const bt = adapter(t, { baseUrl: sim.url })
  bt.prepareDestination?.(target)
  let err: any = await bt.forward({ correlationId: CORRELATION_ID, record, destination: target }).then(() => null, e => e)
  t.equal(err?.code, 'CARD_FORWARDING_PSP_TIMEOUT')
  t.equal(err?.statusCode, 504)
  t.equal(err?.message, 'braintree did not answer in time')
  t.equal(err?.reason, 'destination_request_timeout', 'the reason names which of Braintree\'s timeouts')
  t.equal(err?.outcome, 'unknown')
  t.match(err?.pspReference, /^[0-9a-f-]{36}$/, "Braintree's request-uuid, for its support")

  const patient = await simulator(t, { destinationTimeoutMs: 30_000 })
  const hasty = adapter(t, { baseUrl: patient.url, timeouts: { headersMs: 150 } })
  hasty.prepareDestination?.(target)
  err = await hasty.forward({ correlationId: CORRELATION_ID, record, destination: target }).then(() => null, e => e)
  t.equal(err?.code, 'CARD_FORWARDING_PSP_TIMEOUT')
  noSecrets(t, err)
  // The simulators still wait on the slow destination: close it first so they close at once.
  await dest.close()
})

t.test('answers outside the documented shapes', async t => {
  let reply: { status: number, body: string } = { status: 200, body: '{}' }
  const app = Fastify()
  app.post('/', async (_request, res) => res.code(reply.status).type('application/json').send(reply.body))
  const server = await listen(app)
  t.teardown(() => server.close())
  const bt = adapter(t, { baseUrl: server.url })
  const target = prepared({ url: 'https://rokt.example/v1/cards' })
  bt.prepareDestination?.(target)
  const outcome = async () => bt.forward({ correlationId: CORRELATION_ID, record, destination: target }).then(r => r, e => e.message)

  reply = { status: 200, body: JSON.stringify({ status: 201, headers: { 'Content-Type': 'application/json' }, body: '{"id":1}' }) }
  const ok: any = await outcome()
  t.equal(ok.status, 201)
  t.same(ok.body, { id: 1 })
  t.type(ok.requestTime, 'number', 'measured locally when Braintree gives no request-time')

  // After a 2xx we cannot use or a 5xx, Braintree may have forwarded the card: outcome unknown. A 4xx is a refusal.
  const cases: Array<[number, unknown, string, string]> = [
    [200, {}, 'braintree forward failed: invalid_response', 'unknown'],
    [200, null, 'braintree forward failed: invalid_response', 'unknown'],
    [200, { status: '200' }, 'braintree forward failed: invalid_response', 'unknown'],
    [500, {}, 'braintree forward failed: http_500', 'unknown'],
    [500, null, 'braintree forward failed: http_500', 'unknown'],
    [502, { error: 'TLS error', message: { 'server_error?': true } }, 'braintree forward failed: server_error_502', 'unknown'],
    [504, { error: 'Request timeout', message: { 'server_error?': true } }, 'braintree did not answer in time', 'unknown'],
    [404, { error: 'Vault error', message: { 'vault_error?': true, vault_status: 'a b' } }, 'braintree forward failed: unknown', 'failed'],
    [400, { error: 'Unknown HTTP Method', message: { 'validation_error?': true } }, 'braintree forward failed: validation_error', 'failed']
  ]
  for (const [status, body, message, expected] of cases) {
    reply = { status, body: JSON.stringify(body) }
    const err = await bt.forward({ correlationId: CORRELATION_ID, record, destination: target }).then(() => null, e => e)
    t.same([err?.message, err?.outcome ?? 'failed'], [message, expected], `${status} ${JSON.stringify(body)}`)
  }
})

t.test('default hosts, the dispatcher option, and option checks', async t => {
  for (const [environment, origin] of [['sandbox', 'https://forwarding.sandbox.braintreegateway.com'], ['production', 'https://forwarding.braintreegateway.com']] as const) {
    const agent = new MockAgent()
    agent.disableNetConnect()
    t.teardown(() => agent.close())
    agent.get(origin).intercept({ path: '/', method: 'POST' }).reply(200, { status: 200, headers: {}, body: '', 'request-time': 3 })
    const bt = braintree({ ...CREDS, environment, configName: 'n', dispatcher: agent })
    const target = prepared({ url: 'https://rokt.example/v1/cards' })
    bt.prepareDestination?.(target)
    const result = await bt.forward({ correlationId: CORRELATION_ID, record, destination: target })
    t.same(result, { status: 200, headers: {}, body: '', requestTime: 3, pspBody: { status: 200, headers: {}, body: '', 'request-time': 3 } }, environment)
    agent.assertNoPendingInterceptors()
    await bt.close?.()
  }

  const base = { ...CREDS, environment: 'sandbox' as const }
  const bad: Array<[unknown, RegExp]> = [
    [null, /braintree: options are required/],
    [{ ...base, merchantId: '' }, /^braintree: merchantId is required \(from the Control Panel's API keys page\)$/],
    [{ ...base, publicKey: 'has:colon' }, /^braintree: publicKey must be 1 to 128 letters, digits, _ or - \(as the Control Panel shows it\)$/],
    [{ ...base, privateKey: 42 }, /^braintree: privateKey is required/],
    [{ ...base, environment: 'live' }, /braintree: environment must be 'sandbox' or 'production'/],
    [{ ...base, environment: 'production' }, /braintree: configName is required in production/],
    [{ ...base, configName: '' }, /braintree: configName must be/],
    [{ ...base, configName: { a: 'ok', b: 'has space' } }, /braintree: configName must be/],
    [{ ...base, configName: null }, /braintree: configName must be/],
    [{ ...base, configName: 7 }, /braintree: configName must be/],
    [{ ...base, baseUrl: 'not a url' }, /braintree: baseUrl must be an https URL \(or http on a loopback address\)/],
    [{ ...base, baseUrl: 'http://forwarding.braintreegateway.com' }, /braintree: baseUrl must be an https URL/]
  ]
  for (const [options, message] of bad) {
    const err: any = (() => { try { braintree(options as any) } catch (e) { return e } })()
    t.match(err?.message, message)
    t.notOk(String(err?.message).includes('has:colon'), 'the message names the option, not its value')
  }
})

t.test('isRecord: a plain, bounded payment method token', async t => {
  const bt = braintree({ ...CREDS, environment: 'sandbox' })
  t.teardown(() => bt.close?.())
  t.equal(bt.name, 'braintree')
  t.ok(bt.isRecord({ psp: 'braintree', paymentMethodToken: 'bt_visa-1' }))
  t.notOk(bt.isRecord({ psp: 'braintree', paymentMethodToken: 'a'.repeat(65) }))
  t.notOk(bt.isRecord({ psp: 'braintree', paymentMethodToken: 'tok"en' }))
  t.notOk(bt.isRecord({ psp: 'braintree', paymentMethodToken: '' }))
  t.notOk(bt.isRecord({ psp: 'braintree', paymentMethodToken: 42 }))
  t.notOk(bt.isRecord({ psp: 'braintree' }))
})

t.test('the expiry goes through format_expiration: a two-digit month and a four-digit year, whatever Braintree vaulted', async t => {
  const config = braintreeForwardConfig({ id: 'D', url: 'https://rokt.example/' }, { name: 'n' })
  t.same(config.transformations.filter(tr => /exp_/.test(tr.path)), [
    { path: '/body/card/exp_month', value: ['format_expiration', '%m'] },
    { path: '/body/card/exp_year', value: ['format_expiration', '%Y'] }
  ])
  const { dest, bt, target } = await throughSimulator(t)
  await bt.forward({ correlationId: CORRELATION_ID, record: { ...record, paymentMethodToken: TOKENS.twoDigitYear }, destination: target })
  t.match((dest.received[0].body as any).card, { exp_month: '07', exp_year: '2029' }, 'vaulted as 07/29')
})

t.test('a holder name with a quote and a backslash reaches the destination exactly: Braintree serializes the body itself', async t => {
  const { dest, bt, target } = await throughSimulator(t)
  await bt.forward({ correlationId: CORRELATION_ID, record: { ...record, paymentMethodToken: TOKENS.quotedName, billingAddress: TEST_CARDS.quotedName.billing }, destination: target })
  t.match((dest.received[0].body as any), { card: { name: TEST_CARDS.quotedName.holderName }, billing_address: { line1: TEST_CARDS.quotedName.billing.line1 } })
})

t.test('reconcile: Braintree documents no lookup; the Trace-Id is what its support can find', async t => {
  const bt = adapter(t, { baseUrl: 'http://127.0.0.1:1' })
  const result = await bt.reconcile?.(CORRELATION_ID)
  t.equal(result?.outcome, 'cannot_tell')
  t.match((result as any).how, /Trace-Id rcf_0123456789abcdef0123456789abcdef/)
})
