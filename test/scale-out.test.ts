import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { redisIdempotencyStore } from '../lib/stores/redis.ts'
import { buildHarness, DESTINATION, logLines, ROKT_API_KEY, validBody, type Harness } from './helpers/harness.ts'
import { connectClient, RedisServer, untilReady } from './helpers/redis-server.ts'

// Several plugin instances sharing one real Redis (the package's redisIdempotencyStore), each
// with its own ioredis client, as partners run them behind a load balancer; and Redis failing
// under them. Each test has its own redis-server on a free loopback port, with no persistence.
const withKey = (key: string) => ({ headers: { 'idempotency-key': key } })

async function redis (t: Test): Promise<RedisServer> {
  const server = await new RedisServer().start()
  t.teardown(() => server.stop())
  return server
}

/** An instance of the plugin over `server`, with its own client; `backend` (another instance) gives the PSP and destination to share. */
async function instance (t: Test, server: RedisServer, backend?: Harness): Promise<Harness & { client: Awaited<ReturnType<typeof connectClient>> }> {
  const client = await connectClient(server)
  t.teardown(() => { client.disconnect() })
  const shared = backend === undefined
    ? {}
    : {
        psps: { psp: backend.kit.adapter(backend.simulator.url) },
        destinations: { [DESTINATION]: { url: backend.destination.url, headers: { 'x-rokt-api-key': ROKT_API_KEY } } }
      }
  const h = await buildHarness(t, {
    plugin: { idempotencyStore: redisIdempotencyStore({ client, timeoutMs: 300 }), ...shared },
    before: app => { app.get('/health', async () => ({ ok: true })) }
  })
  return Object.assign(h, { client })
}

t.test('two instances, one Redis: a concurrent duplicate on the other instance gets 409, a retry there is replayed, the card goes once', async t => {
  const server = await redis(t)
  const a = await instance(t, server)
  const b = await instance(t, server, a)
  a.destination.setDelay(400)
  const [first, duplicate] = await Promise.all([a.post(validBody, withKey('k1')), sleep(100).then(() => b.post(validBody, withKey('k1')))])
  t.equal(first.statusCode, 200)
  t.equal(duplicate.statusCode, 409)
  t.equal(duplicate.json.code, 'CARD_FORWARDING_REQUEST_IN_PROGRESS')
  const retry = await b.post(validBody, withKey('k1'))
  t.equal(retry.statusCode, 200)
  t.equal(retry.headers['idempotent-replayed'], 'true', 'replayed from the answer instance A stored')
  t.same(retry.json, first.json)
  t.equal(a.destination.received.length, 1, 'one forward in all')
  t.match(b.audits.map(e => e.event), ['validation_failed', 'duplicate_replayed'])

  const [one, other] = await Promise.all([a.post(validBody, withKey('k2')), sleep(100).then(() => b.post(validBody, withKey('k3')))])
  t.same([one.statusCode, other.statusCode], [200, 409], 'another key for the same reference is refused while it is in flight on the other instance')
  t.equal((await b.post(validBody, withKey('k3'))).statusCode, 200, 'and goes through once it is not')
  t.equal(a.destination.received.length, 3)
  t.equal((await b.post({ ...validBody, customerIdentifiers: { email: 'other@example.com' } }, withKey('k1'))).statusCode, 422, 'the key\'s body is known on every instance')
})

t.test('Redis down: 503 with Retry-After, nothing forwarded, audited; the process stays healthy and recovers by itself', async t => {
  const server = await redis(t)
  const h = await instance(t, server)
  t.equal((await h.post(validBody, withKey('before'))).statusCode, 200)
  await server.kill()
  for (const key of ['down-1', 'down-2']) {
    const res = await h.post(validBody, withKey(key))
    t.equal(res.statusCode, 503)
    t.equal(res.json.code, 'CARD_FORWARDING_STORE_UNAVAILABLE')
    t.equal(res.headers['retry-after'], '1')
    t.match(h.audits.at(-1), { event: 'store_unavailable', statusCode: 503, reason: 'offline' })
  }
  t.equal((await h.post(validBody)).statusCode, 503, 'without a key too: the reference lock is in the store')
  t.equal(h.destination.received.length, 1, 'nothing forwarded that could not be locked')
  t.equal((await h.app.inject('/health')).statusCode, 200, 'the host\'s other routes keep serving')
  await server.start(server.port)
  await untilReady(h.client)
  t.equal((await h.post(validBody, withKey('down-1'))).statusCode, 200, 'recovered without a restart')
  t.equal(h.destination.received.length, 2)
})

t.test('Redis killed during a forward, then restarted: the answer is delivered, the failure logged without secrets', async t => {
  const server = await redis(t)
  const h = await instance(t, server)
  h.destination.setDelay(500)
  const pending = h.post(validBody, withKey('mid-flight'))
  await sleep(200)
  await server.kill()
  const res = await pending
  t.equal(res.statusCode, 200, 'the card was forwarded: Rokt gets its answer')
  t.equal(h.destination.received.length, 1)
  const logged = logLines.join('')
  t.match(logged, /could not store the idempotent response/)
  t.match(logged, /"reason":"(?:offline|connection_closed|MaxRetriesPerRequestError)"/)
  t.notMatch(logged, /rokt-card-forwarding:idem:|rokt_tok_/, 'neither a key nor the stored answer reaches the log')
  t.equal((await h.post(validBody, withKey('meanwhile'))).statusCode, 503)
  await server.start(server.port)
  await untilReady(h.client)
  // No persistence: the restarted Redis lost the claim, so the retry goes to the PSP again with the
  // same PSP idempotency key, and the PSP answers it from the first outcome.
  const retry = await h.post(validBody, withKey('mid-flight'))
  t.equal(retry.statusCode, 200)
  t.equal(h.destination.received.length, 1, 'the PSP replayed: still one card at the destination')
})

t.test('Redis unresponsive (SIGSTOP): 503 within the store\'s timeout, then served again once it answers', async t => {
  const server = await redis(t)
  const h = await instance(t, server)
  t.equal((await h.post(validBody, withKey('warm'))).statusCode, 200)
  server.pause()
  const started = Date.now()
  const res = await h.post(validBody, withKey('paused'))
  t.equal(res.statusCode, 503)
  t.ok(Date.now() - started < 1000, `answered in ${Date.now() - started} ms`)
  t.match(h.audits.at(-1), { event: 'store_unavailable', reason: 'timeout_300ms' })
  server.resume()
  await untilReady(h.client)
  t.equal((await h.post(validBody, withKey('paused'))).statusCode, 200, 'the claim that landed late was released, so the retry is not a 409')
})
