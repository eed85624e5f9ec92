import t from 'tap'
import { createPublicKey } from 'node:crypto'
import { createDecoder, createVerifier } from 'fast-jwt'
import { request } from 'undici'
import { generateTestKeys, mintToken, startJwksServer } from '../lib/sandbox/tokens.ts'
import type { TestKeyKind } from '../lib/sandbox/tokens.ts'

const decode = createDecoder({ complete: true })

const KTY: Record<TestKeyKind, string> = { RS256: 'RSA', ES256: 'EC', EdDSA: 'OKP' }

for (const kind of ['RS256', 'ES256', 'EdDSA'] as const) {
  t.test(`${kind}: keys, a signed access token, verified with the PEM and with the JWK`, async (t) => {
    const keys = generateTestKeys(kind, `kid-${kind}`)
    t.match(keys.privateKey, /^-----BEGIN PRIVATE KEY-----/)
    t.match(keys.publicKey, /^-----BEGIN PUBLIC KEY-----/)
    t.equal(keys.jwk.kty, KTY[kind])
    t.equal(keys.jwk.kid, `kid-${kind}`)
    t.equal(keys.jwk.alg, kind)
    t.equal(keys.jwk.use, 'sig')
    t.notOk('d' in keys.jwk, 'the JWK is public only')

    const before = Math.floor(Date.now() / 1000)
    const token = mintToken({
      privateKey: keys.privateKey,
      algorithm: kind,
      issuer: 'https://idp.example/',
      audience: 'rokt-payment-sharing',
      subject: 'rokt',
      clientId: 'rokt-client',
      scope: 'payment-sharing',
      kid: keys.jwk.kid
    })
    const { header, payload } = decode(token)
    t.same(header, { alg: kind, typ: 'at+jwt', kid: `kid-${kind}` })
    t.equal(payload.iss, 'https://idp.example/')
    t.equal(payload.aud, 'rokt-payment-sharing')
    t.equal(payload.sub, 'rokt')
    t.equal(payload.client_id, 'rokt-client')
    t.equal(payload.scope, 'payment-sharing')
    t.match(payload.jti, /^[0-9a-f-]{36}$/)
    t.ok(payload.iat >= before && payload.iat <= before + 2)
    t.equal(payload.exp, payload.iat + 300)
    t.notOk('nbf' in payload)

    const verifyPem = createVerifier({ key: keys.publicKey, algorithms: [kind], allowedIss: 'https://idp.example/', allowedAud: 'rokt-payment-sharing' })
    t.equal(verifyPem(token).sub, 'rokt')
    const fromJwk = createPublicKey({ key: keys.jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string
    t.equal(createVerifier({ key: fromJwk, algorithms: [kind] })(token).client_id, 'rokt-client')

    const other = generateTestKeys(kind)
    t.throws(() => createVerifier({ key: other.publicKey, algorithms: [kind] })(token), { code: 'FAST_JWT_INVALID_SIGNATURE' })
  })
}

t.test('generateTestKeys defaults to RS256 with a random kid', async (t) => {
  const a = generateTestKeys()
  const b = generateTestKeys()
  t.equal(a.jwk.alg, 'RS256')
  t.equal(a.jwk.kty, 'RSA')
  t.match(a.jwk.kid, /^test-[0-9a-f]{12}$/)
  t.not(a.jwk.kid, b.jwk.kid)
})

t.test('HMAC secret: HS256 by default; RS256 is the default with a private key', async (t) => {
  const token = mintToken({ secret: 'a-very-long-test-secret-of-32-bytes!', issuer: 'i', audience: 'a', clientId: 'c' })
  t.equal(decode(token).header.alg, 'HS256')
  t.equal(createVerifier({ key: 'a-very-long-test-secret-of-32-bytes!', algorithms: ['HS256'] })(token).iss, 'i')

  const keys = generateTestKeys('RS256')
  t.equal(decode(mintToken({ privateKey: keys.privateKey, issuer: 'i', audience: 'a', clientId: 'c' })).header.alg, 'RS256')
})

t.test('the key may come first: a key pair (its kid and algorithm), a PEM private key or a secret', async (t) => {
  const claims = { issuer: 'https://idp.example/', audience: 'rokt-payment-sharing', clientId: 'rokt', scope: 'payment-sharing' }
  for (const kind of ['RS256', 'ES256', 'EdDSA'] as const) {
    const keys = generateTestKeys(kind, `pair-${kind}`)
    const fromPair = mintToken(keys, claims)
    t.same(decode(fromPair).header, { alg: kind, typ: 'at+jwt', kid: `pair-${kind}` }, `${kind}: the pair's kid and its key's algorithm`)
    const payload = createVerifier({ key: keys.publicKey, algorithms: [kind] })(fromPair)
    t.same([payload.iss, payload.aud, payload.client_id, payload.sub, payload.scope], [claims.issuer, claims.audience, 'rokt', 'rokt', 'payment-sharing'],
      'sub defaults to the client id (RFC 9068 §2.2)')
    t.same(decode(mintToken(keys.privateKey, claims)).header, { alg: kind, typ: 'at+jwt' }, `${kind}: a bare PEM has no kid`)
  }
  const secret = 'a-very-long-test-secret-of-32-bytes!'
  t.equal(createVerifier({ key: secret, algorithms: ['HS256'] })(mintToken(secret, claims)).client_id, 'rokt', 'a string that is not PEM is an HMAC secret')
  t.equal(decode(mintToken(generateTestKeys('RS256', 'k'), { ...claims, kid: 'other', subject: 'svc' })).header.kid, 'other', 'options win over the pair')
  t.equal(decode(mintToken(generateTestKeys('RS256', 'k'), { ...claims, subject: 'svc' })).payload.sub, 'svc')
})

t.test('a token the plugin would refuse for a missing claim is not minted: the error names the options', async (t) => {
  const keys = generateTestKeys('ES256')
  t.throws(() => mintToken(keys), {
    name: 'TypeError',
    message: 'mintToken: the token would have no issuer (iss), audience (aud), clientId (client_id), and the plugin refuses it. ' +
      'Pass issuer, audience, clientId (they must match your auth options), or remove a claim on purpose with claims: { iss: undefined }'
  })
  t.throws(() => mintToken(keys.privateKey), { message: /no issuer \(iss\), audience \(aud\), clientId \(client_id\),/ }, 'positional PEM: the same message')
  t.throws(() => mintToken(keys, { issuer: 'i', audience: 'a' }), { message: /no clientId \(client_id\), .*Pass clientId /s })
  t.throws(() => mintToken(keys, { issuer: 'i', clientId: 'c' }), { message: /no audience \(aud\), .*claims: \{ aud: undefined \}/s })
  const noSub = 'mintToken: the token would have no subject (sub), and the plugin refuses it. ' +
    'Pass subject (they must match your auth options), or remove a claim on purpose with claims: { sub: undefined }'
  t.throws(() => mintToken(keys, { issuer: 'i', audience: 'a', typ: 'JWT' }), { message: noSub }, 'another profile: sub still required')
  t.notOk('sub' in decode(mintToken(keys, { issuer: 'i', audience: 'a', clientId: 'c', claims: { sub: undefined } })).payload, 'removed on purpose')
  const auth0 = decode(mintToken(keys, { issuer: 'i', audience: 'a', subject: 'abc@clients', typ: 'JWT', claims: { azp: 'abc' } })).payload
  t.notOk('client_id' in auth0, 'a token of another profile (typ JWT) names its client its own way')
  t.equal(auth0.azp, 'abc')
  t.ok(mintToken(keys, { issuer: 'i', audience: 'a', subject: 's', header: { typ: 'application/at+jwt' }, claims: { client_id: 'c' } }), 'client_id given as a claim')
  t.throws(() => mintToken(keys, { issuer: 'i', audience: 'a', subject: 's', header: { typ: 'application/at+jwt' } }), { message: /no clientId \(client_id\)/ },
    'at+jwt in its long form is RFC 9068 too')
})

t.test('claims can be added, overridden and removed; times and header are adjustable', async (t) => {
  const secret = 'another-long-test-secret-0123456789'
  const removed = decode(mintToken({ secret, issuer: 'i', audience: 'a', clientId: 'c', claims: { exp: undefined, iat: undefined, jti: undefined, iss: undefined } }))
  t.notOk('exp' in removed.payload)
  t.notOk('iat' in removed.payload, 'fast-jwt does not put iat back')
  t.notOk('jti' in removed.payload)
  t.notOk('iss' in removed.payload)
  t.equal(removed.payload.aud, 'a')

  const custom = decode(mintToken({
    secret,
    algorithm: 'HS384',
    issuer: 'i',
    audience: ['a', 'b'],
    issuedAt: 1_700_000_000,
    expiresInSeconds: -60,
    typ: 'JWT',
    claims: { nbf: 1_700_000_100, scp: ['payment-sharing'], sub: 'override', client_id: undefined },
    subject: 'ignored',
    header: { jku: 'https://evil.example/jwks.json' }
  }))
  t.same(custom.header, { alg: 'HS384', typ: 'JWT', jku: 'https://evil.example/jwks.json' })
  t.equal(custom.payload.iat, 1_700_000_000)
  t.equal(custom.payload.exp, 1_700_000_000 - 60, 'an already expired token')
  t.equal(custom.payload.nbf, 1_700_000_100)
  t.same(custom.payload.scp, ['payment-sharing'])
  t.equal(custom.payload.sub, 'override')
  t.same(custom.payload.aud, ['a', 'b'])
  t.notOk('client_id' in custom.payload, 'absent options are not sent as claims')
  t.notOk('scope' in custom.payload)
})

t.test('mintToken without a key refuses, naming the ways to give one', async (t) => {
  t.throws(() => mintToken({ issuer: 'i', audience: 'a', clientId: 'c' }), {
    name: 'TypeError',
    message: 'mintToken needs a key: mintToken(keys, { issuer, audience, clientId }), or { privateKey } or { secret } in its options'
  })
})

t.test('JWKS server serves the keys over loopback, counts fetches, swaps keys', async (t) => {
  const first = generateTestKeys('ES256', 'k1')
  const second = generateTestKeys('EdDSA', 'k2')
  const jwks = await startJwksServer({ keys: [first.jwk] })
  t.teardown(() => jwks.close())
  t.match(jwks.url, /^http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json$/)
  t.equal(jwks.requests, 0)

  const res = await request(jwks.url)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/json/)
  t.same(await res.body.json(), { keys: [first.jwk] })
  t.equal(jwks.requests, 1)

  jwks.setKeys([first.jwk, second.jwk])
  const again = await request(jwks.url)
  const body = await again.body.json() as { keys: Array<{ kid: string }> }
  t.same(body.keys.map((k) => k.kid), ['k1', 'k2'])
  t.equal(jwks.requests, 2)
})
