import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Redis as Redis6 } from 'ioredis-6'
import { createClient } from 'redis'
import { IdempotencyStoreUnavailableError, redisIdempotencyStore, SCRIPTS, type RedisScriptClient } from '../lib/stores/redis.ts'
import type { IdempotencyClaim, IdempotencyStore } from '../index.ts'
import { connectClient, RECOMMENDED_CLIENT, RedisServer, untilReady } from './helpers/redis-server.ts'

// The Redis store against a real redis-server of its own (no persistence, a free loopback port).
const server = await new RedisServer().start()
const client = await connectClient(server)
t.teardown(async () => {
  client.disconnect()
  await server.stop()
})
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => { unhandled.push(reason) }
process.on('unhandledRejection', onUnhandled)
t.teardown(() => {
  process.off('unhandledRejection', onUnhandled)
  if (unhandled.length > 0) throw new Error(`unhandled rejections: ${unhandled.length}`)
})
t.beforeEach(async () => { await client.flushdb() })

const ok = { statusCode: 200, body: { status: 200, body: { token: 'rokt_tok_1' }, nested: [1, 'two', null] } }
const PREFIX = 'rokt-card-forwarding:idem:'

function ownerOf (claim: IdempotencyClaim): string {
  if (claim.state !== 'claimed') throw new Error(`expected a claim, got ${claim.state}`)
  return claim.owner
}

/** The node-redis adapter the README gives (node-redis has no positional evalsha/eval). */
function nodeRedisScripts (c: { sendCommand: (args: string[]) => Promise<unknown> }): RedisScriptClient {
  return {
    evalsha: (sha, numKeys, ...args) => c.sendCommand(['EVALSHA', sha, String(numKeys), ...args]),
    eval: (lua, numKeys, ...args) => c.sendCommand(['EVAL', lua, String(numKeys), ...args])
  }
}

t.test('every operation, over ioredis 5, ioredis 6 (RESP3) and node-redis 6 through the README\'s adapter', async t => {
  const redis6 = new Redis6({ host: '127.0.0.1', port: server.port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 })
  redis6.on('error', () => {})
  await redis6.connect()
  t.teardown(() => { redis6.disconnect() })
  const nodeRedis = createClient({ socket: { host: '127.0.0.1', port: server.port }, disableOfflineQueue: true })
  nodeRedis.on('error', () => {})
  await nodeRedis.connect()
  t.teardown(() => nodeRedis.destroy())
  const clients: Array<[string, RedisScriptClient]> = [['ioredis 5', client], ['ioredis 6', redis6], ['node-redis 6', nodeRedisScripts(nodeRedis)]]

  for (const [name, c] of clients) {
    await client.flushdb()
    await client.script('FLUSH')
    const store = redisIdempotencyStore({ client: c })
    const claim = await store.begin('k', 'fp', 10_000)
    t.match(claim, { state: 'claimed', owner: /^[\da-f]{8}-[\da-f]{4}-4[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/ }, `${name}: begin claims a free key`)
    t.same(await store.begin('k', 'other', 10_000), { state: 'in_flight', fingerprint: 'fp' }, `${name}: the next caller sees it in flight, without its owner`)
    const lease = await client.pttl(PREFIX + 'k')
    t.ok(lease > 9000 && lease <= 10_000, `${name}: the lease is the key's expiry (${lease})`)
    t.same(Object.keys(await client.hgetall(PREFIX + 'k')).sort(), ['f', 'o'], `${name}: a small hash`)
    t.equal(await store.complete('k', ownerOf(claim), ok, 60_000), true, `${name}: complete`)
    t.same(await store.begin('k', 'fp', 10_000), { state: 'completed', fingerprint: 'fp', response: ok }, `${name}: replayed`)
    const ttl = await client.pttl(PREFIX + 'k')
    t.ok(ttl > 59_000 && ttl <= 60_000, `${name}: kept for ttlMs (${ttl})`)
    t.equal(await store.complete('k', ownerOf(claim), ok, 60_000), true, `${name}: completing again with the same owner is harmless`)
    t.equal(await store.release('k', ownerOf(claim)), false, `${name}: a completed record is never released`)
    const next = await store.begin('r', '', 10_000)
    t.same(await store.begin('r', '', 10_000), { state: 'in_flight', fingerprint: '' }, `${name}: an empty fingerprint (the reference lock)`)
    t.equal(await store.release('r', ownerOf(next)), true, `${name}: release`)
    t.equal(await store.release('r', ownerOf(next)), false, `${name}: released once`)
    t.equal((await store.begin('r', '', 10_000)).state, 'claimed', `${name}: free again`)
    t.equal(await store.complete('none', 'token', ok, 5000), false, `${name}: complete of a key never claimed`)
    t.equal(await store.release('none', 'token'), false, `${name}: release of a key never claimed`)
    t.equal(await client.exists(PREFIX + 'none'), 0, `${name}: creates nothing`)
  }
})

t.test('a response without a body, a configurable prefix, and the client\'s own keyPrefix', async t => {
  const prefixed = await connectClient(server, { ...RECOMMENDED_CLIENT, keyPrefix: 'app:' })
  t.teardown(() => { prefixed.disconnect() })
  const store = redisIdempotencyStore({ client: prefixed, prefix: 'idem:' })
  const owner = ownerOf(await store.begin('k', 'fp', 10_000))
  t.equal(await client.exists('app:idem:k'), 1)
  t.equal(await store.complete('k', owner, { statusCode: 204, body: undefined }, 5000), true)
  t.same(await store.begin('k', 'fp', 10_000), { state: 'completed', fingerprint: 'fp', response: { statusCode: 204, body: undefined } })
})

t.test('concurrent begins across clients: exactly one claim', async t => {
  const other = await connectClient(server)
  t.teardown(() => { other.disconnect() })
  const stores = [redisIdempotencyStore({ client }), redisIdempotencyStore({ client: other })]
  const claims = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % 2].begin('race', `fp${i}`, 10_000)))
  t.equal(claims.filter(c => c.state === 'claimed').length, 1)
  t.equal(claims.filter(c => c.state === 'in_flight').length, 49)
})

t.test('fencing: a holder whose lease lapsed can neither complete nor release the next claim, nor bring its record back', async t => {
  const store = redisIdempotencyStore({ client })
  const stale = ownerOf(await store.begin('k', 'fp', 50))
  await sleep(80)
  const fresh = ownerOf(await store.begin('k', 'fp', 10_000))
  t.not(fresh, stale)
  t.equal(await store.complete('k', stale, ok, 60_000), false, 'cannot overwrite the new claim')
  t.equal(await store.release('k', stale), false, 'cannot free it')
  t.same(await store.begin('k', 'x', 10_000), { state: 'in_flight', fingerprint: 'fp' }, 'the new claim stands')
  t.equal(await store.complete('k', fresh, ok, 60_000), true)
  t.equal(await store.release('k', 'not-the-owner'), false, 'an unknown token changes nothing')

  const lapsed = ownerOf(await store.begin('gone', 'fp', 30))
  await sleep(60)
  t.equal(await store.complete('gone', lapsed, ok, 60_000), false)
  t.equal(await client.exists(PREFIX + 'gone'), 0, 'nothing resurrected')
})

t.test('expiry: an in-flight lease lapses, a completed record lapses after ttlMs', async t => {
  const store = redisIdempotencyStore({ client })
  t.equal((await store.begin('k', 'fp', 40)).state, 'claimed')
  t.equal((await store.begin('k', 'fp', 40)).state, 'in_flight')
  await sleep(70)
  const owner = ownerOf(await store.begin('k', 'fp', 10_000))
  await store.complete('k', owner, ok, 40)
  t.equal((await store.begin('k', 'fp', 10_000)).state, 'completed')
  await sleep(70)
  t.equal((await store.begin('k', 'fp', 10_000)).state, 'claimed')
})

t.test('scripts: the SHA1s are what SCRIPT LOAD computes; after SCRIPT FLUSH each is reloaded through EVAL once', async t => {
  for (const { lua, sha } of Object.values(SCRIPTS)) t.equal(await client.script('LOAD', lua), sha)
  const sent: string[] = []
  const spy: RedisScriptClient = {
    evalsha: async (...a) => { sent.push('evalsha'); return await client.evalsha(...a) },
    eval: async (...a) => { sent.push('eval'); return await client.eval(...a) }
  }
  const store = redisIdempotencyStore({ client: spy })
  await store.begin('warm', 'fp', 1000)
  t.same(sent, ['evalsha'], 'loaded: EVALSHA only')
  await client.script('FLUSH')
  const owner = ownerOf(await store.begin('k', 'fp', 10_000))
  t.same(sent, ['evalsha', 'evalsha', 'eval'], 'NOSCRIPT, then EVAL (which caches the script)')
  t.equal(await store.complete('k', owner, ok, 5000), true)
  t.same(await client.script('EXISTS', SCRIPTS.begin.sha, SCRIPTS.complete.sha, SCRIPTS.release.sha), [1, 1, 0])
  await store.begin('k', 'fp', 10_000)
  t.same(sent, ['evalsha', 'evalsha', 'eval', 'evalsha', 'eval', 'evalsha'])
})

t.test('errors: a Redis error is a 503 naming the operation and the Redis code, never a key or a value', async t => {
  const store = redisIdempotencyStore({ client, prefix: 'secret-prefix:' })
  await client.set('secret-prefix:secret-key', 'a string, not a hash')
  const err = await store.begin('secret-key', 'secret-fp', 1000).catch((e: unknown) => e) as any
  t.ok(err instanceof IdempotencyStoreUnavailableError)
  t.match(err, { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', statusCode: 503, operation: 'begin', reason: 'WRONGTYPE', retryAfter: 1 })
  t.equal(err.message, 'The idempotency store is unavailable, retry later')
  t.equal(err.cause, undefined, 'no cause: ioredis errors carry the command\'s arguments')
  t.notMatch(JSON.stringify({ ...err, message: err.message, stack: err.stack }), /secret/)
  await t.rejects(store.complete('secret-key', 'o', ok, 1000), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', operation: 'complete', reason: 'WRONGTYPE' })
  await t.rejects(store.release('secret-key', 'o'), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', operation: 'release', reason: 'WRONGTYPE' })
})

t.test('errors: garbage in a record or in a reply is bad_reply, not a crash', async t => {
  const store = redisIdempotencyStore({ client })
  const garbage: Array<[string, string[]]> = [
    ['not json', ['f', 'fp', 'o', 'x', 'r', '{not json']],
    ['no status', ['f', 'fp', 'o', 'x', 'r', '{"body":1}']],
    ['null', ['f', 'fp', 'o', 'x', 'r', 'null']]
  ]
  for (const [name, fields] of garbage) {
    await client.del(PREFIX + 'k')
    await client.hset(PREFIX + 'k', ...fields)
    await t.rejects(store.begin('k', 'fp', 1000), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', reason: 'bad_reply' }, name)
  }
  const replies: unknown[] = ['OK', ['in_flight', 1, 'x'], ['weird', 'fp', 'x']]
  for (const reply of replies) {
    const odd = redisIdempotencyStore({ client: { evalsha: async () => reply, eval: async () => reply } })
    await t.rejects(odd.begin('k', 'fp', 1000), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', reason: 'bad_reply' }, JSON.stringify(reply))
  }
  const numbers = redisIdempotencyStore({ client: { evalsha: async () => '1', eval: async () => '1' } })
  t.equal(await numbers.release('k', 'o'), true, 'a 1 sent as a string (ioredis stringNumbers) counts')
})

t.test('a begin answered in_flight with our own token (a command resent after a reconnect) is our claim', async t => {
  const resent: RedisScriptClient = { evalsha: async (_sha, _n, _key, print, owner) => ['in_flight', print, owner], eval: async () => [] }
  t.equal((await redisIdempotencyStore({ client: resent }).begin('k', 'fp', 1000)).state, 'claimed')
})

t.test('a call that hangs fails after timeoutMs and sends nothing more; a late claim is released with its token', async t => {
  const sent: string[] = []
  const hang: RedisScriptClient = {
    evalsha: async () => { sent.push('evalsha'); await sleep(100); throw new Error('NOSCRIPT late') },
    eval: async () => { sent.push('eval'); return ['claimed'] }
  }
  const store = redisIdempotencyStore({ client: hang, timeoutMs: 30 })
  const started = Date.now()
  await t.rejects(store.begin('k', 'fp', 1000), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', operation: 'begin', reason: 'timeout_30ms' })
  t.ok(Date.now() - started < 90, 'at the timeout')
  await sleep(150)
  t.same(sent, ['evalsha', 'evalsha'], 'begin, then the release of its token; no NOSCRIPT was followed by an EVAL')
  const failing: RedisScriptClient = { evalsha: async () => { throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }, eval: async () => [] }
  await t.rejects(redisIdempotencyStore({ client: failing }).release('k', 'o'), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', reason: 'ECONNREFUSED' })
  // A client that rejects with something that is not an Error: its text is never the reason.
  const thrown: RedisScriptClient = { evalsha: async () => { throw Object.assign(Object.create(null), { message: 'WRONGTYPE key:1f2e' }) }, eval: async () => [] }
  await t.rejects(redisIdempotencyStore({ client: thrown }).release('k', 'o'), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', reason: 'error' })
})

t.test('the reasons a real ioredis client gives: a closed connection, its own command timeout', async t => {
  const closed = await connectClient(server, {})
  closed.disconnect()
  await t.rejects(redisIdempotencyStore({ client: closed }).begin('k', 'fp', 1000), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', reason: 'connection_closed' })
  const { own, c, store } = await ownServer(t, 1000)
  c.options.commandTimeout = 100
  own.pause()
  await t.rejects(store.release('k', 'o'), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', reason: 'command_timeout' })
  own.resume()
})

t.test('bad options and arguments are programming errors (TypeError), not outages', async t => {
  const store: IdempotencyStore = redisIdempotencyStore({ client })
  await t.rejects(store.begin('k', 'fp', 0), TypeError)
  await t.rejects(store.complete('k', 'o', ok, 1.5), TypeError)
  t.throws(() => redisIdempotencyStore({ client: {} as RedisScriptClient }), /client needs evalsha and eval/)
  t.throws(() => redisIdempotencyStore(undefined as any), /client needs evalsha and eval/)
  t.throws(() => redisIdempotencyStore({ client, prefix: 1 as any }), /prefix must be a string/)
  for (const timeoutMs of [0, 5001, 1.5]) t.throws(() => redisIdempotencyStore({ client, timeoutMs }), /timeoutMs must be an integer from 1 to 5000/)
})

/** A redis-server of the test's own (to kill or pause), a client of it and a store over that client. */
async function ownServer (t: Test, timeoutMs: number) {
  const own = await new RedisServer().start()
  t.teardown(() => own.stop())
  const c = await connectClient(own)
  t.teardown(() => { c.disconnect() })
  return { own, c, store: redisIdempotencyStore({ client: c, timeoutMs }) }
}

t.test('Redis killed and restarted: calls fail at once while it is down, and work again after the restart', async t => {
  const { own, c, store } = await ownServer(t, 500)
  t.equal((await store.begin('k', 'fp', 10_000)).state, 'claimed')
  await own.kill()
  await sleep(20)
  const started = Date.now()
  await t.rejects(store.begin('k2', 'fp', 10_000), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', reason: 'offline' })
  await t.rejects(store.release('k2', 'x'), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', reason: 'offline' })
  t.ok(Date.now() - started < 100, 'at once, with the recommended client options')
  await own.start(own.port)
  await untilReady(c)
  t.equal((await store.begin('k', 'fp', 10_000)).state, 'claimed', 'no persistence: the restarted server is empty, and has no scripts (NOSCRIPT, EVAL)')
})

t.test('Redis unresponsive (SIGSTOP): the store fails at timeoutMs even though the client waits, and a claim that lands late is freed', async t => {
  const { own, c, store } = await ownServer(t, 200)
  await store.begin('warm', 'fp', 10_000)
  await c.config('RESETSTAT')
  own.pause()
  const started = Date.now()
  await t.rejects(store.begin('k', 'fp', 60_000), { code: 'CARD_FORWARDING_STORE_UNAVAILABLE', reason: 'timeout_200ms' })
  t.ok(Date.now() - started < 400)
  own.resume()
  await untilReady(c)
  t.match(await c.info('commandstats'), /cmdstat_evalsha:calls=2,/, 'the late begin ran, and the release queued behind it')
  t.equal(await c.exists(PREFIX + 'k'), 0, 'so the late claim did not block the key')
  t.equal((await store.begin('k', 'fp', 10_000)).state, 'claimed')
})
