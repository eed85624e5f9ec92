import t from 'tap'
import fc from 'fast-check'
import { BlockList } from 'node:net'
import { AUDIENCE, buildHarness, DESTINATION, EMAIL, ISSUER, ROKT_IP, token } from './helpers/harness.ts'

// Random bodies, headers, addresses and tokens thrown at the route: it never answers 5xx, and it
// forwards a card only when every check passed. Fixed seed and bounded runs, so it is part of
// `npm test` and reproducible.
interface Part<T> { value: T, ok: boolean }

const allowed = new BlockList()
allowed.addSubnet('203.0.113.0', 24, 'ipv4')
allowed.addSubnet('2001:db8::', 32, 'ipv6')
const now = () => Math.floor(Date.now() / 1000)

// Each part is valid often enough that a good share of runs pass every check.
const ips: fc.Arbitrary<Part<string>> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(ROKT_IP, '203.0.113.200', '2001:db8::5', '::ffff:203.0.113.9').map(value => ({ value, ok: true })) },
  { weight: 1, arbitrary: fc.ipV4().map(value => ({ value, ok: allowed.check(value, 'ipv4') })) },
  { weight: 1, arbitrary: fc.ipV6().map(value => ({ value, ok: allowed.check(value, 'ipv6') })) },
  { weight: 1, arbitrary: fc.string().map(value => ({ value, ok: false })) }
)

const signedTokens: fc.Arbitrary<Part<string | null>> = fc.record({
  iss: fc.constantFrom(ISSUER, 'https://evil.example/'),
  aud: fc.constantFrom(AUDIENCE, 'other-api'),
  scope: fc.constantFrom('payment-sharing', 'openid payment-sharing', 'other', undefined),
  expired: fc.boolean(),
  typ: fc.constantFrom('at+jwt', 'JWT'),
  jti: fc.boolean()
}).map(c => ({
  value: token({ issuer: c.iss, audience: c.aud, scope: c.scope, typ: c.typ, issuedAt: c.expired ? now() - 400 : now(), claims: c.jti ? {} : { jti: undefined } }),
  ok: c.iss === ISSUER && c.aud === AUDIENCE && c.scope?.split(' ').includes('payment-sharing') === true && !c.expired && c.typ === 'at+jwt' && c.jti
}))

/** One character of a valid token's payload changed (never its last, partly unused, one): the signature no longer matches. */
const tamperedTokens: fc.Arbitrary<Part<string | null>> = fc.tuple(fc.nat(), fc.constantFrom(...'ABCxyz019-_')).map(([at, char]) => {
  const [header, payload, signature] = token().split('.')
  const i = at % (payload.length - 1)
  const changed = payload[i] === char ? (char === 'A' ? 'B' : 'A') : char
  return { value: `${header}.${payload.slice(0, i)}${changed}${payload.slice(i + 1)}.${signature}`, ok: false }
})

const tokens: fc.Arbitrary<Part<string | null>> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(null).map(() => ({ value: token(), ok: true })) },
  { weight: 2, arbitrary: signedTokens },
  { weight: 1, arbitrary: tamperedTokens },
  { weight: 1, arbitrary: fc.string().map(value => ({ value, ok: false })) },
  { weight: 1, arbitrary: fc.constant({ value: null, ok: false }) }
)

const contentTypes: fc.Arbitrary<Part<string | undefined>> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON').map(value => ({ value, ok: true })) },
  fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json;', 'application/jsonx', ' application/json', 'application/json\t; charset=utf-8', undefined).map(value => ({ value, ok: false }))
)

const validBodies = fc.constantFrom(
  { partnerPaymentReference: 'ORDER_67890', destination: DESTINATION, customerIdentifiers: { email: EMAIL } },
  { partnerPaymentReference: 'ORDER_67890', destination: DESTINATION, customerIdentifiers: { email: EMAIL.toUpperCase(), customerId: 'cus_1' } },
  { partnerPaymentReference: 'ORDER_67890', destination: DESTINATION, customerIdentifiers: { customerId: 'cus_1' }, addedByRokt: { later: true } }
)
const bodies: fc.Arbitrary<Part<string>> = fc.oneof(
  { weight: 5, arbitrary: validBodies.map(body => ({ value: JSON.stringify(body), ok: true })) },
  // A valid body with one field replaced by anything else.
  fc.tuple(validBodies, fc.constantFrom('partnerPaymentReference', 'destination', 'customerIdentifiers'), fc.jsonValue())
    .filter(([body, key, value]) => JSON.stringify((body as any)[key]) !== JSON.stringify(value))
    .map(([body, key, value]) => ({ value: JSON.stringify({ ...body, [key]: value }), ok: false })),
  fc.json().map(value => ({ value, ok: false })),
  fc.string().map(value => ({ value, ok: false }))
)

const printable = fc.string().filter(s => /^[\x20-\x7e]*$/.test(s))
const extraHeaders = fc.dictionary(fc.constantFrom('x-forwarded-for', 'x-forwarded-host', 'x-http-method-override', 'x-request-id', 'accept', 'cookie', 'origin', 'x-real-ip'), printable)

t.test('random addresses, tokens, content types, bodies and headers: never a 5xx, never a forward unless every check passed', async t => {
  const h = await buildHarness(t)
  let forwards = 0
  let accepted = 0
  await fc.assert(fc.asyncProperty(ips, tokens, contentTypes, bodies, extraHeaders, async (ip, bearer, type, body, headers) => {
    const before = h.simulator.requests.length
    const audits = h.audits.length
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/initiate-payment-sharing',
      remoteAddress: ip.value,
      headers: {
        ...headers,
        ...(bearer.value === null ? {} : { authorization: `Bearer ${bearer.value}` }),
        ...(type.value === undefined ? {} : { 'content-type': type.value })
      },
      payload: body.value
    })
    const forwarded = h.simulator.requests.length > before
    const everyCheckPassed = ip.ok && bearer.ok && type.ok && body.ok
    if (forwarded) forwards++
    if (everyCheckPassed) accepted++
    return res.statusCode < 500 &&
      forwarded === everyCheckPassed &&
      (!everyCheckPassed || res.statusCode === 200) &&
      h.audits.length > audits
  }), { seed: 20260801, numRuns: 400, endOnFailure: true })
  t.ok(accepted >= 5, `${accepted} runs passed every check and were forwarded`)
  t.equal(forwards, accepted)
  t.ok(h.audits.some(a => a.event === 'ip_denied') && h.audits.some(a => a.event === 'auth_failed') && h.audits.some(a => a.event === 'validation_failed'), 'the runs reached every kind of refusal')
})
