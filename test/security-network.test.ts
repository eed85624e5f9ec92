import t, { type Test } from 'tap'
import Fastify from 'fastify'
import cardForwarding, { stripe } from '../index.ts'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { startJwksServer } from '../lib/sandbox/tokens.ts'
import { AUDIENCE, buildHarness, DESTINATION, ISSUER, logLines, rsaKeys, token, validBody } from './helpers/harness.ts'
import { expectDenied, send, startForwardingProxy } from './helpers/security.ts'
import { createAllowlist, DECISIONS_REMEMBERED } from '../lib/edge/ip-allowlist.ts'

// docs/THREAT-MODEL.md section A: network and IP allowlist. Over loopback, 127.0.0.1 is the load balancer
// (the only trusted proxy), 127.0.0.3 is Rokt (allowlisted) and 127.0.0.2 is an attacker.
const LB = '127.0.0.1'
const ROKT = '127.0.0.3'
const ATTACKER = '127.0.0.2'
const PATH = '/v1/initiate-payment-sharing'

/** The harness behind a trusted load balancer, listening for real on loopback, plus a route echoing what Fastify resolved. */
async function behindLoadBalancer (t: Test, trustProxy: any = LB, extra: Record<string, unknown> = {}) {
  const h = await buildHarness(t, {
    server: { trustProxy },
    plugin: { allowedIps: [`${ROKT}/32`], ...extra },
    before: app => { app.get('/whoami', async request => ({ ip: request.ip, host: request.host, protocol: request.protocol })) }
  })
  const address = await h.app.listen({ host: LB, port: 0 })
  const headers = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', authorization: `Bearer ${token()}`, ...extra })
  return { h, address, headers, body: JSON.stringify(validBody) }
}

/** Options that register, unless what a test changes breaks them. */
const base = () => ({
  allowedIps: ['203.0.113.0/24'],
  auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE },
  resolvePaymentMethod: async () => null,
  psps: { stripe: stripe({ apiKey: STRIPE_SANDBOX_API_KEY }) },
  destinations: { [DESTINATION]: { url: 'https://rokt.example/tokens' } }
})

/** Registers the plugin on a server with this trustProxy: resolves, or rejects with the registration error. */
async function register (trustProxy: unknown, options: Record<string, unknown> = base()): Promise<void> {
  const app = Fastify({ trustProxy: trustProxy as any })
  app.register(cardForwarding, options as any)
  try {
    await app.ready()
  } finally {
    await app.close()
  }
}

t.test('A1 direct peer outside the allowlist with a valid token -> 403, no JWKS fetch, ip_denied audit', async t => {
  const jwks = await startJwksServer({ keys: [rsaKeys.jwk] })
  t.teardown(jwks.close)
  const h = await buildHarness(t, { plugin: { auth: { jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing' } } })
  await expectDenied(t, h, () => h.post(validBody, { ip: '198.51.100.9' }), 403, 'CARD_FORWARDING_IP_NOT_ALLOWED')
  t.equal(jwks.requests, 0, 'the token was never looked at: no JWKS fetch')
  t.same(h.audits.map(a => [a.event, a.outcome, a.ip, a.actor]), [['ip_denied', 'failure', '198.51.100.9', undefined]], 'one audit event, IP only')
})

t.test('A2 untrusted peer sending X-Forwarded-For/-Host/-Proto naming Rokt -> 403, the headers ignored', async t => {
  const { h, address, headers, body } = await behindLoadBalancer(t)
  const spoofed = { 'x-forwarded-for': ROKT, 'x-forwarded-host': 'rokt.example', 'x-forwarded-proto': 'https' }
  await expectDenied(t, h, () => send(`${address}${PATH}`, { localAddress: ATTACKER, headers: headers(spoofed), body }), 403, 'CARD_FORWARDING_IP_NOT_ALLOWED')
  const who = await send(`${address}/whoami`, { method: 'GET', localAddress: ATTACKER, headers: spoofed })
  t.same(who.json, { ip: ATTACKER, host: address.slice('http://'.length), protocol: 'http' }, 'Fastify ignored every forwarded header')
  t.equal(h.audits[0].ip, ATTACKER)
})

t.test('A3 trusted LB, spoofed XFF prefix -> 403 (request.ip is the attacker the LB appended)', async t => {
  const { h, address, headers, body } = await behindLoadBalancer(t)
  const lb = await startForwardingProxy(t, address)
  await expectDenied(t, h, () => send(`${lb.url}${PATH}`, { localAddress: ATTACKER, headers: headers({ 'x-forwarded-for': ROKT }), body }), 403, 'CARD_FORWARDING_IP_NOT_ALLOWED')
  t.equal(h.audits[0].ip, ATTACKER, 'XFF was "Rokt, attacker": the right-most untrusted hop wins')
  const rokt = await send(`${lb.url}${PATH}`, { localAddress: ROKT, headers: headers({ 'x-forwarded-for': '198.51.100.1' }), body })
  t.equal(rokt.statusCode, 200, 'Rokt through the same LB is served, whatever it put in XFF')
  t.equal(h.simulator.calls, 1)
})

t.test('A4 trustProxy true, a hop count, an empty allowlist or an allowlist overlapping the proxies -> registration refused', async t => {
  const refused: Array<[string, unknown, Record<string, unknown>, RegExp]> = [
    ['trustProxy: true', true, {}, /^trustProxy: true or a hop count/],
    ['a hop count', 1, {}, /^trustProxy: true or a hop count/],
    ['an empty allowlist', '10.0.0.1', { allowedIps: [] }, /^allowedIps: give at least one/],
    ['the allowlist holds the proxy', '203.0.113.10', {}, /^allowedIps: "203.0.113.0\/24" overlaps the trusted proxy "203.0.113.10\/32"/],
    ['the proxy range holds the allowlist', ['10.0.0.0/8', '203.0.0.0/16'], {}, /^allowedIps: "203.0.113.0\/24" overlaps/],
    ['a comma-separated list', '10.0.0.1, 203.0.113.99', {}, /^allowedIps: .* overlaps/],
    ['a named range', 'loopback', { allowedIps: ['127.0.0.3'] }, /^allowedIps: "127.0.0.3" overlaps the trusted proxy "127.0.0.1\/8"/],
    ['IPv6', 'fc00::/7', { allowedIps: ['fd00::1'] }, /^allowedIps: "fd00::1" overlaps/],
    ['an IPv4-mapped proxy', '::ffff:203.0.113.1', {}, /^allowedIps: "203.0.113.0\/24" overlaps the trusted proxy "203.0.113.1\/32"/],
    ['a proxy entry that cannot be checked', '10.0.0.0/255.0.0.0', {}, /^trustProxy: "10.0.0.0\/255.0.0.0" is not an address or CIDR/]
  ]
  for (const [name, trustProxy, patch, message] of refused) await t.rejects(register(trustProxy, { ...base(), ...patch }), message, name)
  for (const [name, trustProxy] of [['disjoint CIDRs', '10.0.0.0/8, 2001:db8::/32'], ['a trust function', () => false], ['no proxy', false]] as const) {
    await t.resolves(register(trustProxy), `${name} is accepted`)
  }
})

t.test('A4 with a hop count (opted out of the guard), Fastify >= 5.12.1 ignores XFF: a request via the LB is 403, never 200', async t => {
  const { h, address, headers, body } = await behindLoadBalancer(t, 1, { allowUnsafeTrustProxy: true })
  const lb = await startForwardingProxy(t, address)
  await expectDenied(t, h, () => send(`${lb.url}${PATH}`, { localAddress: ROKT, headers: headers(), body }), 403, 'CARD_FORWARDING_IP_NOT_ALLOWED')
  t.equal(h.audits[0].ip, LB, 'every request looks like the load balancer')
})

t.test('A5 address forms: IPv4-mapped IPv6, IPv6 CIDR edges, look-alike prefixes', async t => {
  const h = await buildHarness(t, { plugin: { allowedIps: ['203.0.113.0/24', '2001:db8::/32', '34.1.2.3'] } })
  const cases: Array<[string, number]> = [
    ['::ffff:203.0.113.7', 200],
    ['::FFFF:203.0.113.8', 200],
    ['::ffff:198.51.100.9', 403],
    ['2001:db8::1', 200],
    ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', 200],
    ['2001:db9::', 403],
    ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', 403],
    ['34.1.2.3', 200],
    ['34.1.2.35', 403],
    ['34.1.2.30', 403]
  ]
  for (const [ip, status] of cases) t.equal((await h.post(validBody, { ip })).statusCode, status, ip)
  t.equal(h.simulator.calls, 5, 'only the five allowed callers were forwarded')
})

t.test('A5 remembered decisions stay right, and bounded, under a flood of distinct addresses', async t => {
  const isAllowedIp = createAllowlist(['10.0.0.0/24', '2001:db8::/64'])
  // Three times the cache's size, alternating allowed and refused, each asked twice: every answer
  // (first from the BlockList, then from memory, then again after the memory started over) is right.
  const addresses = Array.from({ length: 3 * DECISIONS_REMEMBERED }, (_, i) => i % 2 === 0
    ? `2001:db8::${i.toString(16)}`
    : `2001:db9::${i.toString(16)}`)
  let wrong = 0
  for (const round of [1, 2]) {
    for (const [i, ip] of addresses.entries()) if (isAllowedIp(ip) !== (i % 2 === 0)) wrong++
    t.equal(wrong, 0, `round ${round}: every decision right`)
  }
  t.equal(isAllowedIp('10.0.0.255'), true)
  t.equal(isAllowedIp('10.0.1.0'), false)
  t.equal(isAllowedIp('::ffff:10.0.0.1'), true)
  t.equal(isAllowedIp(undefined), false)
  t.equal(isAllowedIp('10.0.0.1:8080'), false, 'not an IP literal')
  t.equal(isAllowedIp(`10.0.0.1${' '.repeat(60)}`), false, 'too long for an address: refused, not remembered')
})

t.test('A6 trusted LB sending a malformed X-Forwarded-For entry -> 403, never 500, logged only truncated and escaped', async t => {
  const h = await buildHarness(t, { server: { trustProxy: LB } })
  const huge = '9'.repeat(10_240)
  for (const forwardedFor of ['1.2.3.4:5678', 'unknown', '', ' ', huge, '203.0.113.7"}\\u001b[31m', '[2001:db8::1]']) {
    const res = await h.app.inject({
      method: 'POST',
      url: PATH,
      remoteAddress: LB,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token()}`, 'x-forwarded-for': forwardedFor },
      payload: validBody
    })
    t.equal(res.statusCode, 403, JSON.stringify(forwardedFor.slice(0, 20)))
  }
  t.equal(h.simulator.requests.length, 0)
  t.ok(h.audits.every(a => a.event === 'ip_denied' && a.ip.length <= 64), 'every audit ip is at most 64 characters')
  t.notOk(logLines.some(line => line.includes('9'.repeat(65))), 'the 10 KB value is in no log line')
})

t.test('A5 every spelling of an IPv4-mapped client address is the IPv4 address it carries', async t => {
  const isAllowedIp = createAllowlist(['203.0.113.0/24', '2001:db8::/32'])
  const cases: Array<[string, boolean]> = [
    ['::ffff:203.0.113.7', true],
    ['::ffff:cb00:7107', true],
    ['::FFFF:CB00:7107', true],
    ['0:0:0:0:0:ffff:cb00:7107', true],
    ['0000:0000:0000:0000:0000:ffff:cb00:7107', true],
    ['0:0:0:0:0:FFFF:203.0.113.7', true],
    ['::ffff:c633:6409', false],
    ['::ffff:0:cb00:7107', false],
    ['64:ff9b::cb00:7107', false],
    ['::cb00:7107', false]
  ]
  for (const [ip, allowed] of cases) t.equal(isAllowedIp(ip), allowed, ip)
  for (const entry of ['::ffff:cb00:7100/120', '0:0:0:0:0:ffff:203.0.113.0/120', '::FFFF:CB00:7107']) {
    t.throws(() => createAllowlist([entry]), new RegExp(`^allowedIps: write "${entry.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" as plain IPv4`), entry)
  }
})

t.test('A4 a trust range in IPv4-mapped form is checked as the IPv4 range it is; one covering IPv4 space in IPv6 form, or every IPv4 address, is refused', async t => {
  const refused: Array<[unknown, RegExp]> = [
    ['::ffff:0:0/96', /^trustProxy: "::ffff:0:0\/96" trusts every address, as unsafe as trustProxy: true/],
    ['::ffff:cb00:7100/120', /^allowedIps: "203.0.113.0\/24" overlaps the trusted proxy "203.0.113.0\/24"/],
    ['0:0:0:0:0:ffff:cb00:7101', /^allowedIps: "203.0.113.0\/24" overlaps the trusted proxy "203.0.113.1\/32"/],
    [['10.0.0.1', '::/8'], /^trustProxy: "::\/8" covers IPv4-mapped addresses \(::ffff:0:0\/96\)/],
    ['::/80', /^trustProxy: "::\/80" covers IPv4-mapped addresses/],
    ['::ffff:0:0/95', /^trustProxy: "::ffff:0:0\/95" covers IPv4-mapped addresses/]
  ]
  for (const [trustProxy, message] of refused) await t.rejects(register(trustProxy), message, JSON.stringify(trustProxy))
  for (const trustProxy of ['::ffff:a00:1', '::ffff:10.0.0.0/104', '2001:db8:1::/48']) {
    await t.resolves(register(trustProxy), `${trustProxy}: disjoint from the allowlist, accepted`)
  }
})

t.test('A4 behind a proxy trusted as ::ffff:7f00:1, an outside peer\'s X-Forwarded-For is still checked against the allowlist', async t => {
  const { h, address, headers, body } = await behindLoadBalancer(t, '::ffff:7f00:1')
  await expectDenied(t, h, () => send(`${address}${PATH}`, { localAddress: ATTACKER, headers: headers({ 'x-forwarded-for': ROKT }), body }), 403, 'CARD_FORWARDING_IP_NOT_ALLOWED')
  const lb = await startForwardingProxy(t, address)
  t.equal((await send(`${lb.url}${PATH}`, { localAddress: ROKT, headers: headers(), body })).statusCode, 200, 'Rokt through the trusted proxy is served')
})

t.test('A46 a server without connection and request timeouts is warned about at registration', async t => {
  const cases: Array<[Record<string, number>, RegExp[]]> = [
    [{}, [/the server's requestTimeout is off: a client may take forever to send a request/, /the server's connectionTimeout is off: an idle socket is never closed/]],
    [{ connectionTimeout: 10_000, requestTimeout: 15_000 }, [/the server's connectionTimeout is 10000 ms: Rokt's socket is idle while a forward runs/]],
    [{ connectionTimeout: 60_000, requestTimeout: 15_000 }, []]
  ]
  for (const [server, expected] of cases) {
    const logged = logLines.length
    await buildHarness(t, { server })
    const warnings = logLines.slice(logged).map(line => JSON.parse(line)).filter(line => line.level === 40).map(line => line.msg as string)
    t.equal(warnings.length, expected.length, JSON.stringify(server))
    expected.forEach((pattern, i) => t.match(warnings[i], pattern))
  }
})
