import { setTimeout as sleep } from 'node:timers/promises'
import type { ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { stripe, type CircuitBreakerOptions } from '../index.ts'
import { createCircuitBreaker } from '../lib/psp/circuit-breaker.ts'
import { createPspClient } from '../lib/psp/client.ts'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { buildHarness, validBody } from './helpers/harness.ts'
import { refusedUrl, startFaultyPsp, VAULTED_WITH_BILLING } from './helpers/faulty-psp.ts'

const FORWARDED = JSON.stringify({ id: 'fwdreq_1', object: 'forwarding.request', response_details: { status: 200, headers: [], body: '{}' } })

t.test('the state machine: closed, open after N consecutive failures, one half-open probe, closed or open again', async t => {
  const breaker = createCircuitBreaker({ failureThreshold: 2, coolDownMs: 50 })
  t.equal(breaker.admit(), null)
  breaker.failure()
  breaker.success()
  breaker.failure()
  t.equal(breaker.admit(), null, 'a success in between resets the count')
  breaker.failure()
  const wait = breaker.admit()
  t.ok(wait !== null && wait > 0 && wait <= 50, 'open: come back after the cool-down')
  await sleep(60)
  t.equal(breaker.admit(), null, 'the probe')
  t.equal(breaker.admit(), 1000, 'others wait while the probe is out')
  breaker.neutral()
  t.equal(breaker.admit(), null, 'an aborted probe frees the slot for another')
  breaker.failure()
  t.ok((breaker.admit() ?? 0) > 0, 'a failed probe opens the circuit again')
  await sleep(60)
  t.equal(breaker.admit(), null)
  breaker.success()
  t.equal(breaker.admit(), null, 'a good probe closes it')
  t.equal(breaker.admit(), null)

  t.equal(createCircuitBreaker().admit(), null, 'defaults')
})

t.test('the transport options every adapter takes are checked by createPspClient, naming the PSP and the option', async t => {
  const base = { psp: 'acme', baseUrl: 'https://psp.example' }
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ baseUrl: 'http://psp.example' }, /^acme: baseUrl must be an https URL \(or http on a loopback address\)$/],
    [{ baseUrl: 'not a url' }, /^acme: baseUrl must be an https URL/],
    [{ timeouts: 5 }, /^acme: timeouts must be an object$/],
    [{ timeouts: { headersMs: 0 } }, /^acme: timeouts.headersMs: must be an integer from 1 to 600000$/],
    [{ maxResponseBytes: 1.5 }, /^acme: maxResponseBytes: must be an integer/],
    [{ connections: 0 }, /^acme: connections: must be an integer/],
    [{ circuitBreaker: true }, /^acme: circuitBreaker must be an object or false$/],
    [{ circuitBreaker: { failureThreshold: 0 } }, /^acme: circuitBreaker.failureThreshold: must be an integer/],
    [{ circuitBreaker: { coolDownMs: 1.5 } }, /^acme: circuitBreaker.coolDownMs: must be an integer/]
  ]
  for (const [options, message] of bad) t.throws(() => createPspClient({ ...base, ...options } as any), { message }, String(message))
  const client = createPspClient({ ...base, baseUrl: 'http://127.0.0.1:1', timeouts: { connectMs: 100 }, circuitBreaker: false, connections: 2 })
  await client.close()
})

/** A PSP whose answer the test switches; it counts what reached it. */
async function switchablePsp (t: Test) {
  let answer: (res: ServerResponse) => void = res => { res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"type":"api_error"}}') }
  const psp = await startFaultyPsp(t, (_req, res) => answer(res))
  return { psp, set: (next: typeof answer) => { answer = next } }
}

async function harness (t: Test, url: string, circuitBreaker: CircuitBreakerOptions | false, timeouts = {}) {
  const h = await buildHarness(t, { plugin: { psps: { psp: stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: url, circuitBreaker, timeouts }) } } })
  h.vault.set('ORDER_67890', VAULTED_WITH_BILLING)
  return h
}

t.test('after N consecutive 5xx the route fails fast with 503 + Retry-After and no PSP call, then one probe', async t => {
  const { psp, set } = await switchablePsp(t)
  const h = await harness(t, psp.url, { failureThreshold: 3, coolDownMs: 400 })
  for (let i = 0; i < 3; i++) t.equal((await h.post(validBody)).statusCode, 502)
  // Failing fast is shown by what reached the PSP (nothing, below), never by a timing: the machine may be loaded.
  const fast = await h.post(validBody)
  t.equal(fast.statusCode, 503)
  t.same(fast.json, { statusCode: 503, code: 'CARD_FORWARDING_PSP_UNAVAILABLE', error: 'Service Unavailable', message: 'stripe is unavailable, retry later' })
  t.equal(fast.headers['retry-after'], '1')
  t.equal(psp.requests, 3, 'zero PSP calls while open')
  t.match(h.audits.at(-1), { event: 'forward_failed', statusCode: 503, code: 'CARD_FORWARDING_PSP_UNAVAILABLE', reason: 'circuit_open' })

  await sleep(450)
  set(res => { setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(FORWARDED), 150) })
  const other = { partnerPaymentReference: 'ORDER_BILLING', destination: validBody.destination }
  const [probe, waiting] = await Promise.all([h.post(validBody), sleep(30).then(() => h.post(other))])
  t.equal(probe.statusCode, 200, 'the half-open probe went through')
  t.equal(waiting.statusCode, 503, 'the others wait for it')
  t.equal(waiting.headers['retry-after'], '1')
  t.equal(psp.requests, 4, 'exactly one probe')
  t.equal((await h.post(validBody)).statusCode, 200, 'closed again')
})

t.test('a failed probe opens the circuit for another cool-down', async t => {
  const { psp } = await switchablePsp(t)
  const h = await harness(t, psp.url, { failureThreshold: 1, coolDownMs: 200 })
  t.equal((await h.post(validBody)).statusCode, 502)
  t.equal((await h.post(validBody)).statusCode, 503)
  await sleep(250)
  t.equal((await h.post(validBody)).statusCode, 502, 'the probe')
  t.equal((await h.post(validBody)).statusCode, 503, 'open again at once')
  t.equal(psp.requests, 2)
})

t.test('PSP 4xx answers never trip it, even unparseable ones; timeouts and unreadable 2xx do', async t => {
  const { psp, set } = await switchablePsp(t)
  const h = await harness(t, psp.url, { failureThreshold: 2, coolDownMs: 60_000 }, { headersMs: 200 })
  set(res => { res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"type":"invalid_request_error","code":"parameter_missing"}}') })
  for (let i = 0; i < 4; i++) t.equal((await h.post(validBody)).statusCode, 502)
  set(res => { res.writeHead(401).end() })
  for (let i = 0; i < 4; i++) t.equal((await h.post(validBody)).statusCode, 502)
  t.equal(psp.requests, 8, 'every 4xx reached the PSP: the circuit stayed closed')

  set(() => {})
  t.equal((await h.post(validBody)).statusCode, 504)
  set(res => { res.writeHead(200).end('not json') })
  t.equal((await h.post(validBody)).statusCode, 502)
  t.equal((await h.post(validBody)).statusCode, 503, 'a timeout then an unreadable 200: two failures')
})

t.test('off when the adapter says circuitBreaker: false; a request we abort ourselves counts for nothing', async t => {
  const { psp, set } = await switchablePsp(t)
  const h = await harness(t, psp.url, false)
  for (let i = 0; i < 8; i++) t.equal((await h.post(validBody)).statusCode, 502)
  t.equal(psp.requests, 8)

  set(() => {})
  for (const circuitBreaker of [{ failureThreshold: 1, coolDownMs: 60_000 }, false as const]) {
    const client = createPspClient({ psp: 'test', baseUrl: psp.url, circuitBreaker })
    t.teardown(() => client.close())
    for (let i = 0; i < 2; i++) {
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 50)
      await t.rejects(client.post('/x', { headers: {}, signal: controller.signal }), { code: 'CARD_FORWARDING_PSP_ERROR', reason: 'aborted', outcome: 'unknown' })
    }
    set(res => { res.writeHead(200, { 'content-type': 'application/json' }).end('{}') })
    t.same((await client.get('/x', { headers: {} })).body, {}, 'still closed after two aborts')
    set(() => {})
  }
})

t.test('a GET that cannot connect (no signal): a plain connection_refused', async t => {
  const client = createPspClient({ psp: 'test', baseUrl: await refusedUrl() })
  t.teardown(() => client.close())
  await t.rejects(client.get('/v1/x', { headers: {} }), { code: 'CARD_FORWARDING_PSP_ERROR', reason: 'connection_refused', outcome: 'not_sent' })
})
