import t, { type Test } from 'tap'
import Fastify from 'fastify'
import Stripe from 'stripe'
import { stripe } from '../index.ts'
import { listen } from '../lib/sandbox/server.ts'
import { DEFAULT_TEMPLATE, parseTemplate } from '../lib/template.ts'
import type { PreparedDestination } from '../types/index.ts'

interface Captured { path: string, headers: Record<string, string | string[] | undefined>, params: Array<[string, string]> }

/** Records every request and answers with a minimal ForwardingRequest. */
async function captureServer (t: Test) {
  const captured: Captured[] = []
  const app = Fastify()
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_r, body, done) => { done(null, body) })
  app.post('/v1/forwarding/requests', async (request) => {
    captured.push({ path: request.url, headers: request.headers, params: [...new URLSearchParams(request.body as string)] })
    return { id: 'fwdreq_1', object: 'forwarding.request', response_details: { status: 200, headers: [{ name: 'Content-Type', value: 'application/json' }], body: '{"ok":true}' }, request_context: { destination_duration: 12 } }
  })
  const server = await listen(app)
  t.teardown(() => server.close())
  return { url: server.url, port: Number(new URL(server.url).port), captured }
}

function destination (body = DEFAULT_TEMPLATE): PreparedDestination {
  return { id: 'COM.ROKT.CATALOG', url: 'https://rokt.example/v1/cards', headers: { 'X-Rokt-Api-Key': 'rk_dest', 'X-Trace': 't1' }, template: body, slots: parseTemplate(body, 'test') }
}

const record = { psp: 'stripe', paymentMethod: 'pm_card_visa', billingAddress: { line1: '1 Main St', city: 'Austin', state: 'TX', postalCode: '78701', country: 'US' } }

t.test('our adapter sends the parameters the official stripe SDK sends for forwarding.requests.create', async t => {
  const capture = await captureServer(t)
  const adapter = stripe({ apiKey: 'sk_test_equivalence', baseUrl: capture.url })
  t.teardown(() => adapter.close?.())
  const dest = destination()
  adapter.prepareDestination?.(dest)
  const result = await adapter.forward({ record, destination: dest, idempotencyKey: 'idem-123' })
  t.same(result, { status: 200, headers: { 'content-type': 'application/json' }, body: { ok: true }, requestTime: 12, pspBody: result.pspBody })

  const ours = capture.captured[0]
  const sdk = new Stripe('sk_test_equivalence', { host: '127.0.0.1', port: capture.port, protocol: 'http', maxNetworkRetries: 0 })
  const body = Object.fromEntries(ours.params)['request[body]']
  await sdk.forwarding.requests.create({
    payment_method: 'pm_card_visa',
    url: 'https://rokt.example/v1/cards',
    replacements: ['card_number', 'card_expiry', 'cardholder_name', 'card_cvc'],
    request: { headers: [{ name: 'X-Rokt-Api-Key', value: 'rk_dest' }, { name: 'X-Trace', value: 't1' }], body }
  }, { idempotencyKey: 'idem-123' })
  const theirs = capture.captured[1]

  t.equal(ours.path, theirs.path)
  t.same(new Map(ours.params), new Map(theirs.params), 'the same decoded parameters')
  t.equal(ours.headers['content-type'], theirs.headers['content-type'])
  t.equal(ours.headers.authorization, theirs.headers.authorization)
  t.equal(ours.headers['idempotency-key'], theirs.headers['idempotency-key'])
  t.same(JSON.parse(body), {
    card: { number: '', exp_month: '', exp_year: '', name: '', cvc: '' },
    billing_address: { line1: '1 Main St', line2: '', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }
  }, 'card fields empty, billing from the vault record')
})

t.test('replacements follow the template: only the card tokens it uses', async t => {
  const capture = await captureServer(t)
  const adapter = stripe({ apiKey: 'rk_live_restricted', baseUrl: capture.url })
  t.teardown(() => adapter.close?.())
  const dest = destination({ pan: '{{card.number}}', month: '{{card.expMonth}}', year: '{{card.expYear}}', fixed: 'yes' })
  adapter.prepareDestination?.(dest)
  await adapter.forward({ record: { psp: 'stripe', paymentMethod: 'pm_x' }, destination: dest })
  const params = capture.captured[0].params
  t.same(params.filter(([k]) => k.startsWith('replacements')), [['replacements[0]', 'card_number'], ['replacements[1]', 'card_expiry']])
  t.same(JSON.parse(Object.fromEntries(params)['request[body]']), { pan: '', month: '', year: '', fixed: 'yes' })
  t.equal(capture.captured[0].headers['idempotency-key'], undefined, 'no key unless Rokt sent one')
  t.equal(capture.captured[0].headers.authorization, 'Bearer rk_live_restricted')
})

t.test('request-time falls back to the local measure when Stripe gives none; a bad envelope is a 502', async t => {
  const app = Fastify()
  let answer: unknown = { response_details: { status: 201, headers: [], body: 'done' } }
  app.addContentTypeParser('application/x-www-form-urlencoded', (_r, _p, done) => { done(null, null) })
  app.post('/v1/forwarding/requests', async () => answer)
  const server = await listen(app)
  t.teardown(() => server.close())
  const adapter = stripe({ apiKey: 'sk_test_fallback', baseUrl: server.url })
  t.teardown(() => adapter.close?.())
  const dest = destination({ n: '{{card.number}}' })
  adapter.prepareDestination?.(dest)
  const ok = await adapter.forward({ record: { psp: 'stripe', paymentMethod: 'pm_x' }, destination: dest })
  t.equal(ok.status, 201)
  t.equal(ok.body, 'done')
  t.type(ok.requestTime, 'number')
  answer = { object: 'forwarding.request' }
  await t.rejects(adapter.forward({ record: { psp: 'stripe', paymentMethod: 'pm_x' }, destination: dest }), { code: 'CARD_FORWARDING_PSP_ERROR', message: 'stripe forward failed: invalid_response' })
})

t.test('options are checked at construction, naming the option and never echoing the key', async t => {
  t.throws(() => stripe({ apiKey: 'pk_test_publishable' }), { message: 'stripe: apiKey must be a Stripe secret (sk_) or restricted (rk_) key' })
  t.throws(() => stripe(null as any), /apiKey/)
  t.throws(() => stripe({ apiKey: 'sk_test_abcd', baseUrl: 'http://api.stripe.com' }), { message: 'stripe: baseUrl must be an https URL (or http on a loopback address)' })
  t.throws(() => stripe({ apiKey: 'sk_test_abcd', baseUrl: 'not a url' }), { message: 'stripe: baseUrl must be an https URL (or http on a loopback address)' }, 'no raw TypeError')
  const adapter = stripe({ apiKey: 'sk_test_abcd' })
  t.equal(adapter.name, 'stripe')
  t.ok(adapter.isRecord({ psp: 'stripe', paymentMethod: 'pm_123' }))
  t.notOk(adapter.isRecord({ psp: 'stripe', paymentMethod: 'card_123' }))
  t.notOk(adapter.isRecord({ psp: 'stripe' }))
  await adapter.close?.()
})

t.test("Stripe's error envelope: the code, else the type, else 'unknown'", async t => {
  const app = Fastify()
  let answer: { status: number, body: unknown } = { status: 400, body: {} }
  app.addContentTypeParser('application/x-www-form-urlencoded', (_r, _p, done) => { done(null, null) })
  app.post('/v1/forwarding/requests', async (_request, reply) => reply.code(answer.status).send(answer.body))
  app.get('/v1/payment_methods/:id', async (_request, reply) => reply.code(answer.status).send(answer.body))
  const server = await listen(app)
  t.teardown(() => server.close())
  const adapter = stripe({ apiKey: 'sk_test_envelope', baseUrl: server.url })
  t.teardown(() => adapter.close?.())
  const dest = destination()
  adapter.prepareDestination?.(dest)
  const cases: Array<[number, unknown, string]> = [
    [400, { error: { type: 'invalid_request_error', code: 'forwarding_api_inactive' } }, 'forwarding_api_inactive'],
    [500, { error: { type: 'api_error' } }, 'api_error'],
    [500, {}, 'unknown'],
    [402, { error: { code: 'a message with spaces and sk_live_secret' } }, 'unknown']
  ]
  for (const [status, body, code] of cases) {
    answer = { status, body }
    // Stripe asks to treat a 5xx from the forward as indeterminate; a 5xx from the lookup forwarded nothing.
    const outcome = status >= 500 ? 'unknown' : undefined
    await t.rejects(adapter.forward({ record: { psp: 'stripe', paymentMethod: 'pm_x', billingAddress: {} }, destination: dest }), { statusCode: 502, message: `stripe forward failed: ${code}`, outcome })
    const lookup = await adapter.forward({ record: { psp: 'stripe', paymentMethod: 'pm_x' }, destination: dest }).then(() => null, (e: any) => e)
    t.match(lookup, { statusCode: 502, message: `stripe forward failed: ${code}` }, 'the billing lookup maps errors the same way')
    t.equal(lookup.outcome, undefined, 'and a lookup error is never unknown')
  }
})

t.test('the billing lookup obeys the abort signal, and a lookup that fails mid-way forwarded nothing', async t => {
  const app = Fastify()
  app.get('/v1/payment_methods/:id', async () => await new Promise(() => {}))
  const server = await listen(app)
  t.teardown(async () => { await app.close() })
  const adapter = stripe({ apiKey: 'sk_test_lookup', baseUrl: server.url, circuitBreaker: false, timeouts: { headersMs: 5000 } })
  t.teardown(() => adapter.close?.())
  const dest = destination()
  adapter.prepareDestination?.(dest)
  const abort = new AbortController()
  setTimeout(() => { abort.abort() }, 50)
  const err: any = await adapter.forward({ record: { psp: 'stripe', paymentMethod: 'pm_x' }, destination: dest, signal: abort.signal }).then(() => null, e => e)
  t.match(err, { reason: 'aborted', outcome: 'not_sent' }, 'aborted by the signal, not by the 5 s timeout; nothing was sent')
})
