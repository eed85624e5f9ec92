import t from 'tap'
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import cardForwarding, { stripe } from '../index.ts'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { buildHarness, DESTINATION, EMAIL, ISSUER, AUDIENCE, ROKT_API_KEY, rsaKeys, token, validBody } from './helpers/harness.ts'

t.test('happy path: the destination receives the real test card and the plugin relays its answer', async t => {
  const h = await buildHarness(t)
  const res = await h.post(validBody)
  t.equal(res.statusCode, 200)
  t.equal(h.simulator.calls, 1)
  t.equal(h.destination.received.length, 1)
  const sent = h.destination.received[0]
  t.equal(sent.headers['x-rokt-api-key'], ROKT_API_KEY)
  t.same(sent.body, {
    card: { number: '4242424242424242', exp_month: '12', exp_year: '2034', name: 'Jenny Rosen', cvc: '' },
    billing_address: { line1: '510 Townsend St', line2: '', city: 'San Francisco', state: 'CA', postal_code: '94103', country: 'US' }
  }, 'PAN, expiry and name injected by the PSP; billing from the PaymentMethod billing_details')
  t.equal(res.json.status, 200)
  t.equal(res.json.body.status, 'tokenized')
  t.equal(res.json.body.last4, '4242')
  t.match(res.json.body.token, /^rokt_tok_/)
  t.match(res.json.headers['content-type'], /application\/json/)
  t.type(res.json['request-time'], 'number')
  t.same(Object.keys(res.json).sort(), ['body', 'headers', 'request-time', 'status'])
  t.notMatch(JSON.stringify(res.json), /4242424242424242/, 'no PAN in the response')
  t.same(h.audits.map(a => a.event), ['accepted', 'forward_ok'])
  t.equal(h.audits[0].actor, 'rokt')
  t.match(h.audits[0].referenceHash, /^[0-9a-f]{16}$/)
  t.notMatch(JSON.stringify(h.audits), /ORDER_67890|jenny/i)
})

t.test('billing address comes from the vault record when it has one (no PaymentMethod lookup)', async t => {
  const h = await buildHarness(t)
  const res = await h.post({ partnerPaymentReference: 'ORDER_BILLING', destination: DESTINATION })
  t.equal(res.statusCode, 200)
  t.same(h.destination.received[0].body, {
    card: { number: '4242424242424242', exp_month: '12', exp_year: '2034', name: 'Jenny Rosen', cvc: '' },
    billing_address: { line1: '1 Vault St', line2: '', city: 'Leeds', state: '', postal_code: 'LS1 1AA', country: 'GB' }
  })
  t.notOk(h.simulator.requests.some(r => r.path.startsWith('/v1/payment_methods/')), 'no PaymentMethod GET')
})

t.test('a destination answering 4xx is relayed as 200 with its status', async t => {
  const h = await buildHarness(t)
  h.destination.setResponse({ status: 402, body: { error: 'card_declined' } })
  const res = await h.post(validBody)
  t.equal(res.statusCode, 200)
  t.equal(res.json.status, 402)
  t.same(res.json.body, { error: 'card_declined' })
})

t.test('a destination answering text is relayed as a string', async t => {
  const h = await buildHarness(t)
  h.destination.setResponse({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' })
  const res = await h.post(validBody)
  t.equal(res.json.body, 'ok')
})

t.test("relay: 'psp' puts the PSP's whole envelope in body", async t => {
  const h = await buildHarness(t, { plugin: { relay: 'psp' } })
  const res = await h.post(validBody)
  t.equal(res.statusCode, 200)
  t.equal(res.json.body.object, 'forwarding.request')
  t.equal(res.json.body.response_details.status, 200)
  t.notMatch(JSON.stringify(res.json), /4242424242424242/, 'the envelope Stripe returns is redacted')
})

const errorRows: Array<[string, (h: Awaited<ReturnType<typeof buildHarness>>) => ReturnType<Awaited<ReturnType<typeof buildHarness>>['post']>, number, string, string]> = [
  ['disallowed IP', h => h.post(validBody, { ip: '198.51.100.9' }), 403, 'CARD_FORWARDING_IP_NOT_ALLOWED', 'ip_denied'],
  ['no token', h => h.post(validBody, { token: null }), 401, 'CARD_FORWARDING_UNAUTHORIZED', 'auth_failed'],
  ['bad token', h => h.post(validBody, { token: token() + 'x' }), 401, 'CARD_FORWARDING_UNAUTHORIZED', 'auth_failed'],
  ['token from another issuer', h => h.post(validBody, { token: token({ issuer: 'https://evil.example/' }) }), 401, 'CARD_FORWARDING_UNAUTHORIZED', 'auth_failed'],
  ['token without the scope', h => h.post(validBody, { token: token({ scope: 'other' }) }), 403, 'CARD_FORWARDING_INSUFFICIENT_SCOPE', 'scope_denied'],
  ['bad body', h => h.post({ partnerPaymentReference: 42, destination: DESTINATION }), 400, 'FST_ERR_VALIDATION', 'validation_failed'],
  ['unknown reference', h => h.post({ ...validBody, partnerPaymentReference: 'ORDER_NOPE' }), 404, 'CARD_FORWARDING_PAYMENT_METHOD_NOT_FOUND', 'not_found'],
  ['identifier mismatch', h => h.post({ ...validBody, customerIdentifiers: { email: 'someone@example.com' } }), 404, 'CARD_FORWARDING_PAYMENT_METHOD_NOT_FOUND', 'not_found'],
  ['unknown destination', h => h.post({ ...validBody, destination: 'COM.EVIL' }), 422, 'CARD_FORWARDING_UNKNOWN_DESTINATION', 'validation_failed'],
  ['not JSON', h => h.post(null, { headers: { 'content-type': 'text/plain' }, raw: 'hi' }), 415, 'CARD_FORWARDING_UNSUPPORTED_MEDIA_TYPE', 'validation_failed']
]

for (const [name, send, status, code, event] of errorRows) {
  t.test(`${name} -> ${status} ${code}, nothing reaches the PSP`, async t => {
    const h = await buildHarness(t)
    const res = await send(h)
    t.equal(res.statusCode, status)
    t.same(Object.keys(res.json).sort(), ['code', 'error', 'message', 'statusCode'])
    t.equal(res.json.code, code)
    t.equal(res.json.statusCode, status)
    t.equal(h.simulator.requests.length, 0, 'the simulator saw no request')
    t.equal(h.destination.received.length, 0)
    t.same(h.audits.map(a => a.event), [event])
  })
}

t.test('401s carry an RFC 6750 challenge; no credentials means no error attribute', async t => {
  const h = await buildHarness(t)
  const none = await h.post(validBody, { token: null })
  t.equal(none.headers['www-authenticate'], 'Bearer realm="rokt-card-forwarding"')
  const basic = await h.post(validBody, { token: null, headers: { authorization: 'Basic Zm9vOmJhcg==' } })
  t.equal(basic.statusCode, 401)
  t.equal(basic.headers['www-authenticate'], 'Bearer realm="rokt-card-forwarding"')
  const bad = await h.post(validBody, { token: 'not.a.jwt' })
  t.equal(bad.headers['www-authenticate'], 'Bearer realm="rokt-card-forwarding", error="invalid_token"')
  const malformed = await h.post(validBody, { token: 'a b' })
  t.equal(malformed.statusCode, 401)
  const scope = await h.post(validBody, { token: token({ scope: 'other' }) })
  t.equal(scope.headers['www-authenticate'], 'Bearer realm="rokt-card-forwarding", error="insufficient_scope", scope="payment-sharing"')
  const ok = await h.post(validBody)
  t.equal(ok.headers['www-authenticate'], undefined)
  t.equal(h.simulator.calls, 1)
})

t.test('PSP errors map to 502 with the PSP code and no secret', async t => {
  const h = await buildHarness(t)
  h.vault.set('ORDER_GONE', { psp: 'psp', paymentMethod: 'pm_does_not_exist', billingAddress: {} })
  const res = await h.post({ partnerPaymentReference: 'ORDER_GONE', destination: DESTINATION })
  t.equal(res.statusCode, 502)
  t.equal(res.json.code, 'CARD_FORWARDING_PSP_ERROR')
  t.equal(res.json.message, 'stripe forward failed: resource_missing')
  t.notMatch(JSON.stringify(res.json), /sk_test/)
  t.same(h.audits.map(a => a.event), ['accepted', 'forward_failed'])
})

t.test('a PSP error while reading billing details is a 502 too', async t => {
  const h = await buildHarness(t)
  h.vault.set('ORDER_GONE', { psp: 'psp', paymentMethod: 'pm_does_not_exist' })
  const res = await h.post({ partnerPaymentReference: 'ORDER_GONE', destination: DESTINATION })
  t.equal(res.statusCode, 502)
  t.equal(res.json.message, 'stripe forward failed: resource_missing')
  t.equal(h.simulator.calls, 0, 'no forward was attempted')
})

t.test('a record the adapter does not recognise, or naming an unregistered PSP, is a 404', async t => {
  const h = await buildHarness(t)
  h.vault.set('ORDER_BAD', { psp: 'psp', paymentMethod: 'card_123' } as any)
  h.vault.set('ORDER_ADYEN', { psp: 'adyen', storedPaymentMethodId: 'x', shopperReference: 'y' } as any)
  t.equal((await h.post({ partnerPaymentReference: 'ORDER_BAD', destination: DESTINATION })).statusCode, 404)
  t.equal((await h.post({ partnerPaymentReference: 'ORDER_ADYEN', destination: DESTINATION })).statusCode, 404)
  t.equal(h.simulator.requests.length, 0)
})

t.test('a custom adapter that throws an unexpected error gives 502, never a 500 with its message', async t => {
  const h = await buildHarness(t, {
    plugin: {
      psps: {
        psp: { name: 'custom', isRecord: (_r: any): _r is any => true, forward: async () => { throw new Error('secret sk_live_xyz leaked') } }
      }
    }
  })
  const res = await h.post(validBody)
  t.equal(res.statusCode, 502)
  t.equal(res.json.message, 'custom forward failed: adapter_error')
})

t.test('a resolver that throws gives a generic 500 and forwards nothing', async t => {
  const h = await buildHarness(t, { plugin: { resolvePaymentMethod: async () => { throw new Error('db password=hunter2') } } })
  const res = await h.post(validBody)
  t.equal(res.statusCode, 500)
  t.same(res.json, { statusCode: 500, code: 'CARD_FORWARDING_INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal Server Error' })
  t.equal(h.simulator.requests.length, 0)
})

t.test('an onAudit callback that throws does not change the outcome', async t => {
  const h = await buildHarness(t, { plugin: { onAudit: () => { throw new Error('sink down') } } })
  t.equal((await h.post(validBody)).statusCode, 200)
})

t.test('nothing leaks onto host routes; a host using @fastify/jwt for its users keeps working', async t => {
  const hostSecret = 'host-secret-host-secret-host-secret!'
  const h = await buildHarness(t, {
    before: async app => {
      await app.register(fastifyJwt, { secret: hostSecret })
      app.get('/me', { onRequest: async (request) => { await request.jwtVerify() } }, async (request) => request.user)
      app.post('/echo', async (request) => ({ got: request.body }))
    }
  })
  const userToken = h.app.jwt.sign({ user: 'alice' })
  const me = await h.app.inject({ url: '/me', headers: { authorization: `Bearer ${userToken}` }, remoteAddress: '198.51.100.1' })
  t.equal(me.statusCode, 200, 'host route: not IP-restricted, host jwt works')
  t.equal(me.json().user, 'alice')
  t.equal((h.app.jwt as any).roktCardForwarding, undefined, 'our JWT namespace is not on the host')
  t.equal(typeof (h.app.jwt as any).verify, 'function')
  const echo = await h.app.inject({ method: 'POST', url: '/echo', payload: 'plain text', headers: { 'content-type': 'text/plain' }, remoteAddress: '198.51.100.1' })
  t.equal(echo.statusCode, 200, 'host keeps its text/plain parser and no hook of ours runs')
  t.equal(echo.json().got, 'plain text')
  const missing = await h.app.inject({ url: '/nope', remoteAddress: '198.51.100.1' })
  t.equal(missing.statusCode, 404, 'host not-found handler untouched')
  t.equal(h.app.hasRequestDecorator('roktCardForwardingActor'), false)
  t.equal(h.app.hasRequestDecorator('roktCardForwardingJwtVerify'), false)
  t.equal((await h.post(validBody)).statusCode, 200, 'and our route works beside it')
})

t.test('a host without @fastify/jwt gets no jwt decorator from us', async t => {
  const h = await buildHarness(t)
  t.equal(h.app.hasDecorator('jwt'), false)
})

t.test('the route path is configurable', async t => {
  const h = await buildHarness(t, { plugin: { path: '/rokt/share' } })
  const res = await h.app.inject({ method: 'POST', url: '/rokt/share', remoteAddress: '203.0.113.7', headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' }, payload: validBody })
  t.equal(res.statusCode, 200)
})

t.test('HMAC secret and JWKS key sources verify tokens', async t => {
  const secret = 'a-very-long-hmac-secret-of-32-bytes!!'
  const h = await buildHarness(t, { plugin: { auth: { secret, issuer: ISSUER, audience: AUDIENCE } } })
  const hs = await h.post(validBody, { token: token({ privateKey: undefined, secret, algorithm: 'HS256' }) })
  t.equal(hs.statusCode, 200)
  const rs = await h.post(validBody)
  t.equal(rs.statusCode, 401, 'an RS256 token is refused when the key is an HMAC secret')
})

t.test('email matching is case-insensitive; customerId exact', async t => {
  const h = await buildHarness(t)
  t.equal((await h.post({ ...validBody, customerIdentifiers: { email: EMAIL.toUpperCase() } })).statusCode, 200)
  t.equal((await h.post({ ...validBody, customerIdentifiers: { email: EMAIL, customerId: 'cus_1' } })).statusCode, 200)
  t.equal((await h.post({ ...validBody, customerIdentifiers: { email: EMAIL, customerId: 'CUS_1' } })).statusCode, 404)
  t.equal((await h.post({ ...validBody, partnerPaymentReference: 'ORDER_BILLING', customerIdentifiers: { customerId: 'cus_1' } })).statusCode, 404, 'an identifier the vault does not know never matches')
})

t.test('registration refuses bad options with a message naming the option', async t => {
  const base = {
    allowedIps: ['203.0.113.0/24'],
    auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE },
    resolvePaymentMethod: async () => null,
    psps: { stripe: stripe({ apiKey: STRIPE_SANDBOX_API_KEY }) },
    destinations: { [DESTINATION]: { url: 'https://rokt.example/tokens' } }
  }
  const cases: Array<[string, Record<string, unknown>, RegExp, Record<string, unknown>?]> = [
    ['empty allowedIps', { allowedIps: [] }, /^allowedIps/],
    ['bad CIDR', { allowedIps: ['10.0.0.0/33'] }, /^allowedIps/],
    ['not an IP', { allowedIps: ['rokt.com'] }, /^allowedIps/],
    ['mapped IPv6 rule', { allowedIps: ['::ffff:1.2.3.4'] }, /^allowedIps: write/],
    ['no key source', { auth: { issuer: ISSUER, audience: AUDIENCE } }, /^auth: give exactly one/],
    ['two key sources', { auth: { secret: 'x'.repeat(40), publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE } }, /^auth: give exactly one/],
    ['short secret', { auth: { secret: 'short', issuer: ISSUER, audience: AUDIENCE } }, /^auth.secret/],
    ['http JWKS', { auth: { jwksUrl: 'http://idp.example/jwks', issuer: ISSUER, audience: AUDIENCE } }, /^auth.jwksUrl/],
    ['garbage JWKS url', { auth: { jwksUrl: 'nope', issuer: ISSUER, audience: AUDIENCE } }, /^auth.jwksUrl/],
    ['no issuer', { auth: { publicKey: rsaKeys.publicKey, audience: AUDIENCE } }, /^auth.issuer/],
    ['HS with a public key', { auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] } }, /^auth.algorithms/],
    ['none', { auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE, algorithms: ['none'] } }, /^auth.algorithms/],
    ['bad scope', { auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE, requiredScope: 'a "b' } }, /^auth.requiredScope/],
    ['huge leeway', { auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 3600 } }, /^auth.clockToleranceSeconds/],
    ['no resolver', { resolvePaymentMethod: undefined }, /^resolvePaymentMethod/],
    ['no psps', { psps: {} }, /^psps/],
    ['not an adapter', { psps: { stripe: {} } }, /^psps.stripe/],
    ['no destinations', { destinations: {} }, /^destinations/],
    ['http destination', { destinations: { [DESTINATION]: { url: 'http://rokt.example/tokens' } } }, /^destinations.COM.ROKT.CATALOG.url/],
    ['destination with credentials', { destinations: { [DESTINATION]: { url: 'https://u:p@rokt.example/' } } }, /must not carry credentials/],
    ['bad header', { destinations: { [DESTINATION]: { url: 'https://rokt.example/', headers: { 'x-a': 'b\r\nc' } } } }, /headers: "x-a"/],
    ['unknown token', { destinations: { [DESTINATION]: { url: 'https://rokt.example/', body: { n: '{{card.numbr}}' } } } }, /unknown token "\{\{card.numbr\}\}" at \/n/],
    ['no card number', { destinations: { [DESTINATION]: { url: 'https://rokt.example/', body: { n: '{{card.expMonth}}' } } } }, /has no \{\{card.number\}\}/],
    ['bad destination id', { destinations: { 'a b': { url: 'https://rokt.example/' } } }, /^destinations.a b: ids/],
    ['bad path', { path: 'v1/x' }, /^path/],
    ['bad relay', { relay: 'all' }, /^relay/],
    ['tiny bodyLimit', { bodyLimit: 10 }, /^bodyLimit/],
    ['bad onAudit', { onAudit: 'log' }, /^onAudit/],
    ['trustProxy: true', {}, /^trustProxy/, { trustProxy: true }],
    ['trustProxy hop count', {}, /^trustProxy/, { trustProxy: 1 }]
  ]
  for (const [name, patch, message, server] of cases) {
    const app = Fastify(server)
    app.register(cardForwarding, { ...base, ...patch } as any)
    await t.rejects(async () => { await app.ready() }, message, name)
    await app.close()
  }
})

t.test('trustProxy may be a CIDR list, or unsafe only when the partner opts out', async t => {
  for (const [trustProxy, extra] of [[['10.0.0.0/8'], {}], [true, { allowUnsafeTrustProxy: true }]] as const) {
    const app = Fastify({ trustProxy: trustProxy as any })
    app.register(cardForwarding, {
      allowedIps: ['203.0.113.0/24'],
      auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE },
      resolvePaymentMethod: async () => null,
      psps: { stripe: stripe({ apiKey: STRIPE_SANDBOX_API_KEY }) },
      destinations: { [DESTINATION]: { url: 'https://rokt.example/tokens' } },
      ...extra
    })
    await t.resolves(async () => { await app.ready() })
    await app.close()
  }
})

t.test('the audit actor is client_id, else sub', async t => {
  // client_id is required by the default RFC 9068 preset; a server that names clients in sub only:
  const h = await buildHarness(t, { plugin: { auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE, requiredClaims: ['sub', 'jti'] } } })
  await h.post(validBody, { token: token({ clientId: undefined, subject: 'rokt-sub' }) })
  t.equal(h.audits[0].actor, 'rokt-sub')
})

t.test('an error carrying a non-error status is still a generic 500', async t => {
  const h = await buildHarness(t, { plugin: { resolvePaymentMethod: async () => { throw Object.assign(new Error('redirect?'), { statusCode: 302 }) } } })
  const res = await h.post(validBody)
  t.equal(res.statusCode, 500)
  t.equal(res.json.code, 'CARD_FORWARDING_INTERNAL_ERROR')
})

t.test('onForward reports each forward with its PSP, latency and outcome; a throwing callback changes nothing', async t => {
  const events: any[] = []
  const h = await buildHarness(t, { plugin: { onForward: (event: any) => { events.push(event) } } })
  t.equal((await h.post(validBody)).statusCode, 200)
  h.vault.set('ORDER_GONE', { psp: 'psp', paymentMethod: 'pm_does_not_exist', billingAddress: {} })
  t.equal((await h.post({ partnerPaymentReference: 'ORDER_GONE', destination: DESTINATION })).statusCode, 502)
  t.equal((await h.post({ ...validBody, partnerPaymentReference: 'ORDER_NOPE' })).statusCode, 404)
  t.equal(events.length, 2, 'only forwards that were attempted')
  t.match(events[0], { psp: 'stripe', destination: DESTINATION, outcome: 'ok', statusCode: 200, destinationStatus: 200 })
  t.match(events[1], { psp: 'stripe', outcome: 'failed', statusCode: 502, code: 'CARD_FORWARDING_PSP_ERROR' })
  t.ok(events.every(e => typeof e.durationMs === 'number' && e.durationMs >= 0))
  t.notMatch(JSON.stringify(events), /ORDER_|jenny|pm_/i, 'no reference, customer or PSP handle')

  const throwing = await buildHarness(t, { plugin: { onForward: () => { throw new Error('metrics down') } } })
  t.equal((await throwing.post(validBody)).statusCode, 200)
  const app = Fastify()
  app.register(cardForwarding, { allowedIps: ['203.0.113.1'], auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE }, resolvePaymentMethod: async () => null, psps: { stripe: stripe({ apiKey: STRIPE_SANDBOX_API_KEY }) }, destinations: { [DESTINATION]: { url: 'https://rokt.example/' } }, onForward: 'metrics' } as any)
  await t.rejects(async () => { await app.ready() }, /^onForward: must be a function/)
  await app.close()
})
