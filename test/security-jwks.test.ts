import t, { type Test } from 'tap'
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { createJwksKeySource } from '../lib/edge/jwks.ts'
import { generateTestKeys, mintToken, type TestJwk, type TestKeyPair } from '../lib/sandbox/tokens.ts'
import { AUDIENCE, buildHarness, ISSUER, token, validBody, type Harness } from './helpers/harness.ts'
import { expectDenied, listenHttp, signRaw, claims } from './helpers/security.ts'

// docs/THREAT-MODEL.md B22-B25 and B49: the JWKS client, against real JWKS servers on loopback.
type Mode = 'ok' | 'hang' | 'error' | 'garbage' | 'huge'

/** A JWKS endpoint whose keys and failure mode a test controls; it counts every request it sees. */
async function startJwks (t: Test, keys: object[]) {
  const state = { keys, mode: 'ok' as Mode, requests: 0, paths: [] as string[] }
  const server = http.createServer((req, res) => {
    state.requests++
    state.paths.push(req.url as string)
    if (state.mode === 'hang') return
    if (state.mode === 'error') return res.writeHead(500).end('{"keys":[]}')
    if (state.mode === 'garbage') return res.writeHead(200, { 'content-type': 'application/json' }).end('<html>')
    if (state.mode === 'huge') return res.writeHead(200).end(JSON.stringify({ keys: state.keys, pad: 'x'.repeat(70_000) }))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }))
  })
  const running = await listenHttp(server)
  t.teardown(() => { server.closeAllConnections(); return running.close() })
  return Object.assign(state, { url: `${running.url}/.well-known/jwks.json` })
}

function jwksHarness (t: Test, url: string, auth: Record<string, unknown> = {}): Promise<Harness> {
  return buildHarness(t, { plugin: { auth: { jwksUrl: url, issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing', ...auth } as any } })
}

function signedBy (keys: TestKeyPair, overrides: Record<string, unknown> = {}): string {
  return token({ privateKey: keys.privateKey, kid: keys.jwk.kid, ...overrides })
}

const rokt1 = generateTestKeys('RS256', 'rokt-1')
const rokt2 = generateTestKeys('RS256', 'rokt-2')

t.test('B22 unknown kid -> one JWKS refresh, then 401; 100 random kids -> no more fetches within the cooldown', async t => {
  const jwks = await startJwks(t, [rokt1.jwk])
  const h = await jwksHarness(t, jwks.url, { jwksCooldownMs: 2000 })
  const stranger = generateTestKeys('RS256', 'stranger')
  const randomKids = Array.from({ length: 100 }, (_, i) => signedBy(stranger, { kid: `random-${i}-${Math.random().toString(36).slice(2)}` }))
  t.equal((await h.post(validBody, { token: signedBy(rokt1) })).statusCode, 200)
  t.equal(jwks.requests, 1)
  await sleep(2050)
  await expectDenied(t, h, () => h.post(validBody, { token: signedBy(stranger) }), 401, 'CARD_FORWARDING_UNAUTHORIZED', 'unknown kid')
  t.equal(jwks.requests, 2, 'exactly one refresh for it')
  t.match(h.audits.at(-1), { event: 'auth_failed', reason: 'JWKS_NO_USABLE_KEY' })
  for (const bearer of randomKids) t.equal((await h.post(validBody, { token: bearer })).statusCode, 401)
  const badKid = await h.post(validBody, { token: signedBy(rokt1, { kid: '../../etc/passwd' }) })
  t.equal(badKid.statusCode, 401, 'a kid the JWKS does not hold is refused, whatever it looks like')
  t.equal(jwks.requests, 2, '100 random kids caused no fetch within the cooldown')
  t.equal((await h.post(validBody, { token: signedBy(rokt1) })).statusCode, 200, 'the known key still works')
})

t.test('B22 the key cache keeps at most 20 keys of a JWKS', async t => {
  const many = Array.from({ length: 50 }, (_, i) => ({ ...rokt1.jwk, kid: `k${i}` }))
  const jwks = await startJwks(t, many)
  const source = createJwksKeySource({ url: jwks.url, algorithms: ['RS256'] })
  t.teardown(source.close)
  t.type(await source.getKey('k0', 'RS256'), 'string')
  t.equal(source.size, 20)
  await t.rejects(source.getKey('k30', 'RS256'), { code: 'JWKS_NO_USABLE_KEY' }, 'keys past the cap are not kept')
  t.equal(source.fetches, 1)
})

t.test('B23 jku/x5u/jwk headers and an iss naming the metadata service are never followed -> 401, only the pinned URL is fetched', async t => {
  const jwks = await startJwks(t, [rokt1.jwk])
  const attacker = await startJwks(t, [])
  const evil = generateTestKeys('RS256', 'rokt-1')
  attacker.keys = [evil.jwk]
  const h = await jwksHarness(t, jwks.url, { jwksCooldownMs: 0 })
  const header = { alg: 'RS256', typ: 'at+jwt', kid: 'rokt-1', jku: attacker.url, x5u: attacker.url, jwk: evil.jwk }
  const tokens = [
    signRaw(header, claims(), evil.privateKey, 'RS256'),
    signRaw({ ...header, kid: 'attacker-kid' }, claims(), evil.privateKey, 'RS256'),
    signRaw(header, claims({ iss: 'http://169.254.169.254/' }), evil.privateKey, 'RS256'),
    signRaw({ ...header, kid: 'attacker-kid' }, claims({ iss: attacker.url }), evil.privateKey, 'RS256')
  ]
  for (const bearer of tokens) await expectDenied(t, h, () => h.post(validBody, { token: bearer }), 401, 'CARD_FORWARDING_UNAUTHORIZED')
  t.equal(attacker.requests, 0, 'the attacker\'s server saw no request')
  t.ok(jwks.requests >= 1 && jwks.paths.every(p => p === '/.well-known/jwks.json'), 'only the pinned JWKS URL was fetched')
})

t.test('B24 a JWKS that accepts the connection but never answers -> 503 + Retry-After within the budget, never allowed through', async t => {
  const jwks = await startJwks(t, [rokt1.jwk])
  jwks.mode = 'hang'
  const h = await jwksHarness(t, jwks.url, { jwksTimeoutMs: 300, jwksCooldownMs: 5000 })
  const started = Date.now()
  const res = await expectDenied(t, h, () => h.post(validBody, { token: signedBy(rokt1) }), 503, 'CARD_FORWARDING_AUTH_UNAVAILABLE')
  const elapsed = Date.now() - started
  t.ok(elapsed >= 250 && elapsed < 2000, `answered in ${elapsed} ms (fetch budget 300 ms)`)
  t.equal(res.headers['retry-after'], '5')
  t.equal(res.headers['www-authenticate'], undefined, 'not an authentication failure')
  await expectDenied(t, h, () => h.post(validBody, { token: signedBy(rokt1) }), 503, 'CARD_FORWARDING_AUTH_UNAVAILABLE', 'within the cooldown')
  t.equal(jwks.requests, 1, 'a second request within the cooldown fails without another fetch')
  t.match(h.audits, [{ event: 'auth_failed', statusCode: 503, reason: 'jwks_unavailable' }, { event: 'auth_failed', statusCode: 503 }])
})

t.test('B24 a JWKS answering 500, invalid JSON or an oversized body -> 503 with no cached key', async t => {
  for (const mode of ['error', 'garbage', 'huge'] as const) {
    const jwks = await startJwks(t, [rokt1.jwk])
    jwks.mode = mode
    const h = await jwksHarness(t, jwks.url)
    await expectDenied(t, h, () => h.post(validBody, { token: signedBy(rokt1) }), 503, 'CARD_FORWARDING_AUTH_UNAVAILABLE', mode)
  }
  const empty = await startJwks(t, [])
  empty.keys = null as any
  const h = await jwksHarness(t, empty.url)
  await expectDenied(t, h, () => h.post(validBody, { token: signedBy(rokt1) }), 503, 'CARD_FORWARDING_AUTH_UNAVAILABLE', 'no keys array')
})

t.test('B24 a failing JWKS: the cached key is used up to the staleness cap (2 x TTL), then 503', async t => {
  const jwks = await startJwks(t, [rokt1.jwk])
  const h = await jwksHarness(t, jwks.url, { jwksTtlMs: 300, jwksCooldownMs: 50 })
  t.equal((await h.post(validBody, { token: signedBy(rokt1) })).statusCode, 200)
  jwks.mode = 'error'
  await sleep(350)
  t.equal((await h.post(validBody, { token: signedBy(rokt1) })).statusCode, 200, 'stale but within the cap: the cached key')
  t.equal(jwks.requests, 2, 'a refresh was tried')
  await sleep(350)
  await expectDenied(t, h, () => h.post(validBody, { token: signedBy(rokt1) }), 503, 'CARD_FORWARDING_AUTH_UNAVAILABLE', 'past the cap')
  jwks.mode = 'ok'
  await sleep(60)
  t.equal((await h.post(validBody, { token: signedBy(rokt1) })).statusCode, 200, 'recovers once the JWKS answers again')
})

t.test('B25 rotation: a new kid is accepted after one refresh; a removed kid is refused within the TTL, even for a token verified before', async t => {
  const jwks = await startJwks(t, [rokt1.jwk])
  const h = await jwksHarness(t, jwks.url, { jwksTtlMs: 300, jwksCooldownMs: 100 })
  const old = signedBy(rokt1)
  t.equal((await h.post(validBody, { token: old })).statusCode, 200)
  jwks.keys = [rokt1.jwk, rokt2.jwk]
  await sleep(120)
  t.equal((await h.post(validBody, { token: signedBy(rokt2) })).statusCode, 200, 'kid2 after one refresh')
  t.equal(jwks.requests, 2)
  jwks.keys = [rokt2.jwk]
  t.equal((await h.post(validBody, { token: old })).statusCode, 200, 'kid1 still fresh in the cache')
  await sleep(350)
  await expectDenied(t, h, () => h.post(validBody, { token: old }), 401, 'CARD_FORWARDING_UNAUTHORIZED', 'kid1 after the TTL, although its token was verified (and cached) before')
  t.equal((await h.post(validBody, { token: signedBy(rokt2) })).statusCode, 200)
})

t.test('B25 a JWK for encryption, with another alg or kty, an EC key under an RS256 pin, or a private key -> 401', async t => {
  const ec = generateTestKeys('ES256', 'ec')
  const published: Array<[string, TestJwk | Record<string, unknown>, TestKeyPair, string]> = [
    ['use enc', { ...rokt1.jwk, kid: 'enc', use: 'enc' }, rokt1, 'RS256'],
    ['key_ops encrypt', { ...rokt1.jwk, kid: 'ops', use: undefined, key_ops: ['encrypt'] }, rokt1, 'RS256'],
    ['alg RS512 on the JWK', { ...rokt1.jwk, kid: 'rs512', alg: 'RS512' }, rokt1, 'RS256'],
    ['an EC key under the RS256 pin', ec.jwk, ec, 'ES256'],
    ['an EC key claiming RS256', { ...ec.jwk, kid: 'ec-rs', alg: 'RS256' }, ec, 'ES256'],
    ['kty RSA with EC members', { ...ec.jwk, kid: 'bad-kty', kty: 'RSA', alg: undefined }, ec, 'ES256'],
    ['a private JWK', { ...rokt1.jwk, kid: 'private', d: 'AQAB' }, rokt1, 'RS256']
  ]
  const jwks = await startJwks(t, [...published.map(([, jwk]) => jwk), null, 'x'] as object[])
  const h = await jwksHarness(t, jwks.url)
  for (const [name, jwk, keys, alg] of published) {
    const bearer = mintToken({ privateKey: keys.privateKey, algorithm: alg as any, kid: (jwk as TestJwk).kid, issuer: ISSUER, audience: AUDIENCE, clientId: 'rokt', subject: 'rokt', scope: 'payment-sharing' })
    await expectDenied(t, h, () => h.post(validBody, { token: bearer }), 401, 'CARD_FORWARDING_UNAUTHORIZED', name)
  }
  t.equal(jwks.requests, 1)
  const es = await jwksHarness(t, jwks.url, { algorithms: ['RS256', 'ES256'] })
  const ecToken = mintToken({ privateKey: ec.privateKey, algorithm: 'ES256', kid: 'ec', issuer: ISSUER, audience: AUDIENCE, clientId: 'rokt', subject: 'rokt', scope: 'payment-sharing' })
  t.equal((await es.post(validBody, { token: ecToken })).statusCode, 200, 'the EC key is fine once ES256 is pinned')
  const rsWithEcKid = signRaw({ alg: 'RS256', typ: 'at+jwt', kid: 'ec' }, claims(), rokt1.privateKey, 'RS256')
  await expectDenied(t, es, () => es.post(validBody, { token: rsWithEcKid }), 401, 'CARD_FORWARDING_UNAUTHORIZED', 'an RS256 token naming the EC key: each key has its own algorithms')
})

t.test('the JWKS URL must be https (loopback http for the sandbox only)', async t => {
  await t.rejects(jwksHarness(t, 'http://idp.example/jwks'), /^auth.jwksUrl: must be an https URL/)
  await t.rejects(jwksHarness(t, 'https://idp.example/jwks', { jwksTimeoutMs: 0 }), /^auth.jwksTimeoutMs/)
})

/**
 * Key sets shaped as each preset's server publishes them (their documented JWKS members and kid
 * forms; the keys are ours): extra members such as x5c/x5t/issuer, no alg (Entra), an encryption
 * key beside the signing one (Keycloak), and kids in base64url, hex-like or standard base64 with
 * `+`, `/` and `=` (Cognito).
 */
function presetJwks (preset: string, keys: TestKeyPair): { kid: string, set: object[] } {
  const { n, e } = keys.jwk
  const cert = ['MIIDBTCCAe2gAwIBAgIQ' + 'A'.repeat(40) + '==']
  switch (preset) {
    case 'auth0': return { kid: 'kP1qZ3b9yX_2sV8wQeR4tU7iO0pL6mN5', set: [{ kty: 'RSA', use: 'sig', n, e, kid: 'kP1qZ3b9yX_2sV8wQeR4tU7iO0pL6mN5', x5t: 'eVh4dC1leGFtcGxl', x5c: cert, alg: 'RS256' }] }
    case 'okta': return { kid: 'Kq0h3mVpeDTsVHBdjrYTq4-jHxBSJ-jQlQpL6HQxhJo', set: [{ kty: 'RSA', alg: 'RS256', kid: 'Kq0h3mVpeDTsVHBdjrYTq4-jHxBSJ-jQlQpL6HQxhJo', use: 'sig', e, n }] }
    case 'entra': return { kid: 'nOo3ZDrODXEK1jKWhXslHR_KXEg', set: [{ kty: 'RSA', use: 'sig', kid: 'nOo3ZDrODXEK1jKWhXslHR_KXEg', x5t: 'nOo3ZDrODXEK1jKWhXslHR_KXEg', n, e, x5c: cert, issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0' }] }
    case 'cognito': return {
      kid: 'Aa7+nWd1+ck2BRLnJuiHupphJ8AdX3E3NarYDQHgstg=',
      set: [{ alg: 'RS256', e, kid: 'Zx9/Qm2+Lk8pWv3RtYb5NcHgFdSaEu7IoPjK1lMnB4c=', kty: 'RSA', n: generateTestKeys('RS256').jwk.n, use: 'sig' }, { alg: 'RS256', e, kid: 'Aa7+nWd1+ck2BRLnJuiHupphJ8AdX3E3NarYDQHgstg=', kty: 'RSA', n, use: 'sig' }]
    }
    case 'keycloak': return {
      kid: 'CyKPK7XSRPgAH_lQKlBPTkl7bZkJmjhi0EdYq9f4kRc',
      set: [
        { kid: 'bGVuY3J5cHRpb24ta2V5LWlk', kty: 'RSA', alg: 'RSA-OAEP', use: 'enc', n, e, x5c: cert, x5t: 'eA', 'x5t#S256': 'eA' },
        { kid: 'CyKPK7XSRPgAH_lQKlBPTkl7bZkJmjhi0EdYq9f4kRc', kty: 'RSA', alg: 'RS256', use: 'sig', n, e, x5c: cert, x5t: 'eA', 'x5t#S256': 'eA' }
      ]
    }
    default: return { kid: '2f0e5a7c-1b3d-4e6f-8a9b-0c1d2e3f4a5b', set: [{ kty: 'RSA', kid: '2f0e5a7c-1b3d-4e6f-8a9b-0c1d2e3f4a5b', use: 'sig', alg: 'RS256', n, e }] }
  }
}

/** An access token in each preset's server's convention (as the presets test in security-auth mints them). */
const PRESET_TOKENS: Record<string, { auth?: Record<string, unknown>, header: Record<string, unknown>, claims: Record<string, unknown> }> = {
  rfc9068: { header: { typ: 'at+jwt' }, claims: { aud: AUDIENCE, sub: 'rokt', client_id: 'rokt', jti: 'j', scope: 'payment-sharing' } },
  auth0: { header: { typ: 'JWT' }, claims: { aud: AUDIENCE, sub: 'abc@clients', azp: 'abc', scope: 'payment-sharing' } },
  okta: { header: { typ: undefined }, claims: { aud: AUDIENCE, sub: 'cid1', cid: 'cid1', jti: 'AT.1', scp: ['payment-sharing'] } },
  entra: { header: { typ: 'JWT' }, claims: { aud: AUDIENCE, sub: 'oid', azp: 'app', tid: 'tenant', roles: ['payment-sharing'] } },
  cognito: { auth: { audience: 'app-client-1' }, header: { typ: undefined }, claims: { aud: undefined, sub: 'app-client-1', client_id: 'app-client-1', jti: 'j', token_use: 'access', scope: 'payment-sharing' } },
  keycloak: { header: { typ: 'JWT' }, claims: { aud: AUDIENCE, sub: 's', azp: 'rokt', jti: 'j', typ: 'Bearer', scope: 'payment-sharing' } }
}

t.test('B49 each preset verifies tokens through a JWKS shaped like its server\'s, whatever the kid looks like', async t => {
  const keys = generateTestKeys('RS256', 'unused')
  for (const [preset, convention] of Object.entries(PRESET_TOKENS)) {
    const { kid, set } = presetJwks(preset, keys)
    const jwks = await startJwks(t, set)
    const h = await jwksHarness(t, jwks.url, { preset, ...convention.auth })
    const bearer = mintToken({ privateKey: keys.privateKey, issuer: ISSUER, kid, header: convention.header, claims: convention.claims })
    const res = await h.post(validBody, { token: bearer })
    t.equal(res.statusCode, 200, `${preset}: kid ${kid}`)
    t.equal(jwks.requests, 1, `${preset}: one fetch`)
  }
})

t.test('B49 a kid is only a lookup key: any printable string up to 256 characters, nothing else', async t => {
  const odd = ['a', 'with space', 'ünïcødé-kid', 'k'.repeat(256), '../../etc/passwd']
  const jwks = await startJwks(t, odd.map(kid => ({ ...rokt1.jwk, kid })))
  const source = createJwksKeySource({ url: jwks.url, algorithms: ['RS256'] })
  t.teardown(source.close)
  for (const kid of odd) t.type(await source.getKey(kid, 'RS256'), 'string', JSON.stringify(kid.slice(0, 20)))
  for (const kid of ['', 'k'.repeat(257), 'new\nline', 'tab\tkid', 42]) {
    await t.rejects(source.getKey(kid, 'RS256'), { code: 'JWKS_NO_USABLE_KEY' }, `refused: ${JSON.stringify(kid).slice(0, 20)}`)
  }
  t.equal(source.fetches, 1)
})

t.test('a token is refused for the same audited reason whether its key is static or comes from a JWKS', async t => {
  const jwks = await startJwks(t, [rokt1.jwk])
  const byJwks = await jwksHarness(t, jwks.url)
  const byKey = await buildHarness(t, { plugin: { auth: { publicKey: rokt1.publicKey, issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing' } } })
  const now = Math.floor(Date.now() / 1000)
  const header = { alg: 'RS256', kid: rokt1.jwk.kid }
  const refused = {
    expired: signedBy(rokt1, { issuedAt: now - 600, expiresInSeconds: 60 }),
    wrongIssuer: signedBy(rokt1, { issuer: 'https://evil.example/' }),
    noAudience: signedBy(rokt1, { claims: { aud: undefined } }),
    badSignature: signedBy(rokt1).slice(0, -4) + 'AAAA',
    notJsonHeader: signRaw('{"alg":"RS256",', claims(), rokt1.privateKey, 'RS256'),
    arrayPayload: signRaw(header, '[1]', rokt1.privateKey, 'RS256'),
    wrongType: signRaw({ ...header, typ: 'JWT+evil' }, claims(), rokt1.privateKey, 'RS256')
  }
  const reasons: Record<string, unknown[]> = {}
  for (const [name, jwt] of Object.entries(refused)) {
    for (const h of [byKey, byJwks]) {
      const res = await h.post(validBody, { token: jwt })
      t.equal(res.statusCode, 401, name)
      ;(reasons[name] ??= []).push(h.audits.at(-1)?.reason)
    }
    t.equal(reasons[name][0], reasons[name][1], `${name}: ${String(reasons[name][0])} both ways`)
  }
  t.same(Object.fromEntries(Object.entries(reasons).map(([name, [reason]]) => [name, reason])), {
    expired: 'claim_invalid:exp',
    wrongIssuer: 'claim_invalid:iss',
    noAudience: 'claim_missing:aud',
    badSignature: 'signature_invalid',
    notJsonHeader: 'token_malformed',
    arrayPayload: 'token_malformed',
    wrongType: 'header_invalid:typ'
  })
})
