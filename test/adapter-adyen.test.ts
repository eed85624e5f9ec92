import { generateKeyPairSync, sign } from 'node:crypto'
import { once } from 'node:events'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { Agent, MockAgent } from 'undici'
import adyenLib from '@adyen/api-library'
import serializer from '@adyen/api-library/lib/src/typings/checkout/objectSerializer.js'
import { adyen, ADYEN_MAX_BODY } from '../lib/psp/adapters/adyen.ts'
import { ADYEN_SANDBOX, startAdyenSimulator, type AdyenSimulatorOptions } from '../lib/sandbox/index.ts'
import { startFakeDestination, type FakeDestination } from '../lib/sandbox/destination.ts'
import { TEST_CARDS } from '../lib/sandbox/test-cards.ts'
import { DEFAULT_TEMPLATE, parseTemplate } from '../lib/template.ts'
import type { AdyenVaultRecord, BodyTemplate, PreparedDestination, VaultedPaymentMethodBase } from '../types/index.ts'
import { CORRELATION_ID } from './helpers/psp-kits.ts'

const { Client, CheckoutAPI, EnvironmentEnum, Types } = adyenLib
const { ObjectSerializer } = serializer

const KEY = ADYEN_SANDBOX.apiKey
const MERCHANT = ADYEN_SANDBOX.merchantAccount
const VISA_ID = 'M5N7TQ4TG5PFWR50'
const SHOPPER = 'sandbox-shopper-0001'
const ROKT_KEY = 'rokt_dest_key_0123456789'
const VAULT_ADDRESS = { line1: '1 Vault Way', city: 'Springfield', state: 'OR', postalCode: '97403', country: 'US' }

type Record = AdyenVaultRecord & VaultedPaymentMethodBase
const record = (overrides: Partial<Record> = {}): Record => ({
  psp: 'adyen',
  storedPaymentMethodId: VISA_ID,
  shopperReference: SHOPPER,
  billingAddress: VAULT_ADDRESS,
  ...overrides
})

function prepared (url: string, template: BodyTemplate = DEFAULT_TEMPLATE, headers: Readonly<{ [k: string]: string }> = { 'x-rokt-api-key': ROKT_KEY }, id = 'COM.ROKT.CATALOG'): PreparedDestination {
  return { id, url, headers, template, slots: parseTemplate(template, id) }
}

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

function adapterFor (t: Test, baseUrl: string, overrides: Partial<Parameters<typeof adyen>[0]> = {}) {
  const adapter = adyen({ apiKey: KEY, merchantAccount: MERCHANT, environment: 'test', baseUrl, ...overrides })
  t.teardown(() => adapter.close?.())
  return adapter
}

interface Captured { method: string, url: string, headers: http.IncomingHttpHeaders, body: string }

/** A PSP stand-in: records each request and answers with `answer` (or never, when it returns null). */
function captureHandler (captured: Captured[], answer: (c: Captured) => { status: number, body: string } | null) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => {
      const c = { method: req.method as string, url: req.url as string, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      captured.push(c)
      const a = answer(c)
      if (a === null) return
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body)
    })
  }
}

async function serve (t: Test, server: http.Server | https.Server, scheme: 'http' | 'https'): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function fakePsp (t: Test, answer: (c: Captured) => { status: number, body: string } | null) {
  const captured: Captured[] = []
  const url = await serve(t, http.createServer(captureHandler(captured, answer)), 'http')
  return { url, captured }
}

t.test('forwards through the simulator: the destination gets the real card and the vault billing address', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const adapter = adapterFor(t, sim.url)
  const dest = prepared(destination.url)
  adapter.prepareDestination?.(dest)

  const result = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: dest })
  t.equal(result.status, 200)
  t.match(result.headers['content-type'], /application\/json/)
  t.match(result.body, { status: 'tokenized', last4: '4242' }, 'the destination JSON body, parsed')
  t.type(result.requestTime, 'number')
  t.ok(result.requestTime >= 0)
  t.match((result.pspBody as any).pspReference, /^[A-Z0-9]{16}$/, 'pspBody is the whole CheckoutForwardResponse')
  t.equal((result.pspBody as any).storedPaymentMethodId, VISA_ID)

  t.equal(destination.received.length, 1)
  t.same(destination.received[0].body, {
    card: { number: TEST_CARDS.visa.number, exp_month: '12', exp_year: '2034', name: 'Jenny Rosen', cvc: '' },
    billing_address: { line1: '1 Vault Way', line2: '', city: 'Springfield', state: 'OR', postal_code: '97403', country: 'US' }
  }, 'card from Adyen, CVC empty (Adyen tokens hold none), billing from the vault record')
  t.equal(destination.received[0].headers['x-rokt-api-key'], ROKT_KEY)
  t.equal(destination.received[0].headers['content-type'], 'application/json')
})

t.test('the request Adyen receives: path, auth, body fields, placeholders in a JSON string', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const adapter = adapterFor(t, sim.url + '/')
  const dest = prepared(destination.url + '?v=2', DEFAULT_TEMPLATE, { 'x-rokt-api-key': ROKT_KEY, 'Content-Type': 'application/json; charset=utf-8' })
  await adapter.forward({ correlationId: CORRELATION_ID, record: record({ billingAddress: undefined }), destination: dest })

  t.equal(sim.calls, 1)
  const got = sim.requests[0]
  t.equal(got.path, '/v71/forward')
  t.equal(got.headers['x-api-key'], KEY)
  t.equal(got.headers['content-type'], 'application/json')
  t.notOk('idempotency-key' in got.headers, 'no key, no header')
  const body = got.body as any
  t.same(Object.keys(body).sort(), ['baseUrl', 'merchantAccount', 'merchantReference', 'request', 'shopperReference', 'storedPaymentMethodId'])
  t.equal(body.merchantReference, CORRELATION_ID, 'the correlation id, as Adyen\'s merchantReference')
  t.equal(body.merchantAccount, MERCHANT)
  t.equal(body.shopperReference, SHOPPER)
  t.equal(body.storedPaymentMethodId, VISA_ID)
  t.equal(body.baseUrl, new URL(destination.url).origin)
  t.equal(body.request.urlSuffix, '/v1/cards/tokenize?v=2')
  t.equal(body.request.httpMethod, 'post')
  t.same(body.request.headers, { 'x-rokt-api-key': ROKT_KEY, 'Content-Type': 'application/json; charset=utf-8' }, 'no second content-type')
  t.type(body.request.body, 'string')
  t.same(JSON.parse(body.request.body), {
    card: { number: '{{number}}', exp_month: '{{expiryMonth}}', exp_year: '{{expiryYear}}', name: '{{holderName}}', cvc: '' },
    billing_address: { line1: '', line2: '', city: '', state: '', postal_code: '', country: '' }
  }, 'no vault address: empty billing values')
  t.equal(destination.received[0].path, '/v1/cards/tokenize?v=2')
})

t.test('a card-only template is rendered once; forward prepares a destination it has not seen', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const adapter = adapterFor(t, sim.url)
  const template = { pan: '{{card.number}}', holder: '{{card.holderName}}', meta: { n: 1, ok: true, none: null, list: ['x', '{{card.expMonth}}'] } }
  const dest = prepared(destination.url, template)
  const first = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: dest })
  const second = await adapter.forward({ correlationId: CORRELATION_ID, record: record({ billingAddress: { line1: 'ignored' } }), destination: dest })
  t.equal(first.status, 200)
  t.equal(second.status, 200)
  t.same((sim.requests[0].body as any).request.body, (sim.requests[1].body as any).request.body)
  t.same(destination.received[1].body, { pan: TEST_CARDS.visa.number, holder: 'Jenny Rosen', meta: { n: 1, ok: true, none: null, list: ['x', '12'] } })
})

t.test('vault values with quotes, backslashes or braces reach the destination exactly', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const adapter = adapterFor(t, sim.url)
  const dest = prepared(destination.url, { street: '{{billing.line1}}', city: '{{billing.city}}' })
  adapter.prepareDestination?.(dest)
  await adapter.forward({ correlationId: CORRELATION_ID, record: record({ billingAddress: { line1: '5 "Quoted" \\ Rd', city: '{{number}} {x}' } }), destination: dest })
  t.same(destination.received[0].body, { street: '5 "Quoted" \\ Rd', city: '{{number}} {x}' }, 'the destination gets the exact vault values')
  const sent = (sim.requests[0].body as any).request.body as string
  t.notOk(sent.includes('{{number}}'), 'a placeholder-looking vault value is not a placeholder to Adyen')
  t.ok(sent.includes('\\u007b\\u007bnumber\\u007d\\u007d \\u007bx\\u007d'), 'braces travel as JSON escapes')
})

t.test('a destination 4xx or a text answer is relayed as a success result', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const adapter = adapterFor(t, sim.url)
  const dest = prepared(destination.url)
  adapter.prepareDestination?.(dest)

  destination.setResponse({ status: 422, headers: { 'x-trace': 'abc' }, body: { error: 'invalid_card' } })
  const declined = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: dest })
  t.equal(declined.status, 422)
  t.equal(declined.headers['x-trace'], 'abc')
  t.same(declined.body, { error: 'invalid_card' })

  destination.setResponse({ status: 503, headers: { 'content-type': 'text/plain' }, body: 'try later' })
  const text = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: dest })
  t.equal(text.status, 503)
  t.equal(text.body, 'try later', 'non-JSON stays a string')
})

t.test('Idempotency-Key goes to Adyen, which replays the first forward', async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const adapter = adapterFor(t, sim.url)
  const dest = prepared(destination.url)
  adapter.prepareDestination?.(dest)
  const key = 'a'.repeat(64)
  const a = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: dest, idempotencyKey: key })
  const b = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: dest, idempotencyKey: key })
  t.equal(sim.requests[0].headers['idempotency-key'], key)
  t.equal(sim.requests[1].headers['idempotency-key'], key)
  t.same(b.pspBody, a.pspBody, 'the same CheckoutForwardResponse')
  t.equal(destination.received.length, 1, 'the card went out once')
})

t.test("Adyen's error object becomes a PspError with the errorCode and no secret", async t => {
  const destination = await startDestination(t)
  const sim = await startSim(t)
  const dest = prepared(destination.url)
  const cases: Array<[string, Parameters<typeof adapterFor>[2], Partial<Record>, string]> = [
    ['bad key', { apiKey: 'not_the_key_0123456789' }, {}, '000'],
    ['unknown merchant', { merchantAccount: 'OtherMerchant' }, {}, '901'],
    ['unknown shopper', {}, { shopperReference: 'nobody-here' }, '800'],
    ['token of another shopper', {}, { storedPaymentMethodId: 'H8C3RW6JT1NZ5QKA' }, '803']
  ]
  for (const [name, options, rec, code] of cases) {
    const adapter = adapterFor(t, sim.url, options)
    const err = await adapter.forward({ correlationId: CORRELATION_ID, record: record(rec), destination: dest }).then(() => null, (e: any) => e)
    t.test(name, async t => {
      t.equal(err.code, 'CARD_FORWARDING_PSP_ERROR')
      t.equal(err.statusCode, 502)
      t.equal(err.message, `adyen forward failed: ${code}`)
      t.equal(err.outcome, undefined, 'a 4xx refusal: nothing was forwarded')
      t.notOk(err.message.includes(options?.apiKey ?? KEY))
    })
  }
  t.equal(destination.received.length, 0)
})

t.test('answers that are not a CheckoutForwardResponse are PSP errors', async t => {
  const answers: Array<[string, { status: number, body: string }, string]> = [
    ['200 without response', { status: 200, body: '{"pspReference":"X"}' }, 'invalid_response'],
    ['response.status not an integer', { status: 200, body: '{"response":{"status":"200","body":""}}' }, 'invalid_response'],
    ['response null', { status: 200, body: '{"response":null}' }, 'invalid_response'],
    ['not JSON', { status: 200, body: '<html>' }, 'invalid_response'],
    ['error code with free text', { status: 500, body: '{"status":500,"errorCode":"see x-api-key sandbox_adyen_api_key"}' }, 'unknown'],
    ['3xx', { status: 302, body: '{}' }, 'http_302'],
    ['error without an object', { status: 500, body: 'null' }, 'http_500']
  ]
  const destination = prepared('https://rokt.example/v1/cards')
  for (const [name, answer, code] of answers) {
    const psp = await fakePsp(t, () => answer)
    const adapter = adapterFor(t, psp.url)
    const err = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination }).then(() => null, (e: any) => e)
    t.test(name, async t => {
      t.equal(err?.code, 'CARD_FORWARDING_PSP_ERROR')
      t.equal(err.message, `adyen forward failed: ${code}`)
      t.equal(err.outcome, 'unknown', 'not a refusal: Adyen may have forwarded the card')
      t.notOk(err.message.includes(KEY))
    })
  }

  const ok = await fakePsp(t, () => ({ status: 200, body: '{"response":{"status":204}}' }))
  const minimal = await adapterFor(t, ok.url).forward({ correlationId: CORRELATION_ID, record: record(), destination })
  t.same({ status: minimal.status, headers: minimal.headers, body: minimal.body }, { status: 204, headers: {}, body: null }, 'headers and body are optional in CheckoutForwardResponseFromUrl')
})

t.test('Adyen too slow: PspTimeoutError (504); unreachable: PspError (502)', async t => {
  const slow = await fakePsp(t, () => null)
  const adapter = adapterFor(t, slow.url, { timeouts: { headersMs: 150 } })
  const err = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared('https://rokt.example/v1') }).then(() => null, (e: any) => e)
  t.equal(err?.code, 'CARD_FORWARDING_PSP_TIMEOUT')
  t.equal(err.statusCode, 504)
  t.equal(err.message, 'adyen did not answer in time')

  const closed = http.createServer()
  closed.listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const port = (closed.address() as AddressInfo).port
  await new Promise(resolve => closed.close(resolve))
  const refused = await adapterFor(t, `http://127.0.0.1:${port}`).forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared('https://rokt.example/v1') }).then(() => null, (e: any) => e)
  t.equal(refused?.code, 'CARD_FORWARDING_PSP_ERROR')
  t.equal(refused.message, 'adyen forward failed: connection_refused')
})

t.test('a vault address that pushes the body past 20000 characters is refused before calling Adyen', async t => {
  const sim = await startSim(t)
  const adapter = adapterFor(t, sim.url)
  const filler = 'x'.repeat(ADYEN_MAX_BODY - 200)
  const dest = prepared('https://rokt.example/v1', { filler, line1: '{{billing.line1}}', pan: '{{card.number}}' })
  adapter.prepareDestination?.(dest)
  const fine = await adapter.forward({ correlationId: CORRELATION_ID, record: record({ billingAddress: { line1: 'short' } }), destination: dest }).then(() => 'sent', (e: any) => e.message)
  t.not(fine, 'adyen forward failed: request_body_too_long', 'within the limit it is sent')
  t.equal(sim.calls, 1)
  const err = await adapter.forward({ correlationId: CORRELATION_ID, record: record({ billingAddress: { line1: 'y'.repeat(300) } }), destination: dest }).then(() => null, (e: any) => e)
  t.equal(err?.code, 'CARD_FORWARDING_PSP_ERROR')
  t.equal(err.message, 'adyen forward failed: request_body_too_long')
  t.equal(sim.calls, 1, 'nothing more reached Adyen')
})

t.test('registration: options and destinations are checked up front', async t => {
  const good = { apiKey: KEY, merchantAccount: MERCHANT, environment: 'test' as const }
  const bad: Array<[unknown, RegExp]> = [
    [null, /^adyen: options are required$/],
    [{ ...good, apiKey: undefined }, /^adyen: apiKey is required \(an API key of your Checkout API credential\)$/],
    [{ ...good, apiKey: 'has space' }, /^adyen: apiKey must be printable ASCII without spaces, as the Customer Area shows it$/],
    [{ ...good, credentialsHeader: '' }, /^adyen: credentialsHeader must be the name of a destination header$/],
    [{ ...good, merchantAccount: '' }, /^adyen: merchantAccount is required$/],
    [{ ...good, merchantAccount: 7 }, /^adyen: merchantAccount is required$/],
    [{ ...good, environment: 'prod' }, /^adyen: environment must be 'test' or 'live'$/],
    [{ ...good, environment: 'live' }, /^adyen: liveUrlPrefix is required for the live environment$/],
    [{ ...good, environment: 'live', liveUrlPrefix: 'bad.prefix/x' }, /^adyen: liveUrlPrefix must be/],
    [{ ...good, liveUrlPrefix: 42 }, /^adyen: liveUrlPrefix must be/],
    [{ ...good, baseUrl: 'http://checkout-test.adyen.com' }, /^adyen: baseUrl must be an https URL/],
    [{ ...good, baseUrl: 'not a url' }, /^adyen: baseUrl must be an https URL/]
  ]
  for (const [options, message] of bad) {
    t.throws(() => adyen(options as any), message)
  }
  const secret = 'super_secret_adyen_key_123'
  const err = (() => { try { adyen({ ...good, apiKey: secret, environment: 'nope' as any }) } catch (e: any) { return e } })()
  t.notOk(err.message.includes(secret), 'the message names the option, never its value')

  const adapter = adyen({ ...good, environment: 'live', liveUrlPrefix: 'abc', baseUrl: 'http://localhost:1' })
  t.equal(adapter.name, 'adyen')
  await adapter.close?.()

  const a = adapterFor(t, 'http://127.0.0.1:1')
  t.throws(() => a.prepareDestination?.(prepared('https://rokt.example/v1', { filler: 'x'.repeat(ADYEN_MAX_BODY) })),
    /^adyen: the body for destination COM\.ROKT\.CATALOG is 20013 characters; Adyen accepts at most 20000$/)
  t.throws(() => a.prepareDestination?.({ ...prepared('https://rokt.example/v1'), url: 'not a url' }), /^adyen: destination COM\.ROKT\.CATALOG has an invalid url$/)
  const odd = { ...prepared('https://rokt.example/v1'), slots: [{ path: ['pin'], token: 'card.pin' as any }] }
  t.throws(() => a.prepareDestination?.(odd), /^adyen: cannot fill \{\{card\.pin\}\} for destination COM\.ROKT\.CATALOG$/)
  t.doesNotThrow(() => a.prepareDestination?.(prepared('https://rokt.example/v1', { cvc: '{{card.cvc}}' })), 'card.cvc never fails registration')
})

t.test('test and live hosts, and a partner dispatcher', async t => {
  const mock = new MockAgent()
  mock.disableNetConnect()
  t.teardown(() => mock.close())
  const answer = JSON.stringify({ storedPaymentMethodId: VISA_ID, pspReference: 'P', response: { status: 200, headers: {}, body: '' } })
  mock.get('https://checkout-test.adyen.com').intercept({ path: '/v71/forward', method: 'POST' }).reply(200, answer)
  mock.get('https://acme-checkout-live.adyenpayments.com').intercept({ path: '/checkout/v71/forward', method: 'POST' }).reply(200, answer)
  const dest = prepared('https://rokt.example/v1')

  const test = adyen({ apiKey: KEY, merchantAccount: MERCHANT, environment: 'test', dispatcher: mock })
  t.equal((await test.forward({ correlationId: CORRELATION_ID, record: record(), destination: dest })).status, 200, 'https://checkout-test.adyen.com/v71/forward')
  const live = adyen({ apiKey: KEY, merchantAccount: MERCHANT, environment: 'live', liveUrlPrefix: 'acme', dispatcher: mock })
  t.equal((await live.forward({ correlationId: CORRELATION_ID, record: record(), destination: dest })).status, 200, 'https://acme-checkout-live.adyenpayments.com/checkout/v71/forward')
  await test.close?.()
  await live.close?.()
  mock.assertNoPendingInterceptors()
})

t.test('isRecord: plain, bounded storedPaymentMethodId and shopperReference', async t => {
  const adapter = adapterFor(t, 'http://127.0.0.1:1')
  const is = (r: object) => adapter.isRecord({ psp: 'adyen', ...r } as any)
  t.ok(is({ storedPaymentMethodId: VISA_ID, shopperReference: SHOPPER }))
  t.ok(is({ storedPaymentMethodId: 'A'.repeat(64), shopperReference: 'abc' }))
  t.ok(is({ storedPaymentMethodId: '8415736344108917', shopperReference: 'x'.repeat(256) }))
  t.notOk(is({ storedPaymentMethodId: 'A'.repeat(65), shopperReference: SHOPPER }))
  t.notOk(is({ storedPaymentMethodId: '', shopperReference: SHOPPER }))
  t.notOk(is({ storedPaymentMethodId: 'M5N7-TQ4', shopperReference: SHOPPER }))
  t.notOk(is({ storedPaymentMethodId: 1234, shopperReference: SHOPPER }))
  t.notOk(is({ shopperReference: SHOPPER }))
  t.notOk(is({ storedPaymentMethodId: VISA_ID, shopperReference: 'ab' }))
  t.notOk(is({ storedPaymentMethodId: VISA_ID, shopperReference: 'x'.repeat(257) }))
  t.notOk(is({ storedPaymentMethodId: VISA_ID, shopperReference: 'abc\ndef' }))
  t.notOk(is({ storedPaymentMethodId: VISA_ID, shopperReference: ['abc'] }))
  t.notOk(is({ storedPaymentMethodId: VISA_ID }))
})

// ---------------------------------------------------------------------------------------------
// The official SDK (@adyen/api-library v31, Checkout API v71) as the reference for the wire request.

/** A throwaway self-signed P-256 certificate for 127.0.0.1, built with node:crypto (no openssl needed). */
function selfSignedCertificate (): { key: string, cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const der = (tag: number, content: Buffer): Buffer => {
    const n = content.length
    const len = n < 128 ? Buffer.from([n]) : n < 256 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
    return Buffer.concat([Buffer.from([tag]), len, content])
  }
  const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts))
  const oid = (hex: string) => der(0x06, Buffer.from(hex, 'hex'))
  const ecdsaWithSha256 = seq(oid('2a8648ce3d040302'))
  const name = seq(der(0x31, seq(oid('550403'), der(0x0c, Buffer.from('127.0.0.1')))))
  const validity = seq(der(0x17, Buffer.from('250101000000Z')), der(0x17, Buffer.from('491231235959Z')))
  const tbs = seq(der(0xa0, der(0x02, Buffer.from([2]))), der(0x02, Buffer.from([1])), ecdsaWithSha256, name, validity, name,
    publicKey.export({ type: 'spki', format: 'der' }))
  const signature = sign('sha256', tbs, privateKey)
  const certificate = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])))
  const pem = certificate.toString('base64').match(/.{1,64}/g)?.join('\n')
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: `-----BEGIN CERTIFICATE-----\n${pem}\n-----END CERTIFICATE-----\n` }
}

const CANNED = {
  storedPaymentMethodId: VISA_ID,
  pspReference: 'QFQTPCQ8HXSKGK82',
  response: { status: 201, headers: { 'content-type': 'application/json' }, body: '{"token":"rokt_tok_1"}' }
}

/** Names of the headers that carry meaning to Adyen (the SDK also sends user-agent, cache-control and its own name/version). */
function meaningful (headers: http.IncomingHttpHeaders) {
  return { 'x-api-key': headers['x-api-key'], 'content-type': headers['content-type'], 'idempotency-key': headers['idempotency-key'] }
}

function jsonType (value: unknown): string {
  return typeof value
}

/** Checks a JSON value against the SDK's own attribute type maps: known fields only, right types, enum values. */
function conformance (value: unknown, type: string, path: string): string[] {
  const models = Types.checkout as unknown as { [name: string]: any }
  type = type.replace(/ \| null$/, '')
  if (['string', 'boolean', 'number'].includes(type)) return jsonType(value) === type ? [] : [`${path}: not a ${type}`]
  if (type.startsWith('{ [key: string]: ')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return [`${path}: not a map`]
    return Object.entries(value).flatMap(([k, v]) => conformance(v, type.slice('{ [key: string]: '.length, -'; }'.length), `${path}.${k}`))
  }
  if (type.includes('.')) {
    const [model, enumName] = type.split('.')
    return Object.values(models[model][enumName]).includes(value) ? [] : [`${path}: not one of ${type}`]
  }
  if (value === null || typeof value !== 'object') return [`${path}: not a ${type}`]
  const attributes: Array<{ name: string, baseName: string, type: string }> = models[type].getAttributeTypeMap()
  const problems = Object.keys(value).filter(k => !attributes.some(a => a.baseName === k)).map(k => `${path}.${k}: unknown to ${type}`)
  for (const a of attributes) {
    const v = (value as { [k: string]: unknown })[a.baseName]
    if (v !== undefined) problems.push(...conformance(v, a.type, `${path}.${a.baseName}`))
  }
  return problems
}

t.test('SDK equivalence: RecurringApi.forward and our adapter send the same request', async t => {
  const captured: Captured[] = []
  const handler = captureHandler(captured, () => ({ status: 200, body: JSON.stringify(CANNED) }))
  const sdkUrl = await serve(t, https.createServer(selfSignedCertificate(), handler), 'https')
  const ourUrl = await serve(t, http.createServer(handler), 'http')
  const destinationUrl = 'https://pci.rokt.example/v1/cards/tokenize?mode=vault'
  const idempotencyKey = '37ca9c97-d1d1-4c62-89e8-706891a563ed'

  // The SDK, configured as a partner would (TEST environment, API key), with its endpoint pointed at loopback.
  // `certificatePath: 'unencrypted'` is the SDK's own switch for an untrusted certificate.
  const client = new Client({ apiKey: KEY, environment: EnvironmentEnum.TEST, certificatePath: 'unencrypted' })
  const recurring = new CheckoutAPI(client).RecurringApi
  t.equal((recurring as unknown as { baseUrl: string }).baseUrl, 'https://checkout-test.adyen.com/v71', 'the SDK targets v71')
  ;(recurring as unknown as { baseUrl: string }).baseUrl = `${sdkUrl}/v71`
  // What a partner would write by hand for the default template (Adyen's placeholders inside a JSON string).
  const sdkRequest: adyenLib.Types.checkout.CheckoutForwardRequest = {
    merchantAccount: MERCHANT,
    merchantReference: CORRELATION_ID,
    shopperReference: SHOPPER,
    storedPaymentMethodId: VISA_ID,
    baseUrl: 'https://pci.rokt.example',
    request: {
      httpMethod: Types.checkout.CheckoutOutgoingForwardRequest.HttpMethodEnum.Post,
      urlSuffix: '/v1/cards/tokenize?mode=vault',
      headers: { 'x-rokt-api-key': ROKT_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({
        card: { number: '{{number}}', exp_month: '{{expiryMonth}}', exp_year: '{{expiryYear}}', name: '{{holderName}}', cvc: '' },
        billing_address: { line1: '1 Vault Way', line2: '', city: 'Springfield', state: 'OR', postal_code: '97403', country: 'US' }
      })
    }
  }
  const sdkResponse = await recurring.forward(sdkRequest, { idempotencyKey })

  const adapter = adapterFor(t, ourUrl)
  const ours = await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared(destinationUrl), idempotencyKey })

  t.equal(captured.length, 2)
  const [sdk, our] = captured
  t.equal(our.method, sdk.method)
  t.equal(our.url, sdk.url, 'same path: /v71/forward')
  t.equal(sdk.url, '/v71/forward')
  t.same(meaningful(our.headers), meaningful(sdk.headers), 'same X-API-Key, Content-Type, Idempotency-Key')
  t.same(meaningful(sdk.headers), { 'x-api-key': KEY, 'content-type': 'application/json', 'idempotency-key': idempotencyKey })
  t.same(JSON.parse(our.body), JSON.parse(sdk.body), 'the same JSON body')

  t.equal(ours.status, sdkResponse.response.status)
  t.same(ours.headers, sdkResponse.response.headers)
  t.same(ours.body, JSON.parse(sdkResponse.response.body as string))
  t.same(ours.pspBody, CANNED)

  t.test('the SDK request is accepted by our simulator too', async t => {
    const destination = await startDestination(t)
    const sim = await startSim(t)
    const body = JSON.parse(sdk.body)
    body.baseUrl = destination.baseUrl
    body.request.urlSuffix = '/v1/cards/tokenize'
    const res = await fetch(sim.url + sdk.url, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    t.equal(res.status, 200)
    t.equal((destination.received[0].body as any).card.number, TEST_CARDS.visa.number)
  })
})

t.test("our request body round-trips through the SDK's CheckoutForwardRequest model", async t => {
  const captured: Captured[] = []
  const psp = await serve(t, http.createServer(captureHandler(captured, () => ({ status: 200, body: JSON.stringify(CANNED) }))), 'http')
  const adapter = adapterFor(t, psp)
  await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared('https://pci.rokt.example/v1/cards'), idempotencyKey: 'k1' })
  await adapter.forward({ correlationId: CORRELATION_ID, record: record({ billingAddress: undefined }), destination: prepared('https://pci.rokt.example/x', { pan: '{{card.number}}' }, {}, 'OTHER') })

  for (const c of captured) {
    const body = JSON.parse(c.body)
    const roundTrip = JSON.parse(JSON.stringify(ObjectSerializer.serialize(body, 'CheckoutForwardRequest')))
    t.same(roundTrip, body, 'nothing dropped: no field unknown to the model')
    t.same(conformance(body, 'CheckoutForwardRequest', 'body'), [], 'every field has the type the model declares')
  }

  t.test('the check has teeth', async t => {
    const body = JSON.parse(captured[0].body)
    const withExtra = { ...body, cvc: '123' }
    t.not(JSON.stringify(ObjectSerializer.serialize(withExtra, 'CheckoutForwardRequest')), JSON.stringify(withExtra), 'an unknown field is dropped by the serializer')
    t.same(conformance({ ...body, request: { ...body.request, httpMethod: 'POST' } }, 'CheckoutForwardRequest', 'body'), ['body.request.httpMethod: not one of CheckoutOutgoingForwardRequest.HttpMethodEnum'])
    t.same(conformance({ ...body, request: { ...body.request, body: { a: 1 } } }, 'CheckoutForwardRequest', 'body'), ['body.request.body: not a string'])
    t.same(conformance({ ...body, request: { ...body.request, headers: { a: 1 } } }, 'CheckoutForwardRequest', 'body'), ['body.request.headers.a: not a string'])
    t.same(conformance({ ...body, request: { ...body.request, headers: [] } }, 'CheckoutForwardRequest', 'body'), ['body.request.headers: not a map'])
    t.same(conformance({ ...body, request: 'x' }, 'CheckoutForwardRequest', 'body'), ['body.request: not a CheckoutOutgoingForwardRequest'])
    t.same(conformance({ ...body, extra: 1 }, 'CheckoutForwardRequest', 'body'), ['body.extra: unknown to CheckoutForwardRequest'])
  })
})

t.test('our own TLS for the capture server is not needed by the adapter: it refuses untrusted https', async t => {
  const psp = await serve(t, https.createServer(selfSignedCertificate(), captureHandler([], () => ({ status: 200, body: '{}' }))), 'https')
  const strict = adapterFor(t, psp)
  const err = await strict.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared('https://rokt.example/v1') }).then(() => null, (e: any) => e)
  t.equal(err?.message, 'adyen forward failed: tls_failed', 'a self-signed PSP certificate is refused')
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } })
  t.teardown(() => dispatcher.close())
  const trusting = adapterFor(t, psp, { dispatcher })
  const res = await trusting.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared('https://rokt.example/v1') }).then(() => null, (e: any) => e)
  t.equal(res?.message, 'adyen forward failed: invalid_response', "a partner's dispatcher is used as given")
})

t.test('credentialsHeader: the destination key travels as request.credentials, the header as {{credentials}}', async t => {
  const captured: Captured[] = []
  const psp = await serve(t, http.createServer(captureHandler(captured, () => ({ status: 200, body: JSON.stringify(CANNED) }))), 'http')
  const adapter = adapterFor(t, psp, { credentialsHeader: 'X-Rokt-Api-Key' })
  await adapter.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared('https://pci.rokt.example/v1/cards', DEFAULT_TEMPLATE, { 'x-rokt-api-key': ROKT_KEY, 'x-trace': 't1' }) })
  const body = JSON.parse(captured[0].body)
  t.equal(body.request.credentials, ROKT_KEY)
  t.same(body.request.headers, { 'x-rokt-api-key': '{{credentials}}', 'x-trace': 't1', 'content-type': 'application/json' }, 'the one header holds the placeholder; the others are as configured')
  t.same(conformance(body, 'CheckoutForwardRequest', 'body'), [], 'credentials as the SDK model types it')
  t.same(JSON.parse(JSON.stringify(ObjectSerializer.serialize(body, 'CheckoutForwardRequest'))), body, 'and the SDK would send the same')

  const destination = await startDestination(t)
  const sim = await startSim(t)
  const viaSim = adapterFor(t, sim.url, { credentialsHeader: 'x-rokt-api-key' })
  const res = await viaSim.forward({ correlationId: CORRELATION_ID, record: record(), destination: prepared(destination.url) })
  t.equal(res.status, 200, 'Adyen puts the credentials back into the header: the destination accepts the request')
  t.equal(destination.received[0].headers['x-rokt-api-key'], ROKT_KEY)
  t.notMatch(JSON.stringify((sim.requests[0].body as any).request.headers), ROKT_KEY, 'the headers Adyen receives hold only the placeholder')

  t.throws(() => viaSim.prepareDestination?.(prepared(destination.url, DEFAULT_TEMPLATE, { authorization: 'Bearer x' }, 'OTHER')),
    { message: 'adyen: destination OTHER has no header x-rokt-api-key (credentialsHeader)' })
})

t.test("the vault's cardholderName is written by the adapter, exact whether Adyen escapes what it substitutes or not", async t => {
  const name = TEST_CARDS.quotedName.holderName
  for (const substitution of ['json-escaped', 'raw'] as const) {
    const destination = await startDestination(t)
    const sim = await startSim(t, { substitution })
    const adapter = adapterFor(t, sim.url)
    const quoted = { psp: 'adyen', storedPaymentMethodId: 'Q7UOTEDNAME0001A', shopperReference: 'sandbox-shopper-0002' }
    const res = await adapter.forward({ correlationId: CORRELATION_ID, record: { ...quoted, cardholderName: name, billingAddress: TEST_CARDS.quotedName.billing }, destination: prepared(destination.url) })
    t.equal(res.status, 200, `${substitution}: the destination parsed the body`)
    const sent = destination.received[0].body as any
    t.equal(sent.card.name, name, `${substitution}: the exact name`)
    t.equal(sent.billing_address.line1, TEST_CARDS.quotedName.billing.line1, `${substitution}: the exact billing line`)
    t.equal(sent.card.number, TEST_CARDS.quotedName.number)

    // Without a cardholderName in the record, Adyen's {{holderName}} fills the name: what Adyen does then decides.
    await adapter.forward({ correlationId: CORRELATION_ID, record: quoted, destination: prepared(destination.url) })
    const second = destination.received[1]
    if (substitution === 'json-escaped') t.equal((second.body as any).card.name, name, 'escaped: the exact name')
    else t.type(second.body, 'string', 'raw: a quote in the name breaks the JSON, which is why the vault\'s name is used when there is one')
  }
})

t.test('reconcile: Adyen has no lookup; the answer says what can tell', async t => {
  const adapter = adapterFor(t, 'http://127.0.0.1:1')
  const result = await adapter.reconcile?.(CORRELATION_ID)
  t.equal(result?.outcome, 'cannot_tell')
  t.match((result as any).how, /forwardApi\.notification webhook .* merchantReference rcf_0123456789abcdef0123456789abcdef/)
})
