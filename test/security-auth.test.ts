import t from 'tap'
import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { generateTestKeys, mintToken } from '../lib/sandbox/tokens.ts'
import { AUDIENCE, buildHarness, ISSUER, logLines, rsaKeys, token, validBody } from './helpers/harness.ts'
import { assertAccepted, assertRefused, CHALLENGE, harness, HEADER, INSUFFICIENT_SCOPE, INVALID_REQUEST, INVALID_TOKEN, now, PEM } from './helpers/auth.ts'
import { expectDenied, base64url, claims, signRaw } from './helpers/security.ts'

// docs/THREAT-MODEL.md section B: OAuth 2.0 bearer JWTs. The harness verifies with Rokt's RSA public key,
// issuer ISSUER, audience AUDIENCE, scope payment-sharing and the default strict RFC 9068 preset.

t.test('B7 no Authorization header -> 401, challenge without an error attribute', async t => {
  const h = await harness(t)
  const res = await expectDenied(t, h, () => h.post(validBody, { token: null }), 401, 'CARD_FORWARDING_UNAUTHORIZED')
  t.equal(res.headers['www-authenticate'], CHALLENGE)
  t.same(h.audits.map(a => [a.event, a.reason]), [['auth_failed', 'no_credentials']])
})

t.test('B8 wrong scheme -> 401 without error; malformed bearer -> 401 invalid_request (one status for every token problem: docs/THREAT-MODEL.md B8)', async t => {
  const h = await harness(t)
  for (const header of ['Basic cm9rdDpzZWNyZXQ=', 'Token abc', 'Bearertoken']) {
    const res = await expectDenied(t, h, () => h.post(validBody, { token: null, headers: { authorization: header } }), 401, 'CARD_FORWARDING_UNAUTHORIZED', header)
    t.equal(res.headers['www-authenticate'], CHALLENGE, `${header}: no error attribute`)
  }
  for (const header of ['Bearer', 'Bearer ', `Bearer ${token()} extra`, `Bearer  ${token()}`, `Bearer\t${token()}`]) {
    const res = await expectDenied(t, h, () => h.post(validBody, { token: null, headers: { authorization: header } }), 401, 'CARD_FORWARDING_UNAUTHORIZED', JSON.stringify(header.slice(0, 10)))
    t.equal(res.headers['www-authenticate'], INVALID_REQUEST, '401 (docs/THREAT-MODEL.md B8), with RFC 6750 invalid_request as the error code')
  }
  for (const header of ['Bearer abc', 'Bearer a.b', 'Bearer a.b.c=', `Bearer ${token()}.d`]) {
    const res = await expectDenied(t, h, () => h.post(validBody, { token: null, headers: { authorization: header } }), 401, 'CARD_FORWARDING_UNAUTHORIZED', JSON.stringify(header.slice(0, 12)))
    t.equal(res.headers['www-authenticate'], INVALID_TOKEN, 'a well-formed bearer token that is not a JWT is an invalid token')
    t.equal(h.audits.at(-1)?.reason, 'not_a_jwt')
  }
  for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
    t.equal((await h.post(validBody, { token: null, headers: { authorization: `${scheme} ${token()}` } })).statusCode, 200, `the scheme is case-insensitive: ${scheme}`)
  }
})

t.test('B9 a token in the query string or the JSON body is never used; with a header token too -> 401 invalid_request (401, as B8)', async t => {
  const h = await harness(t)
  const bearer = token()
  const inject = (url: string, headers: Record<string, string>, payload: unknown) =>
    h.app.inject({ method: 'POST', url, remoteAddress: '203.0.113.7', headers: { 'content-type': 'application/json', ...headers }, payload: payload as any })
  const queryOnly = await inject(`/v1/initiate-payment-sharing?access_token=${bearer}`, {}, validBody)
  t.equal(queryOnly.statusCode, 401)
  t.equal(queryOnly.headers['www-authenticate'], CHALLENGE, 'a query token is no credential at all')
  const bodyOnly = await inject('/v1/initiate-payment-sharing', {}, { ...validBody, access_token: bearer })
  t.equal(bodyOnly.statusCode, 401)
  t.equal(bodyOnly.headers['www-authenticate'], CHALLENGE, 'nor is a body field')
  const both = await inject(`/v1/initiate-payment-sharing?access_token=${bearer}`, { authorization: `Bearer ${bearer}` }, validBody)
  t.equal(both.statusCode, 401)
  t.equal(both.headers['www-authenticate'], INVALID_REQUEST, 'two methods in one request')
  t.equal(h.simulator.requests.length, 0)
  const headerAndBodyField = await inject('/v1/initiate-payment-sharing', { authorization: `Bearer ${bearer}` }, { ...validBody, access_token: 'x' })
  t.equal(headerAndBodyField.statusCode, 200, 'a JSON body field is no RFC 6750 method (§2.2 is form bodies only): an unknown top-level field, ignored (docs/THREAT-MODEL.md C32)')
  t.notOk(logLines.some(line => line.includes(bearer.slice(0, 40))), 'the query string was logged without the token')
  t.ok(logLines.some(line => line.includes('"url":"/v1/initiate-payment-sharing"')), 'the URL is logged without its query string')
})

t.test('B10 alg none -> 401 invalid_token', async t => {
  const h = await harness(t)
  const unsigned = `${base64url(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${base64url(JSON.stringify(claims()))}.`
  const unsignedNoDot = unsigned.slice(0, -1)
  const noneWithSignature = signRaw({ alg: 'none', typ: 'at+jwt', kid: 'rokt-rsa-1' }, claims(), rsaKeys.privateKey, 'RS256')
  await assertRefused(t, h, [['alg none, empty signature', unsigned], ['alg none, two parts', unsignedNoDot], ['alg none, RS256 signature', noneWithSignature]])
})

t.test('B11 HS256 signed with Rokt\'s public key in every form -> 401 (key confusion)', async t => {
  const pkcs1 = createPublicKey(rsaKeys.publicKey).export({ type: 'pkcs1', format: 'pem' }).toString()
  const forms: Array<[string, string]> = [
    ['SPKI PEM', rsaKeys.publicKey],
    ['PKCS#1 PEM', pkcs1],
    ['PEM with leading whitespace', `  \n${rsaKeys.publicKey}`],
    ['PEM with a NUL prefix', `\x00${rsaKeys.publicKey}`],
    ['PEM with a zero-width space prefix', `\u200b${rsaKeys.publicKey}`],
    ['PEM with a # comment prefix', `# rokt\n${rsaKeys.publicKey}`],
    ['the JWK JSON text', JSON.stringify(rsaKeys.jwk)],
    ['the empty string', '']
  ]
  const forged = forms.map(([name, secret]): [string, string] => [name, signRaw({ alg: 'HS256', typ: 'at+jwt', kid: 'rokt-rsa-1' }, claims(), Buffer.from(secret), 'HS256')])
  await assertRefused(t, await harness(t), forged)
  await assertRefused(t, await harness(t, { publicKey: pkcs1 }), forged.map(([name, jwt]) => [`server key PKCS#1, ${name}`, jwt]))
})

t.test('B12 a validly signed token with a non-pinned alg (PS256, RS512 under RS256; ES256 against an RSA key) -> 401, never 500', async t => {
  const ec = generateTestKeys('ES256', 'rokt-rsa-1')
  await assertRefused(t, await harness(t), [
    ['PS256 with the right key', signRaw({ alg: 'PS256', typ: 'at+jwt', kid: 'rokt-rsa-1' }, claims(), rsaKeys.privateKey, 'PS256')],
    ['RS512 with the right key', signRaw({ alg: 'RS512', typ: 'at+jwt', kid: 'rokt-rsa-1' }, claims(), rsaKeys.privateKey, 'RS512')],
    ['ES256 with an EC key', signRaw({ alg: 'ES256', typ: 'at+jwt', kid: 'rokt-rsa-1' }, claims(), ec.privateKey, 'ES256')]
  ])
})

t.test('B13 tampered payload, truncated signature, padded or spaced base64url -> 401', async t => {
  const good = token()
  const [header, payload, signature] = good.split('.')
  const tampered = `${header}.${base64url(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), client_id: 'admin' }))}.${signature}`
  const h = await harness(t)
  await assertRefused(t, h, [
    ['tampered claim', tampered],
    ['truncated signature', good.slice(0, -10)],
    ['another token\'s signature', `${header}.${payload}.${token({ scope: 'x' }).split('.')[2]}`],
    ['padded signature', `${good}==`]
  ])
  for (const [name, authorization] of [['padded payload', `Bearer ${header}.${payload}=.${signature}`], ['whitespace inside', `Bearer ${header}. ${payload}.${signature}`]]) {
    const res = await expectDenied(t, h, () => h.post(validBody, { token: null, headers: { authorization } }), 401, 'CARD_FORWARDING_UNAUTHORIZED', name)
    t.equal(res.headers['www-authenticate'], INVALID_REQUEST, `${name}: not an RFC 6750 b64token`)
  }
})

t.test('B14 typ JWT, absent or another +jwt type -> 401; at+jwt in any spelling is accepted', async t => {
  const h = await harness(t)
  await assertRefused(t, h, [
    ['typ JWT', token({ typ: 'JWT' })],
    ['no typ', token({ header: { typ: undefined } })],
    ['an ID token type', token({ typ: 'id+jwt' })],
    ['a logout token type', token({ typ: 'logout+jwt' })]
  ])
  await assertAccepted(t, h, [['at+jwt', token()], ['AT+JWT', token({ typ: 'AT+JWT' })], ['application/at+jwt', token({ typ: 'application/at+jwt' })]])
})

t.test('B15 each RFC 9068 required claim removed in turn -> 401', async t => {
  const h = await harness(t)
  await assertRefused(t, h, ['iss', 'aud', 'exp', 'iat', 'sub', 'client_id', 'jti'].map(claim => [`without ${claim}`, token({ claims: { [claim]: undefined } })]))
})

t.test('B16 iss: another issuer, an array, a trailing-slash or case variant -> 401', async t => {
  const h = await harness(t)
  await assertRefused(t, h, [
    ['another issuer', token({ issuer: 'https://evil.example/' })],
    ['an array holding ours', token({ claims: { iss: ['https://evil.example/', ISSUER] } })],
    ['without the trailing slash', token({ issuer: ISSUER.slice(0, -1) })],
    ['with another trailing slash', token({ issuer: `${ISSUER}/` })],
    ['upper case', token({ issuer: ISSUER.toUpperCase() })]
  ])
})

t.test('B17 aud: another resource, an array without ours, absent, ours with a trailing slash -> 401', async t => {
  const h = await harness(t)
  await assertRefused(t, h, [
    ['another resource', token({ audience: 'other-api' })],
    ['an array without ours', token({ audience: ['other-api', 'more-api'] })],
    ['absent', token({ audience: undefined })],
    ['with a trailing slash', token({ audience: `${AUDIENCE}/` })]
  ])
  await assertAccepted(t, h, [['an array holding ours', token({ audience: ['other-api', AUDIENCE] })]])
})

t.test('B18 time claims with a 30 s leeway: exp, nbf, future iat, lifetime, non-numeric exp', async t => {
  const h = await harness(t, { maxTokenLifetimeSeconds: 300 })
  await assertRefused(t, h, [
    // Claims are whole seconds and the tokens are minted before they are sent, so the refused
    // cases sit 5 s outside the leeway and the accepted ones inside it: a second ticking over
    // mid-test cannot flip them.
    ['exp 35 s ago', token({ issuedAt: now() - 100, expiresInSeconds: 65 })],
    ['nbf 35 s ahead (not a 500)', token({ claims: { nbf: now() + 35 } })],
    ['iat 35 s ahead', token({ issuedAt: now() + 35 })],
    ['exp - iat = 301 s', token({ expiresInSeconds: 301 })],
    ['exp a string (not a 500)', signRaw(HEADER, claims({ exp: 'tomorrow' }), rsaKeys.privateKey, 'RS256')],
    ['exp a float string (not a 500)', signRaw(HEADER, claims({ exp: String(now() + 60.5) }), rsaKeys.privateKey, 'RS256')],
    ['issued 1000 s ago, still unexpired (max age 900)', token({ issuedAt: now() - 1000, expiresInSeconds: 1100 })]
  ])
  t.same(h.audits.map(a => a.reason).slice(2, 4), ['claim_invalid:iat', 'token_lifetime'], 'the audit says why (our own checks)')
  await assertAccepted(t, h, [
    ['exp 25 s ago, within the leeway', token({ issuedAt: now() - 100, expiresInSeconds: 75 })],
    ['nbf 25 s ahead', token({ claims: { nbf: now() + 25 } })],
    ['iat 25 s ahead', token({ issuedAt: now() + 25 })],
    ['exp - iat = 300 s', token({ expiresInSeconds: 300 })]
  ])
  const defaults = await harness(t)
  await assertRefused(t, defaults, [['exp - iat = 901 s with the default limit (the max age)', token({ expiresInSeconds: 901 })]])
})

t.test('B19 a valid token without the scope, or with scope not a string -> 403 insufficient_scope', async t => {
  const h = await harness(t)
  const tokens: Array<[string, string]> = [
    ['no scope', token({ scope: undefined })],
    ['another scope', token({ scope: 'payment-sharing:read other' })],
    ['scope as an array', token({ scope: undefined, claims: { scope: ['payment-sharing'] } })],
    ['scope as a number', token({ scope: undefined, claims: { scope: 1 } })],
    ['the scope only in scp (not a scope claim of this preset)', token({ scope: undefined, claims: { scp: ['payment-sharing'] } })]
  ]
  for (const [name, bearer] of tokens) {
    const res = await expectDenied(t, h, () => h.post(validBody, { token: bearer }), 403, 'CARD_FORWARDING_INSUFFICIENT_SCOPE', name)
    t.equal(res.headers['www-authenticate'], INSUFFICIENT_SCOPE, `${name}: challenge`)
  }
  t.same(h.audits.map(a => [a.event, a.actor]), tokens.map(() => ['scope_denied', 'rokt']))
  await assertAccepted(t, h, [['the scope among others', token({ scope: 'openid payment-sharing other' })]])
})

t.test('B20 a valid token for another client of the same authorization server -> 403', async t => {
  const h = await harness(t, { allowedClientIds: ['rokt'] })
  const res = await expectDenied(t, h, () => h.post(validBody, { token: token({ clientId: 'shop-frontend', subject: 'shop-frontend' }) }), 403, 'CARD_FORWARDING_INSUFFICIENT_SCOPE', 'another client_id')
  t.equal(res.headers['www-authenticate'], INSUFFICIENT_SCOPE)
  t.same(h.audits.map(a => [a.event, a.reason, a.actor]), [['scope_denied', 'client_not_allowed', 'shop-frontend']])
  // A server that names clients only in sub (client_id not required here): sub is the client.
  const bySub = await harness(t, { allowedClientIds: ['rokt'], requiredClaims: ['jti'] })
  t.equal((await bySub.post(validBody, { token: token({ clientId: undefined }) })).statusCode, 200, 'sub rokt is allowed')
  t.equal(bySub.audits[0].actor, 'rokt')
  await expectDenied(t, bySub, () => bySub.post(validBody, { token: token({ clientId: undefined, subject: 'shop-frontend' }) }), 403, 'CARD_FORWARDING_INSUFFICIENT_SCOPE', 'another sub')
  const nobody = await bySub.post(validBody, { token: token({ clientId: undefined, subject: undefined }) })
  t.equal(nobody.statusCode, 403, 'a token naming no client at all')
})

t.test('B21 a JSON-array payload, a header that is not an object, a crit header -> 401', async t => {
  const header = { alg: 'RS256', typ: 'at+jwt', kid: 'rokt-rsa-1' }
  await assertRefused(t, await harness(t), [
    ['array payload', signRaw(header, [claims()], rsaKeys.privateKey, 'RS256')],
    ['string payload', signRaw(header, '"x"', rsaKeys.privateKey, 'RS256')],
    ['array header', signRaw([header], claims(), rsaKeys.privateKey, 'RS256')],
    ['crit x-unknown', signRaw({ ...header, crit: ['x-unknown'], 'x-unknown': 1 }, claims(), rsaKeys.privateKey, 'RS256')],
    ['not JSON at all', `${base64url('{')}.${base64url('{')}.${base64url('x')}`]
  ])
})

t.test('B27 refusals carry no library message, token fragment, claim value or CR/LF, and the logs hold no token', async t => {
  const h = await harness(t)
  const bearer = token({ issuer: 'https://evil.example/', claims: { note: 'claim-value-marker' } })
  const attempts = [bearer, token({ typ: 'JWT' }), signRaw(HEADER, claims({ exp: 'x' }), rsaKeys.privateKey, 'RS256'), token({ claims: { nbf: now() + 3600 } }), `${bearer}x`, 'a.b.c', signRaw({ alg: 'HS256' }, claims(), 'k', 'HS256')]
  for (const attempt of attempts) {
    const res = await h.app.inject({ method: 'POST', url: '/v1/initiate-payment-sharing', remoteAddress: '203.0.113.7', headers: { authorization: `Bearer ${attempt}`, 'content-type': 'application/json' }, payload: validBody })
    t.equal(res.statusCode, 401)
    t.equal(res.body, JSON.stringify({ statusCode: 401, code: 'CARD_FORWARDING_UNAUTHORIZED', error: 'Unauthorized', message: 'Invalid or missing bearer token' }))
    t.equal(res.headers['www-authenticate'], INVALID_TOKEN)
    t.notMatch(res.body + String(res.headers['www-authenticate']), /FAST_JWT|FST_JWT|claim|evil|marker|eyJ|\r|\n/i)
  }
  const logged = logLines.join('\n')
  t.notMatch(logged, /eyJ|claim-value-marker|evil\.example/, 'no token, claim value or issuer in the logs')
  t.ok(h.audits.every(a => a.event === 'auth_failed' && /^[\w]+(?::[\w.-]+)?$/.test(a.reason as string)), 'each audit event carries a fixed reason code')
})

t.test('B28 dependency floors: fastify >= 5.12.1, @fastify/jwt >= 10.2.2, fast-jwt >= 6.3.1', async t => {
  const require = createRequire(import.meta.url)
  const installed = (name: string, from = require) => JSON.parse(readFileSync(from.resolve(`${name}/package.json`), 'utf8')).version as string
  const atLeast = (version: string, floor: string) => {
    const [a, b] = [version, floor].map(v => v.split('-')[0].split('.').map(Number))
    for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i]
    return true
  }
  const fastJwtFrom = createRequire(require.resolve('@fastify/jwt'))
  for (const [name, floor, version] of [
    ['fastify', '5.12.1', installed('fastify')],
    ['@fastify/jwt', '10.2.2', installed('@fastify/jwt')],
    ['fast-jwt (ours)', '6.3.1', installed('fast-jwt')],
    ['fast-jwt (as @fastify/jwt resolves it)', '6.3.1', installed('fast-jwt', fastJwtFrom)]
  ]) {
    t.ok(atLeast(version, floor), `${name} ${version} >= ${floor}`)
  }
  t.notOk(atLeast('6.3.0', '6.3.1'), 'the comparison is real')
  t.throws(() => require.resolve('get-jwks'), 'get-jwks is not in the tree (its fetch timeout is ignored since v10): our own JWKS client is used')
})

t.test('presets: each accepts its server\'s access tokens and refuses the look-alikes', async t => {
  const mint = (header: Record<string, unknown>, payload: Record<string, unknown>) => mintToken({ privateKey: rsaKeys.privateKey, issuer: ISSUER, kid: 'rokt-rsa-1', header, claims: payload })
  const auth0 = await harness(t, { preset: 'auth0' })
  await assertAccepted(t, auth0, [['Auth0 profile token', mint({ typ: 'JWT' }, { aud: [AUDIENCE, `${ISSUER}userinfo`], sub: 'abc@clients', azp: 'abc', gty: 'client-credentials', scope: 'payment-sharing' })]])
  t.equal(auth0.audits[0].actor, 'abc', 'azp names the client')
  await assertRefused(t, auth0, [['Auth0 token without azp', mint({ typ: 'JWT' }, { aud: AUDIENCE, sub: 'abc@clients', scope: 'payment-sharing' })]])

  const okta = await harness(t, { preset: 'okta' })
  await assertAccepted(t, okta, [['Okta token, no typ, scp array', mint({ typ: undefined }, { aud: AUDIENCE, sub: 'cid1', cid: 'cid1', jti: 'AT.1', scp: ['payment-sharing'] })]])
  const oktaScope = await okta.post(validBody, { token: mint({ typ: undefined }, { aud: AUDIENCE, sub: 'cid1', cid: 'cid1', jti: 'AT.2', scp: ['other'] }) })
  t.equal(oktaScope.statusCode, 403)

  const entra = await harness(t, { preset: 'entra' })
  await assertAccepted(t, entra, [
    ['Entra app-only token, roles', mint({ typ: 'JWT' }, { aud: AUDIENCE, sub: 'oid', azp: 'app', tid: 'tenant', roles: ['payment-sharing'] })],
    ['Entra delegated token, scp string', mint({ typ: 'JWT' }, { aud: AUDIENCE, sub: 'oid', azp: 'app', tid: 'tenant', scp: 'read payment-sharing' })]
  ])

  const cognito = await harness(t, { preset: 'cognito', audience: 'app-client-1' })
  await assertAccepted(t, cognito, [['Cognito access token, no aud', mint({ typ: undefined }, { aud: undefined, sub: 'app-client-1', client_id: 'app-client-1', jti: 'j', token_use: 'access', scope: 'rokt/payment-sharing payment-sharing' })]])
  await assertRefused(t, cognito, [
    ['Cognito ID token', mint({ typ: undefined }, { aud: 'app-client-1', sub: 'u', client_id: 'app-client-1', jti: 'j', token_use: 'id', scope: 'payment-sharing' })],
    ['another app client', mint({ typ: undefined }, { aud: undefined, sub: 'app-client-2', client_id: 'app-client-2', jti: 'j', token_use: 'access', scope: 'payment-sharing' })]
  ])
  t.same(cognito.audits.slice(2).map(a => a.reason), ['claim_invalid:token_use', 'claim_invalid:client_id'])

  const keycloak = await harness(t, { preset: 'keycloak' })
  await assertAccepted(t, keycloak, [['Keycloak access token', mint({ typ: 'JWT' }, { aud: AUDIENCE, sub: 's', azp: 'rokt', jti: 'j', typ: 'Bearer', scope: 'payment-sharing' })]])
  await assertRefused(t, keycloak, [['Keycloak ID token', mint({ typ: 'JWT' }, { aud: AUDIENCE, sub: 's', azp: 'rokt', jti: 'j', typ: 'ID', scope: 'payment-sharing' })]])

  const overridden = await harness(t, { preset: 'okta', typ: 'at+jwt', scopeClaims: ['scope'] })
  await assertAccepted(t, overridden, [['explicit fields override the preset', token({ claims: { cid: 'rokt' } })]])
  const noTyp = await harness(t, { typ: null })
  await assertAccepted(t, noTyp, [['typ: null turns the typ check off', token({ header: { typ: undefined } })]])
})

t.test('auth options are checked at registration, naming the option', async t => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ preset: 'azure' }, /^auth.preset: must be one of rfc9068, auth0, okta, entra, cognito, keycloak/],
    [{ preset: 'toString' }, /^auth.preset/],
    [{ typ: '' }, /^auth.typ/],
    [{ requiredClaims: ['a b'] }, /^auth.requiredClaims/],
    [{ requiredClaims: 'jti' }, /^auth.requiredClaims/],
    [{ requiredClaimValues: { token_use: 1 } }, /^auth.requiredClaimValues/],
    [{ requiredClaimValues: null }, /^auth.requiredClaimValues/],
    [{ scopeClaims: [] }, /^auth.scopeClaims/],
    [{ scopeClaims: 'scp' }, /^auth.scopeClaims/],
    [{ clientIdClaim: '' }, /^auth.clientIdClaim/],
    [{ audienceClaim: 7 }, /^auth.audienceClaim/],
    [{ allowedClientIds: [] }, /^auth.allowedClientIds/],
    [{ maxTokenAgeSeconds: 300, maxTokenLifetimeSeconds: 301 }, /^auth.maxTokenLifetimeSeconds: must be an integer from 1 to 300/],
    [{ tokenCacheSize: -1 }, /^auth.tokenCacheSize/],
    [{ jwksTtlMs: 0 }, /^auth.jwksTtlMs/],
    [{ publicKey: generateKeyPairSync('x25519', PEM).publicKey }, /^auth.publicKey: unsupported key type x25519/],
    [{ publicKey: 42 }, /^auth.publicKey: must be a PEM string/]
  ]
  for (const [auth, message] of cases) await t.rejects(harness(t, auth), message, JSON.stringify(auth).slice(0, 60))
  await t.rejects(buildHarness(t, { plugin: { auth: undefined } }), /^auth: required/)
})

t.test('each key type pins its own algorithms (RFC 8725 §3.1)', async t => {
  const kinds: Array<[string, ReturnType<typeof generateKeyPairSync>, string, string]> = [
    ['P-384 key', generateKeyPairSync('ec', { namedCurve: 'P-384', ...PEM }), 'ES384', 'ES256'],
    ['P-521 key', generateKeyPairSync('ec', { namedCurve: 'P-521', ...PEM }), 'ES512', 'ES384'],
    ['Ed25519 key', generateKeyPairSync('ed25519', PEM), 'EdDSA', 'ES256']
  ]
  for (const [name, pair, alg, other] of kinds) {
    const h = await harness(t, { publicKey: pair.publicKey })
    const header = { alg, typ: 'at+jwt' }
    t.equal((await h.post(validBody, { token: signRaw(header, claims(), pair.privateKey as unknown as string, alg) })).statusCode, 200, `${name}: ${alg}`)
    t.equal((await h.post(validBody, { token: signRaw({ ...header, alg: other }, claims(), pair.privateKey as unknown as string, alg) })).statusCode, 401, `${name}: not ${other}`)
  }
  await t.rejects(harness(t, { algorithms: ['ES256'], publicKey: kinds[0][1].publicKey }), /^auth.algorithms: must be a non-empty subset of ES384 for this key/)
  await t.rejects(harness(t, { publicKey: generateKeyPairSync('rsa-pss', { modulusLength: 2048, ...PEM }).publicKey }), /^auth.publicKey: unsupported key type rsa-pss/, 'fast-jwt cannot use RSA-PSS keys: refused at registration')
})

t.test('a refused token costs no stack trace, and the process keeps its own stack trace limit', async t => {
  const h = await buildHarness(t)
  const before = Error.stackTraceLimit
  const forged = token({ privateKey: generateTestKeys('RS256', 'rokt-rsa-1').privateKey })
  t.equal((await h.post(validBody, { token: forged })).statusCode, 401)
  t.match(h.audits.at(-1), { event: 'auth_failed', reason: 'signature_invalid' })
  t.equal(Error.stackTraceLimit, before, 'restored after the refusal')
  t.equal((await h.post(validBody)).statusCode, 200)
  t.equal(Error.stackTraceLimit, before, 'and after an accepted token')
})
