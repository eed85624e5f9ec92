import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Agent, type Dispatcher } from 'undici'
import { stripe, type StripeOptions } from '../index.ts'
import { pspIdempotencyKey, readIdempotencyKey } from '../lib/route/idempotency.ts'
import { startFakeDestination } from '../lib/sandbox/destination.ts'
import { startStripeSimulator, STRIPE_SANDBOX_API_KEY, type StripeRecordedRequest } from '../lib/sandbox/index.ts'
import { AUDIENCE, buildHarness, DESTINATION, ISSUER, ROKT_API_KEY, rsaKeys, token, validBody, type Harness, type HarnessOptions } from './helpers/harness.ts'
import { failingLookup, refusedUrl, startFaultyPsp, VAULTED_WITH_BILLING } from './helpers/faulty-psp.ts'

const KEY = '8e03978e-40d5-43e8-bc93-6894a57f9324'
const withKey = (key = KEY) => ({ headers: { 'idempotency-key': key } })
const forwards = (h: Harness) =>
  (h.simulator.requests as StripeRecordedRequest[]).filter(r => r.method === 'POST' && r.path === '/v1/forwarding/requests')

/** An undici Agent that counts the requests it dispatched (each attempt, including failed connects). */
function countingAgent (t: Test, options: Agent.Options = {}) {
  const counter = { dispatched: 0, onFirst: () => {} }
  const agent = new Agent(options).compose(dispatch => (opts, handler) => {
    if (counter.dispatched++ === 0) counter.onFirst()
    return dispatch(opts, handler)
  })
  t.teardown(() => agent.close())
  return { agent: agent as Dispatcher, counter }
}

async function harnessWithAdapter (t: Test, adapter: Partial<StripeOptions>, plugin: HarnessOptions['plugin'] = {}) {
  const h = await buildHarness(t, { plugin: { psps: { psp: stripe({ apiKey: STRIPE_SANDBOX_API_KEY, circuitBreaker: false, ...adapter }) }, ...plugin } })
  h.vault.set('ORDER_67890', VAULTED_WITH_BILLING)
  return h
}

t.test('Idempotency-Key: absent, plain, quoted (IETF structured string), or refused', async t => {
  t.equal(readIdempotencyKey(undefined), undefined)
  t.equal(readIdempotencyKey(KEY), KEY)
  t.equal(readIdempotencyKey(`"${KEY}"`), KEY)
  t.equal(readIdempotencyKey('x'.repeat(255)), 'x'.repeat(255))
  for (const bad of ['', '""', 'x'.repeat(256), 'a b', 'clé', 'a\tb', `${KEY}, ${KEY}`]) {
    t.throws(() => readIdempotencyKey(bad), { statusCode: 400, code: 'CARD_FORWARDING_INVALID_IDEMPOTENCY_KEY' }, JSON.stringify(bad))
  }
  t.throws(() => readIdempotencyKey([KEY, KEY]), { code: 'CARD_FORWARDING_INVALID_IDEMPOTENCY_KEY' })
})

t.test('the PSP key: 43 base64url characters (within Adyen 64 and Stripe 255), scoped to caller, key, destination and reference', async t => {
  const base = pspIdempotencyKey('rokt', KEY, validBody)
  t.match(base, /^[A-Za-z0-9_-]{43}$/)
  t.equal(pspIdempotencyKey('rokt', KEY, { ...validBody }), base, 'stable')
  t.not(pspIdempotencyKey('other', KEY, validBody), base)
  t.not(pspIdempotencyKey('rokt', KEY + '1', validBody), base)
  t.not(pspIdempotencyKey('rokt', KEY, { ...validBody, destination: 'COM.ROKT.OTHER' }), base)
  t.not(pspIdempotencyKey('rokt', KEY, { ...validBody, partnerPaymentReference: 'ORDER_2' }), base)
  // Length-prefixed parts: moving a character from one part to the next is another key.
  t.not(pspIdempotencyKey('ab', 'c', validBody), pspIdempotencyKey('a', 'bc', validBody))
  t.notMatch(base, /ORDER|8e03978e/, 'neither the reference nor the caller\'s key shows')
})

t.test('a retry with the same key and body is answered from the first outcome: one PSP call, one forward', async t => {
  const h = await buildHarness(t)
  const first = await h.post(validBody, withKey())
  const second = await h.post(validBody, withKey(`"${KEY}"`))
  t.equal(first.statusCode, 200)
  t.equal(second.statusCode, 200)
  t.same(second.json, first.json, 'the stored response')
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.equal(first.headers['idempotent-replayed'], undefined)
  t.equal(forwards(h).length, 1)
  t.equal(h.destination.received.length, 1)
  t.same(h.audits.map(a => a.event), ['accepted', 'forward_ok', 'duplicate_replayed'])
  const pspKey = forwards(h)[0].headers['idempotency-key']
  t.equal(pspKey, pspIdempotencyKey('rokt', KEY, validBody), 'the PSP call carries the derived key')
})

t.test('the same key with a different body: 422, nothing forwarded', async t => {
  const h = await buildHarness(t)
  t.equal((await h.post(validBody, withKey())).statusCode, 200)
  const res = await h.post({ ...validBody, customerIdentifiers: { email: 'JENNY.ROSEN@example.com' } }, withKey())
  t.equal(res.statusCode, 422)
  t.equal(res.json.code, 'CARD_FORWARDING_IDEMPOTENCY_KEY_REUSED')
  t.equal(forwards(h).length, 1)
  t.match(h.audits.at(-1), { event: 'validation_failed', statusCode: 422, code: 'CARD_FORWARDING_IDEMPOTENCY_KEY_REUSED' })
})

t.test('a malformed Idempotency-Key: 400, nothing forwarded', async t => {
  const h = await buildHarness(t)
  const res = await h.post(validBody, withKey('has space'))
  t.equal(res.statusCode, 400)
  t.same(res.json, { statusCode: 400, code: 'CARD_FORWARDING_INVALID_IDEMPOTENCY_KEY', error: 'Bad Request', message: 'Idempotency-Key must be 1 to 255 printable ASCII characters' })
  t.equal(h.simulator.calls, 0)
  t.match(h.audits.at(-1), { event: 'validation_failed', statusCode: 400 })
})

t.test('concurrent duplicates for one reference: one forward, the other gets 409 (with or without a key)', async t => {
  const h = await buildHarness(t)
  h.destination.setDelay(300)
  for (const opts of [{}, withKey(), withKey('k2')]) {
    const [a, b] = await Promise.all([h.post(validBody, opts), sleep(50).then(() => h.post(validBody, opts))])
    t.equal(a.statusCode, 200)
    t.equal(b.statusCode, 409)
    t.equal(b.json.code, 'CARD_FORWARDING_REQUEST_IN_PROGRESS')
  }
  const [a, b] = await Promise.all([h.post(validBody, withKey('k3')), sleep(50).then(() => h.post(validBody, withKey('k4')))])
  t.same([a.statusCode, b.statusCode], [200, 409], 'different keys, same reference: still one at a time')
  t.equal(h.destination.received.length, 4)
  t.equal(h.audits.filter(e => e.statusCode === 409).length, 4)
})

t.test('E40: a PSP past the budget gives 504, no retry; the retry with the same key reuses the PSP key, the card goes once', async t => {
  // undici's headers timer ticks about once a second: the destination takes well past it.
  const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_API_KEY }, delayMs: 2500 })
  t.teardown(() => destination.close())
  const simulator = await startStripeSimulator({ destinations: [{ url: destination.url }] })
  t.teardown(() => simulator.close())
  const h = await harnessWithAdapter(t, { baseUrl: simulator.url, timeouts: { headersMs: 300 } }, {
    destinations: { [DESTINATION]: { url: destination.url, headers: { 'x-rokt-api-key': ROKT_API_KEY } } }
  })
  const first = await h.post(validBody, withKey())
  t.equal(first.statusCode, 504)
  t.match(h.audits.at(-1), { event: 'forward_unknown', reason: 'headers_timeout' })
  t.equal(simulator.calls, 1, 'not retried')
  await sleep(2600)
  const retry = await h.post(validBody, withKey())
  t.equal(retry.statusCode, 200, 'Stripe replays the outcome it stored under the key')
  t.equal(simulator.calls, 2, 'one more request')
  const keys = simulator.requests.filter(r => r.method === 'POST').map(r => r.headers['idempotency-key'])
  t.same(keys, [pspIdempotencyKey('rokt', KEY, validBody), pspIdempotencyKey('rokt', KEY, validBody)], 'the same PSP key both times')
  t.equal(destination.received.length, 1, 'the card went once')
})

t.test('only successes are replayed: after a 404 the same key may succeed once the card is vaulted', async t => {
  const h = await buildHarness(t)
  const missing = await h.post({ ...validBody, partnerPaymentReference: 'ORDER_LATER' }, withKey())
  t.equal(missing.statusCode, 404)
  h.vault.set('ORDER_LATER', h.vault.get('ORDER_67890') as any)
  const found = await h.post({ ...validBody, partnerPaymentReference: 'ORDER_LATER' }, withKey())
  t.equal(found.statusCode, 200)
})

t.test('without a key a forward is never retried; with one, connection refused is retried a bounded number of times', async t => {
  const baseUrl = await refusedUrl()
  const { agent, counter } = countingAgent(t)
  const h = await harnessWithAdapter(t, { baseUrl, dispatcher: agent }, { connectRetryDelayMs: 5 })
  const bare = await h.post(validBody)
  t.equal(bare.statusCode, 502)
  t.equal(counter.dispatched, 1, 'no key: one attempt')
  const keyed = await h.post(validBody, withKey())
  t.equal(keyed.statusCode, 502)
  t.equal(keyed.json.message, 'stripe forward failed: connection_refused')
  t.equal(counter.dispatched, 4, 'with a key: the attempt and two retries')
  t.match(h.audits.at(-1), { event: 'forward_failed', reason: 'connection_refused' })

  const none = countingAgent(t)
  const h0 = await harnessWithAdapter(t, { baseUrl, dispatcher: none.agent }, { connectRetries: 0 })
  t.equal((await h0.post(validBody, withKey())).statusCode, 502)
  t.equal(none.counter.dispatched, 1, 'connectRetries: 0 turns them off')
})

t.test('a DNS failure with a key is retried, then reported', async t => {
  const { agent, counter } = countingAgent(t, { connect: { lookup: failingLookup as any } })
  const h = await harnessWithAdapter(t, { baseUrl: 'https://psp.invalid', dispatcher: agent }, { connectRetries: 1, connectRetryDelayMs: 5 })
  const res = await h.post(validBody, withKey())
  t.equal(res.json.message, 'stripe forward failed: dns_failed')
  t.equal(counter.dispatched, 2)
})

t.test('a refused connection that comes back during the backoff: the retry forwards, once', async t => {
  const baseUrl = await refusedUrl()
  const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_API_KEY } })
  t.teardown(() => destination.close())
  const { agent, counter } = countingAgent(t)
  let started: Promise<{ close: () => Promise<void> }> | undefined
  counter.onFirst = () => { started = startStripeSimulator({ destinations: [{ url: destination.url }] }, Number(new URL(baseUrl).port)) }
  t.teardown(async () => { await (await started)?.close() })
  const h = await harnessWithAdapter(t, { baseUrl, dispatcher: agent }, {
    connectRetryDelayMs: 200,
    destinations: { [DESTINATION]: { url: destination.url, headers: { 'x-rokt-api-key': ROKT_API_KEY } } }
  })
  const res = await h.post(validBody, withKey())
  t.equal(res.statusCode, 200)
  t.equal(counter.dispatched, 2)
  t.equal(destination.received.length, 1)
})

t.test('never retried once bytes were written (a reset mid-body), even with a key', async t => {
  const psp = await startFaultyPsp(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '100' })
    res.write('{"id":', () => { res.socket?.resetAndDestroy() })
  })
  const h = await harnessWithAdapter(t, { baseUrl: psp.url }, { connectRetryDelayMs: 5 })
  t.equal((await h.post(validBody, withKey())).statusCode, 502)
  t.equal(psp.requests, 1)
})

t.test('a token naming no client (allowed when requiredClaims is emptied): keys still work, scoped to the anonymous caller', async t => {
  const h = await buildHarness(t, { plugin: { auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing', requiredClaims: [] } } })
  const anonymous = token({ clientId: undefined, subject: undefined })
  t.equal((await h.post(validBody, { ...withKey(), token: anonymous })).statusCode, 200)
  const again = await h.post(validBody, { ...withKey(), token: anonymous })
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(forwards(h)[0].headers['idempotency-key'], pspIdempotencyKey('', KEY, validBody))
})

t.test("the 200 and its replay are the same JSON text, with the same type, whatever the host's serialisation hooks do", async t => {
  const h = await buildHarness(t, {
    before: async app => {
      app.addHook('preSerialization', async (_request, _reply, payload) => ({ ...(payload as object), hostAdded: true }))
    }
  })
  const first = await h.post(validBody, withKey('serialised-once'))
  const replay = await h.post(validBody, withKey('serialised-once'))
  t.equal(first.statusCode, 200)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.same(replay.json, first.json, 'the replay is the first answer')
  t.equal(first.json.hostAdded, undefined, "the host's hook does not change the route's answer")
  t.equal(first.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(replay.headers['content-type'], first.headers['content-type'])
  t.same(Object.keys(first.json), ['status', 'headers', 'body', 'request-time'])
})
