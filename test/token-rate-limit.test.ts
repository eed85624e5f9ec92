import t, { type Test } from 'tap'
import type { Redis } from 'ioredis'
import { generateClientSecret, hashClientSecret, type TokenRateLimitOptions } from '../index.ts'
import { generateTestKeys } from '../lib/sandbox/tokens.ts'
import { AUDIENCE, buildHarness, ISSUER, logLines, type Harness } from './helpers/harness.ts'
import { connectClient, RedisServer, untilReady } from './helpers/redis-server.ts'

// The built-in token endpoint's rate limit (@fastify/rate-limit): per IPv4 address or IPv6 prefix,
// bounded in memory, shared across instances through Redis, and failing closed with an RFC 6749
// answer (never a 500 or a client library's message) when Redis does not answer.
const CLIENT_ID = 'rokt-client'
const SECRET = generateClientSecret()
const keys = generateTestKeys('ES256')
const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${SECRET}`).toString('base64')}`

async function endpoint (t: Test, rateLimit: TokenRateLimitOptions): Promise<Harness & { token: (ip: string) => Promise<{ statusCode: number, headers: Record<string, unknown>, json: any }> }> {
  const h = await buildHarness(t, {
    plugin: {
      auth: { issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing' } as any,
      tokenEndpoint: {
        privateKey: keys.privateKey,
        clients: [{ clientId: CLIENT_ID, secretHash: hashClientSecret(SECRET) }],
        allowedIps: ['203.0.113.0/24', '2001:db8::/32'],
        rateLimit
      }
    }
  })
  async function token (ip: string) {
    const res = await h.app.inject({
      method: 'POST',
      url: '/oauth/token',
      remoteAddress: ip,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      payload: 'grant_type=client_credentials'
    })
    return { statusCode: res.statusCode, headers: res.headers, json: res.json() }
  }
  return Object.assign(h, { token })
}

async function statuses (call: () => Promise<{ statusCode: number }>, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push((await call()).statusCode)
  return out
}

t.test('IPv6 clients share one budget per /64: rotating addresses inside it gain nothing; another /64 has its own', async t => {
  const h = await endpoint(t, { max: 3 })
  t.same(await statuses(async () => await h.token(`2001:db8:1:2::${Math.floor(Math.random() * 0xffff).toString(16)}`), 4), [200, 200, 200, 429])
  const limited = await h.token('2001:db8:1:2:ffff:ffff:ffff:ffff')
  t.equal(limited.statusCode, 429)
  t.same(limited.json, { error: 'temporarily_unavailable' })
  t.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60, `Retry-After ${limited.headers['retry-after']}`)
  t.equal(limited.headers['cache-control'], 'no-store')
  t.equal(limited.headers['x-ratelimit-limit'], undefined, 'no counters disclosed')
  t.match(h.audits.at(-1), { event: 'token_denied', statusCode: 429, code: 'temporarily_unavailable', reason: 'rate_limited' })
  t.equal((await h.token('2001:db8:1:3::1')).statusCode, 200, 'the next /64')
  t.same(await statuses(async () => await h.token('203.0.113.7'), 4), [200, 200, 200, 429], 'IPv4: per address')
  t.equal((await h.token('::ffff:203.0.113.7')).statusCode, 429, 'an IPv4-mapped address is that IPv4 address')
  t.equal((await h.token('203.0.113.8')).statusCode, 200)
  t.equal((await h.token('198.51.100.1')).statusCode, 403, 'outside the allowlist: refused before it is counted')
})

t.test('the IPv6 prefix is configurable', async t => {
  const h = await endpoint(t, { max: 1, ipv6PrefixLength: 48 })
  t.equal((await h.token('2001:db8:1:2::1')).statusCode, 200)
  t.equal((await h.token('2001:db8:1:3::1')).statusCode, 429, 'same /48')
  t.equal((await h.token('2001:db8:2::1')).statusCode, 200, 'another /48')
})

t.test('in memory, the counts are bounded: past cacheSize clients the least recently seen is forgotten', async t => {
  const h = await endpoint(t, { max: 1, cacheSize: 100 })
  t.same(await statuses(async () => await h.token('2001:db8::1'), 2), [200, 429])
  for (let i = 1; i <= 100; i++) await h.token(`2001:db8:0:${i.toString(16)}::1`)
  t.equal((await h.token('2001:db8::1')).statusCode, 200, 'its count was dropped: memory stays at 100 clients, whatever the flood')
})

t.test('rateLimit options are checked at registration', async t => {
  const cases: Array<[string, TokenRateLimitOptions | string, RegExp]> = [
    ['not an object', 'fast', /^tokenEndpoint.rateLimit: must be an object/],
    ['prefix too short', { ipv6PrefixLength: 8 }, /^tokenEndpoint.rateLimit.ipv6PrefixLength: must be an integer from 16 to 128/],
    ['tiny cache', { cacheSize: 10 }, /^tokenEndpoint.rateLimit.cacheSize: must be an integer from 100 to 1000000/],
    ['node-redis', { redis: { sendCommand: () => {} } as any }, /^tokenEndpoint.rateLimit.redis: must be an ioredis client/]
  ]
  for (const [name, rateLimit, message] of cases) await t.rejects(endpoint(t, rateLimit as TokenRateLimitOptions), message, name)
})

t.test('with Redis: one budget across instances, and Redis down answers 503 temporarily_unavailable, never a 500', async t => {
  const server = await new RedisServer().start()
  t.teardown(() => server.stop())
  const clients: Redis[] = [await connectClient(server), await connectClient(server)]
  t.teardown(() => { for (const c of clients) c.disconnect() })
  const [a, b] = [await endpoint(t, { max: 3, redis: clients[0] }), await endpoint(t, { max: 3, redis: clients[1] })]
  t.same([...await statuses(async () => await a.token('203.0.113.7'), 2), ...await statuses(async () => await b.token('203.0.113.7'), 2)], [200, 200, 200, 429])
  t.equal((await a.token('203.0.113.7')).statusCode, 429, 'shared')
  t.ok((await clients[0].keys('rokt-card-forwarding:token-rate:*')).length > 0, 'counted in Redis under the plugin\'s prefix')

  await server.kill()
  const down = await a.token('203.0.113.9')
  t.equal(down.statusCode, 503)
  t.same(down.json, { error: 'temporarily_unavailable' })
  t.equal(down.headers['retry-after'], '1')
  t.equal(down.headers['cache-control'], 'no-store')
  t.match(a.audits.at(-1), { event: 'token_denied', statusCode: 503, reason: 'offline' })
  t.notMatch(logLines.join(''), /enableOfflineQueue/, 'the client\'s message is not logged')
  await server.start(server.port)
  await untilReady(clients[0])
  t.equal((await a.token('203.0.113.9')).statusCode, 200, 'recovered without a restart')
})

t.test('with Redis unresponsive, a token request is answered 503 within a second', async t => {
  const server = await new RedisServer().start()
  t.teardown(() => server.stop())
  const client = await connectClient(server, {})
  t.teardown(() => { client.disconnect() })
  const h = await endpoint(t, { redis: client })
  t.equal((await h.token('203.0.113.7')).statusCode, 200)
  server.pause()
  t.teardown(() => server.resume())
  const started = Date.now()
  const res = await h.token('203.0.113.7')
  t.equal(res.statusCode, 503)
  t.ok(Date.now() - started < 1500, `${Date.now() - started} ms, where ioredis alone would wait forever`)
  t.match(h.audits.at(-1), { reason: 'timeout_1000ms' })
})
