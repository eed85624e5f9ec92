import { totalmem } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { getHeapStatistics } from 'node:v8'
import underPressure from '@fastify/under-pressure'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import cardForwarding, { hashClientSecret, stripe } from '../index.ts'
import { defaultMaxRss, loadSheddingDefaults } from '../lib/options/load-shedding.ts'
import { generateTestKeys } from '../lib/sandbox/tokens.ts'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import type { LoadSheddingOptions } from '../types/index.ts'
import { AUDIENCE, buildHarness, DESTINATION, ISSUER, rsaKeys, token, validBody, type Harness, type HarnessOptions } from './helpers/harness.ts'

/** Blocks the event loop for `blockMs` out of every `everyMs` until stopped: a sustained event-loop delay. */
function busyLoop (t: Test, blockMs = 60, everyMs = 70): () => void {
  const timer = setInterval(() => {
    const end = Date.now() + blockMs
    while (Date.now() < end);
  }, everyMs)
  const stop = () => clearInterval(timer)
  t.teardown(stop)
  return stop
}

async function shedHarness (t: Test, loadShedding: LoadSheddingOptions | false, more: HarnessOptions = {}): Promise<Harness> {
  return await buildHarness(t, {
    ...more,
    before: async app => {
      app.get('/healthz', async () => ({ ok: true }))
      await more.before?.(app)
    },
    plugin: { loadShedding }
  })
}

async function untilStatus (h: Harness, status: number, post = () => h.post(validBody)) {
  for (let i = 0; i < 100; i++) {
    const res = await post()
    if (res.statusCode === status) return res
    await sleep(20)
  }
  throw new Error(`never answered ${status}`)
}

t.test('event-loop delay over the threshold: 503 + Retry-After before IP, token or PSP work; the host routes are untouched', async t => {
  const h = await shedHarness(t, { maxEventLoopDelay: 30, sampleInterval: 50 })
  t.equal((await h.post(validBody)).statusCode, 200, 'healthy at first')
  const stop = busyLoop(t)
  const shed = await untilStatus(h, 503)
  t.same(shed.json, { statusCode: 503, code: 'FST_UNDER_PRESSURE', error: 'Service Unavailable', message: 'Service Unavailable' })
  t.equal(shed.headers['retry-after'], '5', 'the default Retry-After')

  const before = h.audits.length
  const forwarded = h.simulator.calls
  const stranger = await h.post(validBody, { ip: '198.51.100.9', token: null })
  t.equal(stranger.statusCode, 503, 'decided before the IP allowlist and the token (no crypto)')
  t.equal(h.audits.length, before, 'no IP or auth decision was taken, so none audited')
  t.equal((await h.app.inject('/healthz')).statusCode, 200, "the host's route is not shed")
  t.equal(h.simulator.calls, forwarded, 'nothing reached the PSP while shedding')

  stop()
  await untilStatus(h, 200)
  t.equal(h.simulator.calls, forwarded + 1, 'back to forwarding once the loop is free')
})

t.test("the token endpoint sheds too, answered by the plugin's error handler, never the host's", async t => {
  const h = await buildHarness(t, {
    before: app => { app.setErrorHandler((err, _request, reply) => { reply.code(500).send({ host: true, message: (err as Error).message }) }) },
    plugin: {
      loadShedding: { maxEventLoopDelay: 30, sampleInterval: 50 },
      auth: { issuer: ISSUER, audience: AUDIENCE },
      tokenEndpoint: { privateKey: generateTestKeys('ES256').privateKey, clients: [{ clientId: 'rokt', secretHash: hashClientSecret('s'.repeat(43)) }], allowedIps: ['203.0.113.0/24'] }
    }
  })
  const askToken = () => h.app.inject({ method: 'POST', url: '/oauth/token', remoteAddress: '203.0.113.7', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' })
    .then(res => ({ statusCode: res.statusCode, headers: res.headers, json: res.json() }))
  t.equal((await askToken()).statusCode, 401, 'healthy at first (no credentials)')
  busyLoop(t)
  const shed = await untilStatus(h, 503, askToken)
  t.same(shed.json, { statusCode: 503, code: 'FST_UNDER_PRESSURE', error: 'Service Unavailable', message: 'Service Unavailable' })
})

t.test('heap and RSS thresholds shed too; each threshold at 0 is off, and loadShedding: false registers nothing', async t => {
  for (const limits of [{ maxHeapUsedBytes: 1 }, { maxRssBytes: 1 }]) {
    const h = await shedHarness(t, { ...limits, sampleInterval: 20, retryAfter: 2 })
    const shed = await untilStatus(h, 503)
    t.equal(shed.headers['retry-after'], '2', JSON.stringify(limits))
  }
  const off = await shedHarness(t, { maxEventLoopDelay: 0, maxHeapUsedBytes: 0, maxRssBytes: 0, sampleInterval: 20 })
  const none = await shedHarness(t, false)
  const stop = busyLoop(t)
  await sleep(200)
  t.equal((await off.post(validBody)).statusCode, 200, 'all thresholds at 0: never shed')
  t.equal((await none.post(validBody)).statusCode, 200, 'off')
  stop()
})

t.test("a host's own @fastify/under-pressure keeps working beside the plugin's (either order)", async t => {
  let healthy = true
  const hostPressure = async (app: Harness['app']) => {
    await app.register(underPressure, { exposeStatusRoute: true, healthCheck: async () => healthy, healthCheckInterval: 20 })
  }
  const first = await shedHarness(t, { maxEventLoopDelay: 30, sampleInterval: 50 }, { before: hostPressure })
  t.equal((await first.app.inject('/status')).statusCode, 200, "the host's status route")
  t.type(first.app.memoryUsage().heapUsed, 'number', "the host's decorator")
  t.equal((await first.post(validBody)).statusCode, 200)

  const after = Fastify()
  t.teardown(() => after.close())
  await after.register(cardForwarding, {
    allowedIps: ['203.0.113.0/24'],
    auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE },
    resolvePaymentMethod: async () => null,
    psps: { stripe: stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: 'http://127.0.0.1:9' }) },
    destinations: { [DESTINATION]: { url: 'http://127.0.0.1:9/cards' } },
    allowInsecureUrls: true
  })
  await after.register(underPressure, { exposeStatusRoute: '/host-status' })
  t.equal((await after.inject('/host-status')).statusCode, 200, 'registered after the plugin, too')
  const res = await after.inject({ method: 'POST', url: '/v1/initiate-payment-sharing', remoteAddress: '203.0.113.7', headers: { authorization: `Bearer ${token()}` }, payload: validBody })
  t.equal(res.statusCode, 404, 'and the route still answers')

  healthy = false
  await sleep(60)
  t.equal((await first.app.inject('/healthz')).statusCode, 503, "the host's own check sheds the host's routes, as the host asked")
})

t.test('defaults and option checks', async t => {
  const defaults = loadSheddingDefaults()
  t.equal(defaults.maxEventLoopDelay, 1000)
  t.equal(defaults.maxHeapUsedBytes, Math.floor(getHeapStatistics().heap_size_limit * 0.9))
  t.ok(defaults.maxRssBytes > 0 && defaults.maxRssBytes <= totalmem())
  t.same([defaults.maxEventLoopUtilization, defaults.retryAfter, defaults.sampleInterval], [0, 5, 1000])
  t.equal(defaultMaxRss(undefined, 1000), 900, 'no cgroup limit: the host memory')
  t.equal(defaultMaxRss(0, 1000), 900, 'Node 22 reports no limit as 0')
  t.equal(defaultMaxRss(500, 1000), 450, 'a container limit')
  t.equal(defaultMaxRss(2 ** 62, 1000), 900, 'an unlimited cgroup reports a huge number')

  const bad: Array<[unknown, RegExp]> = [
    ['on', /loadShedding: must be an object or false/],
    [null, /loadShedding: must be an object or false/],
    [{ maxEventLoopDelay: -1 }, /loadShedding.maxEventLoopDelay: must be a non-negative number/],
    [{ maxRssBytes: '1' }, /loadShedding.maxRssBytes/],
    [{ maxEventLoopUtilization: 2 }, /maxEventLoopUtilization: must be from 0 to 1/],
    [{ retryAfter: 0 }, /retryAfter: must be at least 1/]
  ]
  for (const [loadShedding, message] of bad) {
    await t.rejects(buildHarness(t, { plugin: { loadShedding: loadShedding as any } }), message)
  }
})
