// reconcile(correlationId) at each PSP that has a lookup, against the simulators (which implement
// the lookups as the PSPs document them) and against the official SDKs' requests.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import Stripe from 'stripe'
import Checkout from 'checkout-sdk-node'
import { checkoutCom } from '../lib/psp/adapters/checkout-com.ts'
import { stripe, STRIPE_API_VERSION } from '../lib/psp/adapters/stripe.ts'
import {
  CHECKOUT_COM_SANDBOX_SECRET_KEY, CHECKOUT_COM_TEST_SOURCES, startCheckoutComSimulator, startStripeSimulator, STRIPE_SANDBOX_API_KEY
} from '../lib/sandbox/index.ts'
import { startFakeDestination } from '../lib/sandbox/destination.ts'
import { listen } from '../lib/sandbox/server.ts'
import { DEFAULT_TEMPLATE, parseTemplate } from '../lib/template.ts'
import type { PreparedDestination } from '../types/index.ts'
import { CORRELATION_ID } from './helpers/psp-kits.ts'

const OTHER_ID = 'rcf_ffffffffffffffffffffffffffffffff'

function destinationAt (url: string): PreparedDestination {
  return { id: 'COM.ROKT.CATALOG', url, headers: {}, template: DEFAULT_TEMPLATE, slots: parseTemplate(DEFAULT_TEMPLATE, 'test') }
}

async function stripeSetup (t: Test) {
  const dest = await startFakeDestination()
  t.teardown(() => dest.close())
  const sim = await startStripeSimulator({ destinations: [{ url: dest.url }], maxRecorded: Infinity })
  t.teardown(() => sim.close())
  const adapter = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: sim.url })
  t.teardown(() => adapter.close?.())
  const destination = destinationAt(dest.url)
  adapter.prepareDestination?.(destination)
  const send = (correlationId: string) => adapter.forward({ correlationId, record: { psp: 'stripe', paymentMethod: 'pm_card_visa', billingAddress: {} }, destination })
  return { dest, sim, adapter, send }
}

t.test('Stripe: the ForwardingRequests carrying the correlation id, with what the destination answered', async t => {
  const { dest, sim, adapter, send } = await stripeSetup(t)
  await send(CORRELATION_ID)
  await send(OTHER_ID)
  dest.setResponse({ status: 422, body: { error: 'card_rejected' } })
  await send(CORRELATION_ID)

  const found = await adapter.reconcile?.(CORRELATION_ID)
  t.equal(found?.outcome, 'found')
  const forwards = (found as any).forwards
  t.equal(forwards.length, 2, 'both attempts of the same request, newest first')
  t.match(forwards[0], { pspReference: /^fwdreq_/, createdAt: /^\d{4}-\d\d-\d\dT/, destination: { status: 422, body: { error: 'card_rejected' } } })
  t.match(forwards[1].destination, { status: 200, body: { status: 'tokenized' } })
  t.equal(forwards[1].destination.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(((await adapter.reconcile?.(OTHER_ID)) as any).forwards.length, 1)

  const lookup = sim.requests.at(-1) as { path: string, headers: Record<string, string> }
  t.equal(lookup.path, '/v1/forwarding/requests')
  t.equal(lookup.headers['stripe-version'], STRIPE_API_VERSION)

  const none = await adapter.reconcile?.('rcf_00000000000000000000000000000000')
  t.equal(none?.outcome, 'not_found')
  t.match((none as any).searched, /^Stripe ForwardingRequests created from .* to .* \(Stripe keeps them 30 days\)$/)
  const tomorrow = new Date(Date.now() + 86_400_000)
  t.equal((await adapter.reconcile?.(CORRELATION_ID, { since: tomorrow, until: new Date(tomorrow.getTime() + 1000) }))?.outcome, 'not_found', 'outside the window')
  await t.rejects(adapter.reconcile?.(CORRELATION_ID, { since: new Date('x') }) as Promise<unknown>, { message: 'stripe: reconcile needs since and until to be dates, since first' })
  await t.rejects(adapter.reconcile?.(CORRELATION_ID, { since: tomorrow, until: new Date() }) as Promise<unknown>, { message: /since first/ })
})

t.test('Stripe: the list is read page by page (100 a page), up to a bound; a refusal names its code', async t => {
  const pages: string[] = []
  let pageCount = 2
  const app = Fastify()
  app.get('/v1/forwarding/requests', async (request, reply) => {
    if (request.headers.authorization !== `Bearer ${STRIPE_SANDBOX_API_KEY}`) return reply.code(401).send({ error: { type: 'invalid_request_error', message: 'Invalid API Key' } })
    const query = new URLSearchParams(request.url.split('?')[1])
    pages.push(query.get('starting_after') ?? '')
    const n = pages.length
    const data = Array.from({ length: 100 }, (_, i) => ({ id: `fwdreq_${n}_${i}`, created: 1_767_225_600, metadata: i === 50 ? { rokt_correlation_id: CORRELATION_ID } : {} }))
    return { object: 'list', data, has_more: n < pageCount, url: '/v1/forwarding/requests' }
  })
  const server = await listen(app)
  t.teardown(() => server.close())
  const adapter = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: server.url })
  t.teardown(() => adapter.close?.())
  const found = await adapter.reconcile?.(CORRELATION_ID)
  t.same((found as any).forwards.map((f: any) => f.pspReference), ['fwdreq_1_50', 'fwdreq_2_50'])
  t.same(pages, ['', 'fwdreq_1_99'], 'the second page starts after the first page\'s last id')
  t.equal((found as any).forwards[0].destination, undefined, 'no response_details: no destination answer')

  pages.length = 0
  pageCount = 1000
  const bounded = await adapter.reconcile?.(CORRELATION_ID)
  t.equal(pages.length, 50, 'at most 50 pages')
  t.equal(bounded?.outcome, 'found', 'what it found is still reported')
  const none = await adapter.reconcile?.(OTHER_ID)
  t.match(none, { outcome: 'cannot_tell', how: 'more than 5000 ForwardingRequests in the window: narrow it (since, until)' })

  const empty = Fastify()
  empty.get('/v1/forwarding/requests', async () => ({ object: 'list' }))
  const emptyServer = await listen(empty)
  t.teardown(() => emptyServer.close())
  const onEmpty = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: emptyServer.url })
  t.teardown(() => onEmpty.close?.())
  t.equal((await onEmpty.reconcile?.(CORRELATION_ID))?.outcome, 'not_found', 'a list without data is an empty one')

  const wrongKey = stripe({ apiKey: 'sk_test_wrong_key', baseUrl: server.url })
  t.teardown(() => wrongKey.close?.())
  await t.rejects(wrongKey.reconcile?.(CORRELATION_ID) as Promise<unknown>, { reason: 'authentication_error' } as any)
})

t.test('Stripe: the lookup is the request stripe-node sends for forwarding.requests.list', async t => {
  const captured: Array<{ query: URLSearchParams, headers: Record<string, unknown> }> = []
  const app = Fastify()
  app.get('/v1/forwarding/requests', async (request) => {
    captured.push({ query: new URLSearchParams(request.url.split('?')[1]), headers: request.headers })
    return { object: 'list', data: [], has_more: false, url: '/v1/forwarding/requests' }
  })
  const server = await listen(app)
  t.teardown(() => server.close())
  const since = new Date('2026-01-01T00:00:00Z')
  const until = new Date('2026-01-02T00:00:00Z')
  const adapter = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: server.url })
  t.teardown(() => adapter.close?.())
  await adapter.reconcile?.(CORRELATION_ID, { since, until })
  const sdk = new Stripe(STRIPE_SANDBOX_API_KEY, { host: '127.0.0.1', port: Number(new URL(server.url).port), protocol: 'http', maxNetworkRetries: 0, apiVersion: STRIPE_API_VERSION as any })
  await sdk.forwarding.requests.list({ created: { gte: since.getTime() / 1000, lte: until.getTime() / 1000 }, limit: 100 })
  const [ours, theirs] = captured
  t.same(new Map(ours.query), new Map(theirs.query), 'the same created range and limit')
  t.equal(ours.headers.authorization, theirs.headers.authorization)
  t.equal(ours.headers['stripe-version'], theirs.headers['stripe-version'])
})

t.test('Checkout.com: GET /forward/{id}, as checkout-sdk-node forward.get requests it; the stored request and answer', async t => {
  const dest = await startFakeDestination()
  t.teardown(() => dest.close())
  const sim = await startCheckoutComSimulator({ maxRecorded: Infinity })
  t.teardown(() => sim.close())
  const adapter = checkoutCom({ secretKey: CHECKOUT_COM_SANDBOX_SECRET_KEY, environment: 'sandbox', baseUrl: sim.url })
  t.teardown(() => adapter.close?.())
  const destination = destinationAt(dest.url)
  const result = await adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'c', sourceId: CHECKOUT_COM_TEST_SOURCES.visa }, destination })
  const id = (result.pspBody as { request_id: string }).request_id

  const found = await adapter.reconcile?.(CORRELATION_ID, { pspReference: id })
  t.match(found, { outcome: 'found', forwards: [{ pspReference: id, createdAt: /^\d{4}-/, destination: { status: 200, body: { status: 'tokenized' } } }] })
  const cko = new Checkout(CHECKOUT_COM_SANDBOX_SECRET_KEY, { subdomain: 'abc12345' })
  ;(cko.config as { forwardUrl?: string }).forwardUrl = sim.url
  await cko.forward.get(id)
  const [ours, theirs] = sim.requests.slice(-2) as Array<{ method: string, path: string, headers: Record<string, string> }>
  t.equal(ours.method, theirs.method)
  t.equal(ours.path, theirs.path)
  t.equal(ours.path, `/forward/${id}`)
  t.equal(ours.headers.authorization, theirs.headers.authorization)

  // A forward made without a reference (by hand, with the SDK) is found by its id all the same.
  const bare = await cko.forward.forwardRequest({
    source: { type: 'id', id: CHECKOUT_COM_TEST_SOURCES.visa },
    destination_request: { url: dest.url, method: 'POST', headers: { raw: {} }, body: '{"pan":"{{card_number}}"}' }
  }) as { request_id: string }
  t.match(await adapter.reconcile?.(CORRELATION_ID, { pspReference: bare.request_id }), { outcome: 'found', forwards: [{ pspReference: bare.request_id }] })

  await t.rejects(adapter.reconcile?.(OTHER_ID, { pspReference: id }) as Promise<unknown>, { message: `checkout.com: forward ${id} carries another reference, not ${OTHER_ID}` })
  t.match(await adapter.reconcile?.(CORRELATION_ID, { pspReference: 'fwd_00000000000000000000000000' }), { outcome: 'not_found', searched: /keeps forwards 14 days/ })
  await t.rejects(adapter.reconcile?.(CORRELATION_ID, { pspReference: 'fwd_x/../../secrets' }) as Promise<unknown>, { message: /pspReference must be a forward request id/ })
  t.match(await adapter.reconcile?.(CORRELATION_ID), { outcome: 'cannot_tell', how: /only by its id \(fwd_…\).*reference rcf_0123456789abcdef0123456789abcdef in the Dashboard/ })

  // A forward whose destination never answered: Checkout.com has it, without destination_response.
  await dest.close()
  const failed: any = await adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'c', sourceId: CHECKOUT_COM_TEST_SOURCES.visa }, destination }).then(() => null, e => e)
  t.equal(failed.reason, 'no_destination_response')
  const unanswered = await adapter.reconcile?.(CORRELATION_ID, { pspReference: failed.pspReference })
  t.match(unanswered, { outcome: 'found', forwards: [{ pspReference: failed.pspReference }] })
  t.equal((unanswered as any).forwards[0].destination, undefined)

  const failing = Fastify()
  failing.get('/forward/:id', async (_request, reply) => reply.code(500).send({ request_id: id, error_type: 'internal_error' }))
  const failingServer = await listen(failing)
  t.teardown(() => failingServer.close())
  const onFailing = checkoutCom({ secretKey: CHECKOUT_COM_SANDBOX_SECRET_KEY, environment: 'sandbox', baseUrl: failingServer.url })
  t.teardown(() => onFailing.close?.())
  await t.rejects(onFailing.reconcile?.(CORRELATION_ID, { pspReference: id }) as Promise<unknown>, { reason: 'internal_error' } as any, "Checkout.com's error envelope names the failure")

  const wrongKey = checkoutCom({ secretKey: 'sk_sbox_wrongwrongwrongwrongwrongwro', environment: 'sandbox', baseUrl: sim.url })
  t.teardown(() => wrongKey.close?.())
  await t.rejects(wrongKey.reconcile?.(CORRELATION_ID, { pspReference: id }) as Promise<unknown>, { reason: 'http_401' } as any)
})
