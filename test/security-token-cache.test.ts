import t from 'tap'
import { createRequire } from 'node:module'

// Counts RSA signature verifications: fast-jwt takes createVerify from node:crypto when it is
// first loaded, so the counter goes in before the plugin (and so fast-jwt) is imported below.
const crypto = createRequire(import.meta.url)('node:crypto')
const createVerify = crypto.createVerify
let verifications = 0
crypto.createVerify = function (...args: unknown[]) {
  verifications++
  return createVerify.apply(this, args)
}
const { AUDIENCE, buildHarness, ISSUER, rsaKeys, token, validBody } = await import('./helpers/harness.ts')

t.test('a token reused for its lifetime is verified once (fast-jwt\'s bounded cache), and still refused once it expires', async t => {
  const h = await buildHarness(t, { plugin: { auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing', clockToleranceSeconds: 0 } } })
  const bearer = token({ expiresInSeconds: 60 })
  const exp = JSON.parse(Buffer.from(bearer.split('.')[1], 'base64url').toString()).exp as number
  verifications = 0
  for (let i = 0; i < 5; i++) t.equal((await h.post(validBody, { token: bearer })).statusCode, 200, `use ${i + 1}`)
  t.equal(verifications, 1, 'five uses, one signature verification')
  t.equal((await h.post(validBody, { token: token() })).statusCode, 200)
  t.equal(verifications, 2, 'another token is verified on its own')

  const realNow = Date.now
  Date.now = () => exp * 1000 + 1
  try {
    const expired = await h.post(validBody, { token: bearer })
    t.equal(expired.statusCode, 401, 'one millisecond past exp the cached token is refused')
    t.equal(expired.headers['www-authenticate'], 'Bearer realm="rokt-card-forwarding", error="invalid_token"')
  } finally {
    Date.now = realNow
  }
  t.equal(h.simulator.calls, 6, 'the expired use forwarded nothing')
})

t.test('tokenCacheSize: 0 verifies every use', async t => {
  const h = await buildHarness(t, { plugin: { auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE, tokenCacheSize: 0 } } })
  const bearer = token()
  verifications = 0
  for (let i = 0; i < 3; i++) t.equal((await h.post(validBody, { token: bearer })).statusCode, 200)
  t.equal(verifications, 3)
})
