import t, { type Test } from 'tap'
import Fastify from 'fastify'
import Stripe from 'stripe'
import { stripe } from '../index.ts'
import { STRIPE_API_VERSION } from '../lib/psp/adapters/stripe.ts'
import { listen } from '../lib/sandbox/server.ts'
import { startFakeDestination, type FakeDestinationOptions } from '../lib/sandbox/destination.ts'
import { startStripeSimulator, STRIPE_SANDBOX_API_KEY, type StripeSimulatorOptions } from '../lib/sandbox/index.ts'
import { blackholeUrl } from './helpers/faulty-psp.ts'
import { DEFAULT_TEMPLATE, parseTemplate } from '../lib/template.ts'
import type { PreparedDestination, StripeOptions } from '../types/index.ts'
import { CORRELATION_ID } from './helpers/psp-kits.ts'

interface Captured { path: string, headers: Record<string, string | string[] | undefined>, params: Array<[string, string]>, raw?: string }

/** Records every request and answers with a minimal ForwardingRequest (a list of one for GET). */
async function captureServer (t: Test) {
  const captured: Captured[] = []
  const app = Fastify()
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_r, body, done) => { done(null, body) })
  const forwardingRequest = {
    id: 'fwdreq_1',
    object: 'forwarding.request',
    created: 1_767_225_600,
    metadata: { rokt_correlation_id: CORRELATION_ID },
    response_details: { status: 200, headers: [{ name: 'Content-Type', value: 'application/json' }], body: '{"ok":true}' },
    request_context: { destination_duration: 12 }
  }
  app.post('/v1/forwarding/requests', async (request) => {
    captured.push({ path: request.url, headers: request.headers, params: [...new URLSearchParams(request.body as string)], raw: request.body as string })
    return forwardingRequest
  })
  app.get('/v1/forwarding/requests', async (request) => {
    captured.push({ path: request.url.split('?')[0], headers: request.headers, params: [...new URLSearchParams(request.url.split('?')[1])] })
    return { object: 'list', data: [forwardingRequest], has_more: false, url: '/v1/forwarding/requests' }
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
  const result = await adapter.forward({ correlationId: CORRELATION_ID, record, destination: dest, idempotencyKey: 'idem-123' })
  t.same(result, { status: 200, headers: { 'content-type': 'application/json' }, body: { ok: true }, requestTime: 12, pspBody: result.pspBody })

  const ours = capture.captured[0]
  const sdk = new Stripe('sk_test_equivalence', { host: '127.0.0.1', port: capture.port, protocol: 'http', maxNetworkRetries: 0, apiVersion: STRIPE_API_VERSION as any })
  const body = Object.fromEntries(ours.params)['request[body]']
  await sdk.forwarding.requests.create({
    payment_method: 'pm_card_visa',
    url: 'https://rokt.example/v1/cards',
    // No card_cvc: cvc 'blank' (the default) does not ask Stripe for it.
    replacements: ['card_number', 'card_expiry', 'cardholder_name'],
    request: { headers: [{ name: 'X-Rokt-Api-Key', value: 'rk_dest' }, { name: 'X-Trace', value: 't1' }], body },
    metadata: { rokt_correlation_id: CORRELATION_ID }
  }, { idempotencyKey: 'idem-123' })
  const theirs = capture.captured[1]

  t.equal(ours.path, theirs.path)
  t.same(new Map(ours.params), new Map(theirs.params), 'the same decoded parameters, metadata included')
  t.equal(ours.headers['content-type'], theirs.headers['content-type'])
  t.equal(ours.headers.authorization, theirs.headers.authorization)
  t.equal(ours.headers['idempotency-key'], theirs.headers['idempotency-key'])
  t.equal(ours.headers['stripe-version'], '2025-03-31.basil', 'the pinned version')
  t.equal(ours.headers['stripe-version'], theirs.headers['stripe-version'])
  t.same(JSON.parse(body), {
    card: { number: '', exp_month: '', exp_year: '', name: '', cvc: '' },
    billing_address: { line1: '1 Main St', line2: '', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }
  }, 'card fields empty, billing from the vault record')
})

t.test("the form is written byte for byte as URLSearchParams writes it, whatever the vault's values hold", async t => {
  const capture = await captureServer(t)
  const adapter = stripe({ apiKey: 'sk_test_encoding', baseUrl: capture.url })
  t.teardown(() => adapter.close?.())
  const dest = destination()
  adapter.prepareDestination?.(dest)
  const line1 = "O'Neil (rear) ~ 5! *x* & a=b + 100% \"q\" é \u2028 😀"
  // line1 takes the general encoding; city the plain one (ASCII letters, digits, spaces and _.*-);
  // a value that is not a string (a numeric postal code) goes out as its JSON, not as a failure.
  const city = 'Saint-Jean_d.Arc * 2'
  const postalCode = 78701 as unknown as string
  await adapter.forward({ correlationId: CORRELATION_ID, record: { ...record, billingAddress: { ...record.billingAddress, line1, city, postalCode } }, destination: dest, idempotencyKey: 'idem-enc' })
  const { raw, params } = capture.captured[0]
  t.equal(raw, new URLSearchParams(params).toString(), 'the same bytes URLSearchParams gives for the decoded fields')
  const sent = JSON.parse(Object.fromEntries(params)['request[body]']).billing_address
  t.same([sent.line1, sent.city, sent.postal_code], [line1, city, 78701], 'and the values arrive exact')
})

t.test('replacements follow the template: only the card tokens it uses', async t => {
  const capture = await captureServer(t)
  const adapter = stripe({ apiKey: 'rk_live_restricted', baseUrl: capture.url })
  t.teardown(() => adapter.close?.())
  const dest = destination({ pan: '{{card.number}}', month: '{{card.expMonth}}', year: '{{card.expYear}}', fixed: 'yes' })
  adapter.prepareDestination?.(dest)
  await adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'stripe', paymentMethod: 'pm_x' }, destination: dest })
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
  const ok = await adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'stripe', paymentMethod: 'pm_x' }, destination: dest })
  t.equal(ok.status, 201)
  t.equal(ok.body, 'done')
  t.type(ok.requestTime, 'number')
  answer = { object: 'forwarding.request' }
  await t.rejects(adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'stripe', paymentMethod: 'pm_x' }, destination: dest }), { code: 'CARD_FORWARDING_PSP_ERROR', message: 'stripe forward failed: invalid_response' })
})

t.test('options are checked at construction, naming the option and what is wrong, never echoing the key', async t => {
  const prefixes = 'stripe: apiKey must start with sk_test_, sk_live_, rk_test_ or rk_live_ (a secret or restricted key)'
  t.throws(() => stripe({ apiKey: 'pk_test_publishable' }), { message: `${prefixes}, not pk_` })
  t.throws(() => stripe({ apiKey: 'whsec_abc' }), { message: `${prefixes}, not whsec_` })
  t.throws(() => stripe({ apiKey: 'not a key' }), { message: prefixes })
  const body = (prefix: string, n: number) => `stripe: apiKey has the ${prefix} prefix, then ${n} characters: a Stripe key has 4 to 247 letters, digits or underscores after its prefix`
  t.throws(() => stripe({ apiKey: 'rk_test_abc' }), { message: body('rk_test_', 3) }, 'a restricted key too short says so')
  t.throws(() => stripe({ apiKey: 'sk_test_x' }), { message: body('sk_test_', 1) })
  t.throws(() => stripe({ apiKey: 'sk_live_has-a-dash' }), { message: body('sk_live_', 10) })
  t.throws(() => stripe({ apiKey: '' }), { message: /^stripe: apiKey is required/ })
  t.throws(() => stripe(null as any), /apiKey is required/)
  t.throws(() => stripe({ apiKey: 'sk_test_abcd', apiVersion: '2024-06-20' }), { message: "stripe: apiVersion must be a Stripe API version such as '2025-03-31.basil'" })
  t.throws(() => stripe({ apiKey: 'sk_test_abcd', apiVersion: 20250331 as any }), { message: "stripe: apiVersion must be a Stripe API version such as '2025-03-31.basil'" })
  t.throws(() => stripe({ apiKey: 'sk_test_abcd', apiVersion: '2024-10-28.acacia' }), { message: /^stripe: apiVersion must be 2025-03-31\.basil or later: earlier versions answer a timeout before connecting/ })
  t.throws(() => stripe({ apiKey: 'sk_test_abcd', cvc: 'always' as any }), { message: "stripe: cvc must be 'blank' or 'when-stored'" })
  t.throws(() => stripe({ apiKey: 'sk_test_abcd', onboardedHeaders: ['bad header'] }), { message: 'stripe: onboardedHeaders must be an array of header names' })
  t.throws(() => stripe({ apiKey: 'sk_test_abcd', onboardedHeaders: 'x' as any }), { message: 'stripe: onboardedHeaders must be an array of header names' })
  const later = stripe({ apiKey: 'sk_test_abcd', apiVersion: '2026-10-28.endive' })
  await later.close?.()
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
    [402, { error: { code: 'a message with spaces and sk_live_secret' } }, 'unknown'],
    // No code: named as stripe-node names the status (src/Error.ts generateV1Error).
    [401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****abcd' } }, 'authentication_error'],
    [403, { error: { type: 'invalid_request_error' } }, 'permission_error'],
    [429, { error: { type: 'invalid_request_error' } }, 'rate_limit_error']
  ]
  for (const [status, body, code] of cases) {
    answer = { status, body }
    // Stripe asks to treat a 5xx from the forward as indeterminate; a 5xx from the lookup forwarded nothing.
    const outcome = status >= 500 ? 'unknown' : undefined
    await t.rejects(adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'stripe', paymentMethod: 'pm_x', billingAddress: {} }, destination: dest }), { statusCode: 502, message: `stripe forward failed: ${code}`, outcome, reason: code })
    const lookup = await adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'stripe', paymentMethod: 'pm_x' }, destination: dest }).then(() => null, (e: any) => e)
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
  const err: any = await adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'stripe', paymentMethod: 'pm_x' }, destination: dest, signal: abort.signal }).then(() => null, e => e)
  t.match(err, { reason: 'aborted', outcome: 'not_sent' }, 'aborted by the signal, not by the 5 s timeout; nothing was sent')
})

/** The adapter against the Stripe simulator and a fake destination, over loopback. */
async function throughSimulator (t: Test, adapterOptions: Partial<StripeOptions> = {}, simulatorOptions: StripeSimulatorOptions = {}, destinationOptions: FakeDestinationOptions = {}) {
  const dest = await startFakeDestination(destinationOptions)
  t.teardown(() => dest.close())
  const sim = await startStripeSimulator({ destinations: [{ url: dest.url }], maxRecorded: Infinity, ...simulatorOptions })
  t.teardown(() => sim.close())
  const adapter = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: sim.url, circuitBreaker: false, ...adapterOptions })
  t.teardown(() => adapter.close?.())
  const prepared = { id: 'COM.ROKT.CATALOG', url: dest.url, headers: { 'X-Rokt-Api-Key': 'rk_dest' }, template: DEFAULT_TEMPLATE, slots: parseTemplate(DEFAULT_TEMPLATE, 'test') }
  adapter.prepareDestination?.(prepared)
  const send = (paymentMethod: string) => adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'stripe', paymentMethod, billingAddress: {} }, destination: prepared })
  return { dest, sim, adapter, send }
}

t.test("cvc 'blank' (the default) never asks Stripe for the CVC: the field goes out empty, whatever Stripe holds", async t => {
  for (const missingCvc of ['blank', 'refuse'] as const) {
    const { dest, sim, send } = await throughSimulator(t, {}, { missingCvc })
    for (const attempt of [1, 2]) {
      const res = await send('pm_card_visa_debit')
      t.equal(res.status, 200, `simulator ${missingCvc}, forward ${attempt}: no failure`)
      t.equal((dest.received[attempt - 1].body as any).card.cvc, '', 'no CVC')
    }
    t.notMatch(sim.requests[0].body, /card_cvc/, 'card_cvc is not a replacement')
  }
})

t.test("cvc 'when-stored': Stripe fills the CVC while it holds it; once used, a blank field or a refusal (undocumented: both tested)", async t => {
  const blank = await throughSimulator(t, { cvc: 'when-stored' }, { missingCvc: 'blank' })
  await blank.send('pm_card_visa_debit')
  t.equal((blank.dest.received[0].body as any).card.cvc, '123', 'the first forward carries the CVC')
  t.match(blank.sim.requests[0].body, /replacements%5B\d%5D=card_cvc/)
  await blank.send('pm_card_visa_debit')
  t.equal((blank.dest.received[1].body as any).card.cvc, '', 'Stripe no longer has it: empty')

  const refuse = await throughSimulator(t, { cvc: 'when-stored' }, { missingCvc: 'refuse' })
  await refuse.send('pm_card_visa_debit')
  const err: any = await refuse.send('pm_card_visa_debit').then(() => null, e => e)
  t.match(err, { statusCode: 502, reason: 'forwarding_api_invalid_parameter' }, 'a refusal fails the forward: why the default is blank')
  t.equal(err.outcome, undefined, 'a 4xx: nothing was forwarded')
  t.equal(refuse.dest.received.length, 1)
})

t.test('onboardedHeaders: a header Stripe holds from onboarding is not sent; Stripe adds it', async t => {
  const { dest, sim, send } = await throughSimulator(t, { onboardedHeaders: ['x-rokt-api-key'] }, {}, { requiredHeaders: { 'x-rokt-api-key': 'rk_dest' } })
  const onboarded = await startStripeSimulator({ destinations: [{ url: dest.url, headers: { 'X-Rokt-Api-Key': 'rk_dest' } }] })
  t.teardown(() => onboarded.close())
  const missing: any = await send('pm_card_visa')
  t.equal(missing.status, 401, 'a Stripe without the onboarding credentials forwards without them: the destination refuses')
  t.notMatch(sim.requests[0].body, /X-Rokt-Api-Key|rk_dest/, 'the header never travels to Stripe')

  const adapter = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: onboarded.url, onboardedHeaders: ['X-ROKT-API-KEY'] })
  t.teardown(() => adapter.close?.())
  const prepared = { id: 'D', url: dest.url, headers: { 'X-Rokt-Api-Key': 'rk_dest', 'X-Trace': 't' }, template: DEFAULT_TEMPLATE, slots: parseTemplate(DEFAULT_TEMPLATE, 'test') }
  adapter.prepareDestination?.(prepared)
  const ok = await adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'stripe', paymentMethod: 'pm_card_visa', billingAddress: {} }, destination: prepared })
  t.equal(ok.status, 200, 'with them, it passes')
  t.equal(dest.received[1].headers['x-trace'], 't', 'the other headers still travel')
})

t.test('the pinned version: Stripe answers a destination connect timeout with 402, read as nothing sent', async t => {
  const url = await blackholeUrl(t)
  const sim = await startStripeSimulator({ destinations: [{ url }], destinationTimeoutMs: 300 })
  t.teardown(() => sim.close())
  const adapter = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: sim.url })
  t.teardown(() => adapter.close?.())
  const prepared = { id: 'D', url, headers: {}, template: DEFAULT_TEMPLATE, slots: parseTemplate(DEFAULT_TEMPLATE, 'test') }
  adapter.prepareDestination?.(prepared)
  const err: any = await adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'stripe', paymentMethod: 'pm_card_visa', billingAddress: {} }, destination: prepared }).then(() => null, e => e)
  t.match(err, { statusCode: 502, reason: 'forwarding_api_upstream_connection_timeout', outcome: 'not_sent' })
  t.equal(sim.requests[0].headers['stripe-version'], STRIPE_API_VERSION)
})

t.test("Stripe writes the card itself: a quoted holder name arrives exact, a one-digit month as MM (the token-vault profile's shape)", async t => {
  const { dest, send } = await throughSimulator(t)
  await send('pm_card_quoted_name')
  await send('pm_card_discover')
  t.match(dest.received[0].body, { card: { name: 'Sam O"Brien \\ Jr', number: '4000002500003155' } })
  t.match(dest.received[1].body, { card: { exp_month: '03', exp_year: '2030' } }, 'Stripe holds exp_month 3')
})
