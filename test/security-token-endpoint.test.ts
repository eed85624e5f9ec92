import t, { type Test } from 'tap'
import Fastify from 'fastify'
import * as oauth from 'openid-client'
import cardForwarding, { generateClientSecret, hashClientSecret, stripe } from '../index.ts'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { generateTestKeys } from '../lib/sandbox/tokens.ts'
import { AUDIENCE, buildHarness, DESTINATION, ISSUER, logLines, token, validBody, type Harness } from './helpers/harness.ts'
import { base64url, expectDenied, send } from './helpers/security.ts'

// The built-in token endpoint (RFC 6749 client_credentials, RFC 9068 access tokens), exercised
// with a standard OAuth client library over loopback, and the payment route verifying its tokens.
const CLIENT_ID = 'rokt-client'
const SECRET = generateClientSecret()
const ecKeys = generateTestKeys('ES256')
const edKeys = generateTestKeys('EdDSA')

async function issuing (t: Test, tokenEndpoint: Record<string, unknown> = {}, auth: Record<string, unknown> = {}): Promise<Harness & { url: string }> {
  const h = await buildHarness(t, {
    plugin: {
      auth: { issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing', ...auth } as any,
      tokenEndpoint: {
        privateKey: ecKeys.privateKey,
        clients: [{ clientId: CLIENT_ID, secretHash: hashClientSecret(SECRET), scopes: ['payment-sharing', 'reports'] }],
        allowedIps: ['127.0.0.1'],
        ...tokenEndpoint
      } as any
    }
  })
  return Object.assign(h, { url: await h.app.listen({ host: '127.0.0.1', port: 0 }) })
}

function oauthClient (url: string, auth: oauth.ClientAuth, clientId = CLIENT_ID): oauth.Configuration {
  const config = new oauth.Configuration({ issuer: ISSUER, token_endpoint: `${url}/oauth/token` }, clientId, undefined, auth)
  oauth.allowInsecureRequests(config)
  return config
}

async function currentKid (url: string): Promise<string> {
  return (await send(`${url}/.well-known/jwks.json`, { method: 'GET' })).json.keys[0].kid
}

function decode (jwt: string): { header: any, payload: any } {
  const [header, payload] = jwt.split('.').slice(0, 2).map(part => JSON.parse(Buffer.from(part, 'base64url').toString()))
  return { header, payload }
}

function tokenRequest (url: string, form: Record<string, string> | string, headers: Record<string, string> = {}) {
  return send(`${url}/oauth/token`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof form === 'string' ? form : new URLSearchParams(form).toString()
  })
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`

t.test('openid-client obtains a token with client_secret_basic and client_secret_post; the payment route accepts it', async t => {
  const h = await issuing(t)
  for (const [name, auth] of [['client_secret_basic', oauth.ClientSecretBasic(SECRET)], ['client_secret_post', oauth.ClientSecretPost(SECRET)]] as const) {
    const tokens = await oauth.clientCredentialsGrant(oauthClient(h.url, auth), { scope: 'payment-sharing' })
    t.equal(tokens.token_type.toLowerCase(), 'bearer', name)
    t.equal(tokens.expires_in, 300)
    t.equal(tokens.scope, 'payment-sharing')
    const { header, payload } = decode(tokens.access_token)
    t.match(header, { alg: 'ES256', typ: 'at+jwt', kid: /^[\w-]{43}$/ })
    t.match(payload, { iss: ISSUER, aud: AUDIENCE, sub: CLIENT_ID, client_id: CLIENT_ID, scope: 'payment-sharing', jti: /^[0-9a-f-]{36}$/ })
    t.equal(payload.exp - payload.iat, 300, 'lives 5 minutes')
    t.equal((await h.post(validBody, { token: tokens.access_token })).statusCode, 200, `${name}: the card was forwarded`)
  }
  t.equal(h.simulator.calls, 2)
  const all = await oauth.clientCredentialsGrant(oauthClient(h.url, oauth.ClientSecretBasic(SECRET)))
  t.equal(all.scope, 'payment-sharing reports', 'no scope asked: every scope the client may have')
  t.same(h.audits.filter(a => a.event === 'token_issued').map(a => [a.actor, a.outcome, a.statusCode]), [[CLIENT_ID, 'success', 200], [CLIENT_ID, 'success', 200], [CLIENT_ID, 'success', 200]])
  t.notOk(logLines.some(line => line.includes(SECRET) || line.includes(all.access_token.slice(0, 30))), 'neither the secret nor the token is logged')
})

t.test('EdDSA keys, a shorter lifetime, and the published JWKS verifies the same tokens', async t => {
  const h = await issuing(t, { privateKey: edKeys.privateKey, expiresInSeconds: 60 })
  const tokens = await oauth.clientCredentialsGrant(oauthClient(h.url, oauth.ClientSecretBasic(SECRET)), { scope: 'payment-sharing' })
  t.equal(tokens.expires_in, 60)
  t.equal(decode(tokens.access_token).header.alg, 'EdDSA')
  t.equal((await h.post(validBody, { token: tokens.access_token })).statusCode, 200)
  const jwks = await send(`${h.url}/.well-known/jwks.json`, { method: 'GET' })
  t.equal(jwks.statusCode, 200)
  t.equal(jwks.headers['cache-control'], 'public, max-age=300')
  t.match(jwks.json, { keys: [{ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: decode(tokens.access_token).header.kid }] })
  t.notOk('d' in jwks.json.keys[0], 'no private member')
  const verifier = await buildHarness(t, { plugin: { auth: { jwksUrl: `${h.url}/.well-known/jwks.json`, issuer: ISSUER, audience: AUDIENCE, algorithms: ['EdDSA'] } } })
  t.equal((await verifier.post(validBody, { token: tokens.access_token })).statusCode, 200, 'another instance verifies through the JWKS')
})

t.test('the payment route verifies issued tokens strictly: another key, another algorithm, typ JWT or another kid -> 401', async t => {
  const h = await issuing(t)
  const kid = await currentKid(h.url)
  const other = generateTestKeys('ES256')
  for (const [name, bearer] of [
    ['signed by another key', token({ privateKey: other.privateKey, algorithm: 'ES256', clientId: CLIENT_ID, kid })],
    ['an RS256 token', token({ kid })],
    ['typ JWT', token({ privateKey: ecKeys.privateKey, algorithm: 'ES256', typ: 'JWT', kid })],
    ['the right key under another kid', token({ privateKey: ecKeys.privateKey, algorithm: 'ES256', kid: 'rokt-rsa-1' })]
  ] as const) {
    await expectDenied(t, h, () => h.post(validBody, { token: bearer }), 401, 'CARD_FORWARDING_UNAUTHORIZED', name)
  }
  t.equal((await h.post(validBody, { token: token({ privateKey: ecKeys.privateKey, algorithm: 'ES256', kid }) })).statusCode, 200, 'the partner\'s own key is the only key')
})

t.test('key rotation in three rolling deploys: no token is refused at any point, and the JWKS publishes what is accepted', async t => {
  const next = generateTestKeys('ES256')
  const grant = async (h: { url: string }) => (await oauth.clientCredentialsGrant(oauthClient(h.url, oauth.ClientSecretBasic(SECRET)), { scope: 'payment-sharing' })).access_token
  const jwksKids = async (h: { url: string }) => (await send(`${h.url}/.well-known/jwks.json`, { method: 'GET' })).json.keys.map((k: any) => [k.kid, k.alg, k.use, 'd' in k])
  // 1: every instance accepts the next key, still signing with the old one.
  const announcing = await issuing(t, { rotationPublicKeys: [next.publicKey] })
  // 2: every instance signs with the next key and still accepts the old one.
  const switched = await issuing(t, { privateKey: next.privateKey, rotationPublicKeys: [ecKeys.publicKey] })
  // 3: once the old key's last token has expired, it is dropped.
  const done = await issuing(t, { privateKey: next.privateKey })

  const oldToken = await grant(announcing)
  const newToken = await grant(switched)
  const oldKid = decode(oldToken).header.kid
  const newKid = decode(newToken).header.kid
  t.not(newKid, oldKid, 'the switched instance signs with the next key')
  for (const [name, h, bearer] of [
    ['step 1 accepts a token of an already switched instance', announcing, newToken],
    ['step 1 accepts its own', announcing, oldToken],
    ['step 2 accepts a token of a not yet switched instance', switched, oldToken],
    ['step 2 accepts its own', switched, newToken],
    ['step 3 accepts the new key\'s', done, newToken]
  ] as const) {
    t.equal((await h.post(validBody, { token: bearer })).statusCode, 200, name)
  }
  t.same(await jwksKids(announcing), [[oldKid, 'ES256', 'sig', false], [newKid, 'ES256', 'sig', false]], 'step 1 publishes both, signing key first')
  t.same(await jwksKids(switched), [[newKid, 'ES256', 'sig', false], [oldKid, 'ES256', 'sig', false]], 'step 2 publishes both, signing key first')
  await expectDenied(t, done, () => done.post(validBody, { token: oldToken }), 401, 'CARD_FORWARDING_UNAUTHORIZED', 'step 3: the dropped key\'s tokens are refused')
  const forged = token({ privateKey: generateTestKeys('ES256').privateKey, algorithm: 'ES256', kid: oldKid, clientId: CLIENT_ID })
  await expectDenied(t, switched, () => switched.post(validBody, { token: forged }), 401, 'CARD_FORWARDING_UNAUTHORIZED', 'another key claiming a rotation kid')
})

t.test('RFC 6749 §5.2 errors, with Cache-Control: no-store and no library message', async t => {
  const h = await issuing(t, { rateLimit: { max: 100 } })
  const grant = { grant_type: 'client_credentials' }
  const cases: Array<[string, () => ReturnType<typeof send>, number, string]> = [
    ['wrong secret (basic)', () => tokenRequest(h.url, grant, { authorization: basic(CLIENT_ID, `${SECRET}x`) }), 401, 'invalid_client'],
    ['wrong secret (post)', () => tokenRequest(h.url, { ...grant, client_id: CLIENT_ID, client_secret: 'x' }), 401, 'invalid_client'],
    ['unknown client', () => tokenRequest(h.url, grant, { authorization: basic('nobody', SECRET) }), 401, 'invalid_client'],
    ['no credentials', () => tokenRequest(h.url, grant), 401, 'invalid_client'],
    ['client_id without a secret', () => tokenRequest(h.url, { ...grant, client_id: CLIENT_ID }), 401, 'invalid_client'],
    ['another scheme', () => tokenRequest(h.url, grant, { authorization: `Bearer ${SECRET}` }), 401, 'invalid_client'],
    ['Basic without a colon', () => tokenRequest(h.url, grant, { authorization: `Basic ${base64url(CLIENT_ID)}` }), 401, 'invalid_client'],
    ['Basic with bad percent-encoding', () => tokenRequest(h.url, grant, { authorization: `Basic ${Buffer.from(`%zz:${SECRET}`).toString('base64')}` }), 401, 'invalid_client'],
    ['two authentication methods', () => tokenRequest(h.url, { ...grant, client_secret: SECRET }, { authorization: basic(CLIENT_ID, SECRET) }), 400, 'invalid_request'],
    ['basic and another client_id', () => tokenRequest(h.url, { ...grant, client_id: 'other' }, { authorization: basic(CLIENT_ID, SECRET) }), 400, 'invalid_request'],
    ['no grant_type', () => tokenRequest(h.url, {}, { authorization: basic(CLIENT_ID, SECRET) }), 400, 'invalid_request'],
    ['password grant', () => tokenRequest(h.url, { grant_type: 'password', username: 'u', password: 'p' }, { authorization: basic(CLIENT_ID, SECRET) }), 400, 'unsupported_grant_type'],
    ['a scope the client may not have', () => tokenRequest(h.url, { ...grant, scope: 'payment-sharing admin' }, { authorization: basic(CLIENT_ID, SECRET) }), 400, 'invalid_scope'],
    ['an empty scope', () => tokenRequest(h.url, { ...grant, scope: '' }, { authorization: basic(CLIENT_ID, SECRET) }), 400, 'invalid_scope'],
    ['a repeated parameter', () => tokenRequest(h.url, 'grant_type=client_credentials&grant_type=client_credentials', { authorization: basic(CLIENT_ID, SECRET) }), 400, 'invalid_request'],
    ['a JSON body', () => send(`${h.url}/oauth/token`, { headers: { 'content-type': 'application/json', authorization: basic(CLIENT_ID, SECRET) }, body: JSON.stringify(grant) }), 400, 'invalid_request'],
    ['no body', () => send(`${h.url}/oauth/token`, { headers: { authorization: basic(CLIENT_ID, SECRET) } }), 400, 'invalid_request'],
    ['a body over 4 KiB', () => tokenRequest(h.url, { ...grant, pad: 'x'.repeat(5000) }, { authorization: basic(CLIENT_ID, SECRET) }), 400, 'invalid_request']
  ]
  for (const [name, request, status, error] of cases) {
    const res = await request()
    t.equal(res.statusCode, status, name)
    t.same(res.json, { error }, `${name}: ${error}`)
    t.equal(res.headers['cache-control'], 'no-store')
    t.equal(res.headers.pragma, 'no-cache')
    if (status === 401) t.equal(res.headers['www-authenticate'], 'Basic realm="oauth"')
  }
  t.same(h.audits.map(a => [a.event, a.code, a.outcome]), cases.map(([, , , error]) => ['token_denied', error, 'failure']), 'one token_denied audit event each')
  t.equal(h.simulator.calls, 0)
})

t.test('the token endpoint has its own IP allowlist and a rate limit per client IP', async t => {
  const h = await issuing(t, { allowedIps: ['127.0.0.1', '203.0.113.0/24'], rateLimit: { max: 3, windowSeconds: 60 } })
  const request = (remoteAddress: string) => h.app.inject({ method: 'POST', url: '/oauth/token', remoteAddress, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CLIENT_ID, SECRET) }, payload: 'grant_type=client_credentials' })
  const outsider = await request('198.51.100.9')
  t.equal(outsider.statusCode, 403)
  t.same(outsider.json(), { error: 'access_denied' })
  for (let i = 0; i < 3; i++) t.equal((await request('203.0.113.7')).statusCode, 200, `request ${i + 1}`)
  const limited = await request('203.0.113.7')
  t.equal(limited.statusCode, 429)
  t.same(limited.json(), { error: 'temporarily_unavailable' })
  t.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60, `Retry-After ${limited.headers['retry-after']}`)
  t.equal((await request('203.0.113.8')).statusCode, 200, 'another address has its own budget')
  const payment = await h.post(validBody, { ip: '127.0.0.1' })
  t.equal(payment.statusCode, 403, 'the token endpoint\'s allowlist does not open the payment route')
})

t.test('tokenEndpoint options are checked at registration', async t => {
  const base = () => ({
    allowedIps: ['203.0.113.0/24'],
    auth: { issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing' },
    resolvePaymentMethod: async () => null,
    psps: { stripe: stripe({ apiKey: STRIPE_SANDBOX_API_KEY }) },
    destinations: { [DESTINATION]: { url: 'https://rokt.example/tokens' } }
  })
  const endpoint = { privateKey: ecKeys.privateKey, clients: [{ clientId: CLIENT_ID, secretHash: hashClientSecret(SECRET) }], allowedIps: ['198.51.100.0/24'] }
  const cases: Array<[string, Record<string, unknown>, RegExp, Record<string, unknown>?, unknown?]> = [
    ['not an object', { tokenEndpoint: 'yes' }, /^tokenEndpoint: must be an object/],
    ['no auth', { auth: undefined, tokenEndpoint: endpoint }, /^auth: required/],
    ['a key source as well', { auth: { ...base().auth, publicKey: ecKeys.publicKey }, tokenEndpoint: endpoint }, /^auth: with tokenEndpoint, give no jwksUrl, publicKey or secret/],
    ['another preset', { auth: { ...base().auth, preset: 'auth0' }, tokenEndpoint: endpoint }, /^auth.preset: tokenEndpoint issues RFC 9068 tokens/],
    ['not a key', { tokenEndpoint: { ...endpoint, privateKey: 'nope' } }, /^tokenEndpoint.privateKey: must be a PEM private key/],
    ['an RSA key', { tokenEndpoint: { ...endpoint, privateKey: generateTestKeys('RS256').privateKey } }, /^tokenEndpoint.privateKey: must be a P-256 \(ES256\) or Ed25519 \(EdDSA\) key/],
    ['no clients', { tokenEndpoint: { ...endpoint, clients: [] } }, /^tokenEndpoint.clients: give at least one client/],
    ['a bad client id', { tokenEndpoint: { ...endpoint, clients: [{ clientId: 'a b', secretHash: hashClientSecret(SECRET) }] } }, /^tokenEndpoint.clients\[0\].clientId/],
    ['a duplicate client', { tokenEndpoint: { ...endpoint, clients: [endpoint.clients[0], endpoint.clients[0]] } }, /^tokenEndpoint.clients\[1\].clientId: duplicate/],
    ['the secret itself', { tokenEndpoint: { ...endpoint, clients: [{ clientId: CLIENT_ID, secretHash: SECRET }] } }, /^tokenEndpoint.clients\[0\].secretHash: must be the output of hashClientSecret/],
    ['bad scopes', { tokenEndpoint: { ...endpoint, clients: [{ ...endpoint.clients[0], scopes: ['a b'] }] } }, /^tokenEndpoint.clients\[0\].scopes: must be an array of scope tokens/],
    ['scopes without the required one', { tokenEndpoint: { ...endpoint, clients: [{ ...endpoint.clients[0], scopes: ['reports'] }] } }, /^tokenEndpoint.clients\[0\].scopes: must include auth.requiredScope/],
    ['a lifetime over 5 minutes', { tokenEndpoint: { ...endpoint, expiresInSeconds: 301 } }, /^tokenEndpoint.expiresInSeconds: must be an integer from 1 to 300/],
    ['a zero rate limit', { tokenEndpoint: { ...endpoint, rateLimit: { max: 0 } } }, /^tokenEndpoint.rateLimit.max/],
    ['rotation keys not in an array', { tokenEndpoint: { ...endpoint, rotationPublicKeys: ecKeys.publicKey } }, /^tokenEndpoint.rotationPublicKeys: must be an array of at most 3 PEM public keys/],
    ['four rotation keys', { tokenEndpoint: { ...endpoint, rotationPublicKeys: [1, 2, 3, 4].map(() => generateTestKeys('ES256').publicKey) } }, /^tokenEndpoint.rotationPublicKeys: must be an array of at most 3/],
    ['a private key among the rotation keys', { tokenEndpoint: { ...endpoint, rotationPublicKeys: [generateTestKeys('ES256').privateKey] } }, /^tokenEndpoint.rotationPublicKeys\[0\]: must be a PEM public key \(never a private key\)/],
    ['a rotation key that is no key', { tokenEndpoint: { ...endpoint, rotationPublicKeys: ['nope'] } }, /^tokenEndpoint.rotationPublicKeys\[0\]: must be a PEM public key/],
    ['a rotation key of another algorithm', { tokenEndpoint: { ...endpoint, rotationPublicKeys: [edKeys.publicKey] } }, /^tokenEndpoint.rotationPublicKeys\[0\]: must be an ES256 key, like privateKey/],
    ['the signing key as a rotation key', { tokenEndpoint: { ...endpoint, rotationPublicKeys: [ecKeys.publicKey] } }, /^tokenEndpoint.rotationPublicKeys\[0\]: is the current key or a duplicate/],
    ['a rotation key twice', { tokenEndpoint: { ...endpoint, rotationPublicKeys: Array(2).fill(generateTestKeys('ES256').publicKey) } }, /^tokenEndpoint.rotationPublicKeys\[1\]: is the current key or a duplicate/],
    ['no allowlist', { tokenEndpoint: { ...endpoint, allowedIps: [] } }, /^tokenEndpoint.allowedIps: give at least one/],
    ['no allowlist behind a proxy', { tokenEndpoint: { ...endpoint, allowedIps: undefined } }, /^tokenEndpoint.allowedIps: give at least one/, { trustProxy: '10.0.0.0/8' }],
    ['a bad allowlist entry behind a proxy', { tokenEndpoint: { ...endpoint, allowedIps: ['not-an-ip'] } }, /^tokenEndpoint.allowedIps: "not-an-ip" is not an IPv4\/IPv6 address or CIDR/, { trustProxy: '10.0.0.0/8' }],
    ['an allowlist overlapping the proxies', { tokenEndpoint: endpoint }, /^tokenEndpoint.allowedIps: "198.51.100.0\/24" overlaps the trusted proxy/, { trustProxy: '198.51.100.1' }]
  ]
  for (const [name, patch, message, server] of cases) {
    const app = Fastify(server)
    app.register(cardForwarding, { ...base(), ...patch } as any)
    await t.rejects(async () => { await app.ready() }, message, name)
    await app.close()
  }
  const app = Fastify()
  app.register(cardForwarding, { ...base(), auth: { issuer: ISSUER, audience: AUDIENCE }, tokenEndpoint: { ...endpoint, clients: [{ clientId: CLIENT_ID, secretHash: hashClientSecret(SECRET) }] } } as any)
  await t.resolves(async () => { await app.ready() }, 'without requiredScope a client may have no scopes')
  await app.close()
})

t.test('a client without scopes gets a token without a scope claim, accepted when no scope is required', async t => {
  const h = await issuing(t, { clients: [{ clientId: CLIENT_ID, secretHash: hashClientSecret(SECRET) }] }, { requiredScope: undefined })
  const tokens = await oauth.clientCredentialsGrant(oauthClient(h.url, oauth.ClientSecretPost(SECRET)))
  t.equal(tokens.scope, undefined)
  t.notOk('scope' in decode(tokens.access_token).payload)
  t.equal((await h.post(validBody, { token: tokens.access_token })).statusCode, 200)
})

t.test('hashClientSecret stores a SHA-256 of a high-entropy secret and refuses short ones', async t => {
  t.match(generateClientSecret(), /^[\w-]{43}$/, '256 random bits, base64url')
  t.not(generateClientSecret(), generateClientSecret())
  t.match(hashClientSecret(SECRET), /^sha256:[\w-]{43}$/)
  t.equal(hashClientSecret(SECRET), hashClientSecret(SECRET), 'deterministic: comparable')
  t.throws(() => hashClientSecret('hunter2'), /at least 32 characters/)
  t.throws(() => hashClientSecret(42 as any), /at least 32 characters/)
})
