import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Agent, request } from 'undici'
import { buildHarness, token, validBody, type HarnessOptions } from './helpers/harness.ts'

/** A harness listening on loopback, its route reachable from 127.0.0.1. */
async function listening (t: Test, plugin: HarnessOptions['plugin'] = {}, server: HarnessOptions['server'] = {}) {
  const h = await buildHarness(t, { plugin: { allowedIps: ['127.0.0.1/32'], ...plugin }, server })
  const url = await h.app.listen({ host: '127.0.0.1', port: 0 }) + '/v1/initiate-payment-sharing'
  const client = new Agent()
  t.teardown(() => client.close())
  const post = async (body: unknown = validBody) => {
    const res = await request(url, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token()}` },
      body: JSON.stringify(body)
    })
    return { statusCode: res.statusCode, headers: res.headers, json: await res.body.json() as any }
  }
  return { h, post }
}

/**
 * Records the close() and destroy() calls our code makes on undici Agents (undici's own close()
 * ends with an internal destroy() once everything has drained: that one is not ours).
 */
function spyAgents (t: Test) {
  const calls: Array<{ method: 'close' | 'destroy', at: number }> = []
  const original = { close: Agent.prototype.close, destroy: Agent.prototype.destroy }
  for (const method of ['close', 'destroy'] as const) {
    Agent.prototype[method] = function (this: Agent, ...args: any[]) {
      // Only the call our code made: undici's promise form calls itself again with a callback.
      if (args.length === 0 && new Error().stack?.includes('/lib/psp/client.ts') === true) calls.push({ method, at: Date.now() })
      return (original[method] as any).apply(this, args)
    } as any
  }
  t.teardown(() => Object.assign(Agent.prototype, original))
  return calls
}

/** Waits until the destination holds the forward: it is then in flight whatever the machine's load. */
async function untilForwarding (h: { destination: { received: unknown[] } }): Promise<void> {
  while (h.destination.received.length === 0) await sleep(10)
}

const other = { partnerPaymentReference: 'ORDER_BILLING', destination: validBody.destination }

t.test('app.close(): the forward in flight completes and is delivered, new requests get 503, the dispatcher is closed (not destroyed)', async t => {
  const { h, post } = await listening(t)
  h.destination.setDelay(600)
  const inFlight = post()
  await untilForwarding(h)
  const calls = spyAgents(t)
  const closing = h.app.close()
  await sleep(50)
  const refused = await post(other)
  t.equal(refused.statusCode, 503, 'a new request while closing')
  t.equal(refused.headers.connection, 'close')

  const done = await inFlight
  t.equal(done.statusCode, 200, 'the forward in flight completed')
  t.equal(done.json.body.status, 'tokenized', 'and its answer was delivered')
  await closing
  const forwarded = Date.parse(h.audits.find(a => a.event === 'forward_ok')?.time as string)
  t.same(calls.map(c => c.method), ['close'], "the adapter's dispatcher was closed, never destroyed")
  t.ok(calls[0].at >= forwarded, 'after the forward in flight completed')
  t.same(h.audits.map(a => a.event), ['accepted', 'forward_ok'])
  t.equal(h.destination.received.length, 1)
})

t.test('a host that turned off return503OnClosing still gets 503 + Retry-After from the route while closing', async t => {
  const { h, post } = await listening(t, {}, { return503OnClosing: false })
  h.destination.setDelay(600)
  const inFlight = post()
  await untilForwarding(h)
  const closing = h.app.close()
  await sleep(50)
  const refused = await post(other)
  t.equal(refused.statusCode, 503)
  t.same(refused.json, { statusCode: 503, code: 'CARD_FORWARDING_SHUTTING_DOWN', error: 'Service Unavailable', message: 'The server is shutting down, retry with the same Idempotency-Key' })
  t.equal(refused.headers['retry-after'], '1')
  t.equal(refused.headers.connection, 'close')
  t.equal((await inFlight).statusCode, 200)
  await closing
})

t.test('a forward still running when the grace ends is abandoned: 503, audited forward_unknown, close() does not hang', async t => {
  const { h, post } = await listening(t, { shutdownGraceMs: 200 })
  h.destination.setDelay(5000)
  const inFlight = post()
  await untilForwarding(h)
  const started = performance.now()
  await Promise.all([h.app.close(), inFlight.then(res => {
    t.equal(res.statusCode, 503)
    t.equal(res.json.code, 'CARD_FORWARDING_SHUTTING_DOWN')
    t.equal(res.headers['retry-after'], '1')
  })])
  t.ok(performance.now() - started < 2000, 'closed after the grace, not after the PSP')
  t.match(h.audits.at(-1), { event: 'forward_unknown', statusCode: 503, code: 'CARD_FORWARDING_SHUTTING_DOWN', reason: 'shutdown', psp: 'stripe' })
  t.notOk(h.audits.some(a => a.event === 'forward_failed'), 'unknown, never failed')
})

t.test('a request that reaches the PSP step during the grace starts no forward: 503, forward_failed, while the one under way completes', async t => {
  let release: () => void = () => {}
  let looking: () => void = () => {}
  const lookupStarted = new Promise<void>(resolve => { looking = resolve })
  const { h, post } = await listening(t, {
    shutdownGraceMs: 5000,
    resolvePaymentMethod: async ({ partnerPaymentReference }) => {
      if (partnerPaymentReference === 'ORDER_SLOW') {
        looking()
        await new Promise<void>(resolve => { release = resolve })
      }
      return { psp: 'psp', paymentMethod: 'pm_card_visa', billingAddress: { country: 'US' } }
    }
  })
  h.destination.setDelay(600)
  const underWay = post(other)
  await untilForwarding(h)
  const slow = post({ ...other, partnerPaymentReference: 'ORDER_SLOW' })
  await lookupStarted
  const closing = h.app.close()
  await sleep(50)
  release()
  const late = await slow
  t.equal(late.statusCode, 503)
  t.equal(late.json.code, 'CARD_FORWARDING_SHUTTING_DOWN')
  t.equal((await underWay).statusCode, 200, 'the forward under way was waited for')
  await closing
  t.equal(h.destination.received.length, 1, 'only the forward under way reached the destination')
  t.match(h.audits.find(a => a.code === 'CARD_FORWARDING_SHUTTING_DOWN'), { event: 'forward_failed', reason: 'shutdown' })
})

t.test('nothing is forwarded once the grace is over: a request still in the vault lookup, or waiting to retry, gives up', async t => {
  let release: () => void = () => {}
  const h = await buildHarness(t, {
    plugin: {
      shutdownGraceMs: 50,
      connectRetryDelayMs: 5000,
      resolvePaymentMethod: async ({ partnerPaymentReference }) => {
        if (partnerPaymentReference === 'ORDER_SLOW') await new Promise<void>(resolve => { release = resolve })
        return { psp: 'psp', paymentMethod: 'pm_card_visa', billingAddress: { country: 'US' } }
      }
    }
  })
  const slow = h.post({ ...other, partnerPaymentReference: 'ORDER_SLOW' })
  await sleep(50)
  await h.simulator.close()
  const retrying = h.post(other, { headers: { 'idempotency-key': 'k1' } })
  await sleep(100)
  const closing = h.app.close()
  await sleep(100)
  release()
  const [lookup, waiting] = await Promise.all([slow, retrying, closing])
  t.equal(lookup.statusCode, 503)
  t.equal(waiting.statusCode, 503)
  const events = h.audits.filter(a => a.code === 'CARD_FORWARDING_SHUTTING_DOWN')
  t.same(events.map(e => e.event), ['forward_failed', 'forward_failed'], 'nothing was sent: failed, not unknown')
  t.equal(h.destination.received.length, 0)
})

t.test('shutdownGraceMs, connectRetries and connectRetryDelayMs are checked', async t => {
  await t.rejects(buildHarness(t, { plugin: { shutdownGraceMs: -1 } }), /shutdownGraceMs: must be a non-negative integer/)
  await t.rejects(buildHarness(t, { plugin: { connectRetries: 6 } }), /connectRetries: must be an integer from 0 to 5/)
  await t.rejects(buildHarness(t, { plugin: { connectRetryDelayMs: 0 } }), /connectRetryDelayMs: must be an integer from 1 to 10000/)
})
