import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import cardForwarding, { stripe, type ForwardMetric, type PspAdapter, type StripeOptions } from '../index.ts'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { AUDIENCE, buildHarness, DESTINATION, ISSUER, rsaKeys, validBody, type HarnessOptions } from './helpers/harness.ts'
import { refusedUrl, startFaultyPsp, VAULTED_WITH_BILLING } from './helpers/faulty-psp.ts'

// The overall deadline of a forward (forwardTimeoutMs): the resolver and the PSP call together,
// well inside the 120 s idempotency lease, so no forward outlives its lock.
const DEADLINE = 1500
const withKey = (key: string) => ({ headers: { 'idempotency-key': key } })

async function harness (t: Test, adapter: Partial<StripeOptions>, plugin: HarnessOptions['plugin'] = {}) {
  const metrics: ForwardMetric[] = []
  const h = await buildHarness(t, {
    plugin: {
      psps: { psp: stripe({ apiKey: STRIPE_SANDBOX_API_KEY, circuitBreaker: false, ...adapter }) },
      forwardTimeoutMs: DEADLINE,
      onForward: event => { metrics.push(event) },
      ...plugin
    }
  })
  h.vault.set('ORDER_67890', VAULTED_WITH_BILLING)
  return Object.assign(h, { metrics })
}

/** A PSP that answers at once with headers, then trickles its body one byte a second: no per-phase timeout ever fires. */
async function tricklingPsp (t: Test) {
  return await startFaultyPsp(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
    const timer = setInterval(() => res.write(' '), 1000)
    res.write('{')
    res.on('close', () => clearInterval(timer))
  })
}

t.test('a PSP that trickles its answer is cut off at the deadline: 504, outcome unknown, and the lock is free again', async t => {
  const psp = await tricklingPsp(t)
  const h = await harness(t, { baseUrl: psp.url })
  const started = Date.now()
  const res = await h.post(validBody, withKey('trickle'))
  const took = Date.now() - started
  t.equal(res.statusCode, 504)
  t.same(res.json, { statusCode: 504, code: 'CARD_FORWARDING_PSP_TIMEOUT', error: 'Gateway Timeout', message: 'stripe did not answer in time' })
  t.ok(took >= DEADLINE && took < DEADLINE + 1000, `cut off after ${took} ms, with the 10 s body timeout never reached`)
  t.match(h.audits.at(-1), { event: 'forward_unknown', reason: 'deadline', code: 'CARD_FORWARDING_PSP_TIMEOUT' })
  t.match(h.metrics.at(-1), { outcome: 'unknown', statusCode: 504, code: 'CARD_FORWARDING_PSP_TIMEOUT' })
  const again = await h.post(validBody, withKey('trickle'))
  t.equal(again.statusCode, 504, 'a retry is not refused as in progress: the forward ended before its lease')
  t.equal(psp.requests, 2)
})

t.test('a resolver that hangs is cut off at the deadline: 504 CARD_FORWARDING_VAULT_TIMEOUT, nothing forwarded, its signal aborted', async t => {
  let seen: AbortSignal | undefined
  const h = await harness(t, {}, {
    resolvePaymentMethod: async (_body, _request, { signal }) => {
      seen = signal
      return await new Promise(() => {})
    }
  })
  const started = Date.now()
  const res = await h.post(validBody, withKey('hang'))
  t.equal(res.statusCode, 504)
  t.same(res.json, { statusCode: 504, code: 'CARD_FORWARDING_VAULT_TIMEOUT', error: 'Gateway Timeout', message: 'The payment method lookup did not finish in time' })
  t.ok(Date.now() - started >= DEADLINE)
  t.equal(seen?.aborted, true, 'the resolver was told')
  t.match(h.audits.at(-1), { event: 'forward_failed', reason: 'resolver_timeout', statusCode: 504 })
  t.notOk(h.audits.some(a => a.event === 'accepted'), 'never accepted for a PSP')
  t.equal(h.simulator.calls, 0, 'nothing was sent to a PSP: a plain failure, not an unknown outcome')
  t.equal(h.metrics.length, 0, 'no forward was attempted')
})

t.test('a resolver that honours its signal fails the same way, whatever it rejects with', async t => {
  const h = await harness(t, {}, {
    resolvePaymentMethod: async (_body, _request, { signal }) => await new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => { reject(Object.assign(new Error('query cancelled'), { statusCode: 499 })) })
    })
  })
  const res = await h.post(validBody)
  t.equal(res.json.code, 'CARD_FORWARDING_VAULT_TIMEOUT')
  t.equal(h.simulator.calls, 0)
})

t.test('a resolver that answers just after the deadline did not answer in time: nothing forwarded', async t => {
  const h = await harness(t, {}, {
    resolvePaymentMethod: async () => { await sleep(DEADLINE + 30); return VAULTED_WITH_BILLING }
  })
  const res = await h.post(validBody)
  t.equal(res.json.code, 'CARD_FORWARDING_VAULT_TIMEOUT')
  t.equal(h.simulator.calls, 0)
})

t.test('one deadline for the resolver and the PSP together', async t => {
  const psp = await tricklingPsp(t)
  const h = await harness(t, { baseUrl: psp.url }, {
    resolvePaymentMethod: async () => { await sleep(1000); return VAULTED_WITH_BILLING }
  })
  const started = Date.now()
  const res = await h.post(validBody)
  const took = Date.now() - started
  t.equal(res.json.code, 'CARD_FORWARDING_PSP_TIMEOUT')
  t.ok(took >= DEADLINE && took < DEADLINE + 900, `${took} ms: the PSP had only what the resolver left`)
})

t.test('cut off while waiting to retry a refused connection: nothing was sent, so the failure is plain', async t => {
  const h = await harness(t, { baseUrl: await refusedUrl() }, { connectRetries: 1, connectRetryDelayMs: 10_000 })
  const res = await h.post(validBody, withKey('refused'))
  t.equal(res.json.code, 'CARD_FORWARDING_PSP_TIMEOUT')
  t.match(h.audits.at(-1), { event: 'forward_failed', reason: 'deadline' })
  t.match(h.metrics.at(-1), { outcome: 'failed' })
})

t.test('an adapter that ignores its signal is still answered at the deadline', async t => {
  const deaf: PspAdapter = { name: 'deaf', isRecord: (_r): _r is any => true, forward: async () => await new Promise(() => {}) }
  const h = await harness(t, {}, { psps: { psp: deaf } })
  const started = Date.now()
  const res = await h.post(validBody)
  t.same([res.statusCode, res.json.message], [504, 'deaf did not answer in time'])
  t.ok(Date.now() - started < DEADLINE + 600)
  t.match(h.audits.at(-1), { event: 'forward_unknown', reason: 'deadline' })
})

t.test('an adapter that rejects after it was cut off: the answer is still the deadline\'s 504, and its late rejection is handled', async t => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  const late: PspAdapter = { name: 'late', isRecord: (_r): _r is any => true, forward: async () => { await sleep(DEADLINE + 400); throw new Error('too late') } }
  const h = await harness(t, {}, { psps: { psp: late } })
  const res = await h.post(validBody)
  t.same([res.statusCode, res.json.message], [504, 'late did not answer in time'])
  await sleep(600)
  t.same(unhandled, [], 'no unhandled rejection')
})

t.test('an adapter whose forward throws synchronously (not async) is the adapter\'s fault: 502 adapter_error', async t => {
  const broken: PspAdapter = { name: 'broken', isRecord: (_r): _r is any => true, forward: () => { throw new Error('sync') } }
  const h = await harness(t, {}, { psps: { psp: broken } })
  const res = await h.post(validBody)
  t.equal(res.statusCode, 502)
  t.match(h.audits.at(-1), { event: 'forward_failed', reason: 'adapter_error' })
})

t.test('the signal is an AbortSignal made when first read: one read after the deadline is already aborted, with the deadline\'s reason', async t => {
  let late: AbortSignal | undefined
  let read!: () => void
  const readLate = new Promise<void>(resolve => { read = resolve })
  const h = await harness(t, {}, {
    resolvePaymentMethod: async (_body, _request, context) => {
      await sleep(DEADLINE + 50)
      late = context.signal
      read()
      return null
    }
  })
  const res = await h.post(validBody)
  t.equal(res.json.code, 'CARD_FORWARDING_VAULT_TIMEOUT')
  await readLate
  t.ok(late instanceof AbortSignal, 'a real AbortSignal')
  t.equal(late?.aborted, true, 'aborted when made')
  t.match(late?.reason, { name: 'TimeoutError' })
})

t.test('a custom adapter that reads its signal gets an AbortSignal that the deadline aborts', async t => {
  let seen: AbortSignal | undefined
  const listening: PspAdapter = {
    name: 'listening',
    isRecord: (_r): _r is any => true,
    forward: async ({ signal }) => await new Promise((_resolve, reject) => {
      seen = signal
      signal?.addEventListener('abort', () => { reject(signal.reason) })
    })
  }
  const h = await harness(t, {}, { psps: { psp: listening } })
  const res = await h.post(validBody)
  t.same([res.statusCode, res.json.code], [504, 'CARD_FORWARDING_PSP_TIMEOUT'])
  t.ok(seen instanceof AbortSignal)
  t.match(seen?.reason, { name: 'TimeoutError' }, 'aborted with the deadline\'s reason')
  t.match(h.audits.at(-1), { event: 'forward_unknown', reason: 'deadline' })
})

t.test('forwardTimeoutMs must leave the forward inside its 120 s lease', async t => {
  const register = async (forwardTimeoutMs: unknown) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(cardForwarding, {
      allowedIps: ['203.0.113.0/24'],
      auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE },
      resolvePaymentMethod: async () => null,
      psps: { psp: stripe({ apiKey: STRIPE_SANDBOX_API_KEY }) },
      destinations: { [DESTINATION]: { url: 'https://rokt.example/cards' } },
      forwardTimeoutMs: forwardTimeoutMs as number
    })
    await app.ready()
  }
  for (const bad of [120_000, 110_001, 999, 1500.5, '60000']) {
    await t.rejects(register(bad), /^forwardTimeoutMs: must be an integer from 1000 to 110000 \(ms\), so that a forward always ends within its 120000 ms idempotency lease/, String(bad))
  }
  await t.resolves(register(110_000))
  await t.resolves(register(undefined))
})
