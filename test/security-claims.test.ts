import t from 'tap'
import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { generateTestKeys, mintToken, startJwksServer } from '../lib/sandbox/tokens.ts'
import { AUDIENCE, buildHarness, ISSUER, rsaKeys, token, validBody } from './helpers/harness.ts'
import { assertRefused, harness, HEADER, now, PEM } from './helpers/auth.ts'
import { claims, expectDenied, signRaw } from './helpers/security.ts'

// docs/THREAT-MODEL.md B47, B48 and B50: what keys may verify tokens, what a client claim must be,
// and how a refusal is audited.

t.test('B47 weak keys: RSA under 2048 bits, EC off the NIST curves and HMAC secrets shorter than their hash are refused; a weak JWKS key is skipped, not the set', async t => {
  const rsa = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits, ...PEM }) as unknown as { publicKey: string, privateKey: string }
  for (const bits of [512, 1024, 2047]) {
    await t.rejects(harness(t, { publicKey: rsa(bits).publicKey }), new RegExp(`^auth.publicKey: RSA keys must have at least 2048 bits \\(RFC 7518 §3.3\\); this one has ${bits}`), `RSA ${bits}`)
  }
  await t.rejects(harness(t, { publicKey: generateKeyPairSync('ec', { namedCurve: 'secp256k1', ...PEM }).publicKey }), /^auth.publicKey: EC keys must be on P-256, P-384 or P-521/, 'secp256k1')
  const secret = (bytes: number) => 'k'.repeat(bytes)
  await t.rejects(harness(t, { publicKey: undefined, secret: secret(32), algorithms: ['HS512'] }), /^auth.secret: HS512 needs a secret of at least 64 bytes \(RFC 7518 §3.2\)/)
  await t.rejects(harness(t, { publicKey: undefined, secret: secret(47), algorithms: ['HS256', 'HS384'] }), /^auth.secret: HS384 needs a secret of at least 48 bytes/)
  const hs512 = await harness(t, { publicKey: undefined, secret: secret(64), algorithms: ['HS512'] })
  t.equal((await hs512.post(validBody, { token: signRaw({ ...HEADER, alg: 'HS512' }, claims(), secret(64), 'HS512') })).statusCode, 200, 'a 64-byte HS512 secret')
  t.ok(await harness(t, { publicKey: rsa(3072).publicKey }), 'RSA 3072 is fine')

  const weak = rsa(1024)
  const weakJwk = { ...createPublicKey(weak.publicKey).export({ format: 'jwk' }), kty: 'RSA', kid: 'weak', alg: 'RS256', use: 'sig' }
  const strong = generateTestKeys('RS256', 'strong')
  const jwks = await startJwksServer({ keys: [weakJwk, strong.jwk] })
  t.teardown(jwks.close)
  const h = await harness(t, { publicKey: undefined, jwksUrl: jwks.url })
  await expectDenied(t, h, () => h.post(validBody, { token: signRaw({ ...HEADER, kid: 'weak' }, claims(), weak.privateKey, 'RS256') }), 401, 'CARD_FORWARDING_UNAUTHORIZED', 'a token signed with the 1024-bit JWKS key')
  t.equal((await h.post(validBody, { token: token({ privateKey: strong.privateKey, kid: 'strong' }) })).statusCode, 200, 'the 2048-bit key of the same set still verifies')

  const endpoint = { clients: [{ clientId: 'rokt', secretHash: `sha256:${'A'.repeat(43)}` }], allowedIps: ['127.0.0.1'] }
  const base = { auth: { issuer: ISSUER, audience: AUDIENCE } as any }
  await t.rejects(buildHarness(t, { plugin: { ...base, tokenEndpoint: { ...endpoint, privateKey: weak.privateKey } } }), /^tokenEndpoint.privateKey: must be a P-256 \(ES256\) or Ed25519 \(EdDSA\) key/, 'the token endpoint signs with P-256 or Ed25519 only')
  await t.rejects(buildHarness(t, { plugin: { ...base, tokenEndpoint: { ...endpoint, privateKey: generateTestKeys('ES256').privateKey, rotationPublicKeys: [weak.publicKey] } } }), /^tokenEndpoint.rotationPublicKeys\[0\]: must be an ES256 key/, 'and accepts rotation keys of that algorithm only')
})

t.test('B48 a client claim (or the sub it falls back to) that is present but not a non-empty string refuses the token', async t => {
  for (const allowedClientIds of [['rokt'], undefined]) {
    const h = await harness(t, { allowedClientIds })
    const malformed: Array<[string, string]> = [42, ['other'], null, {}, ''].map(value => [`client_id ${JSON.stringify(value)}, sub rokt`, token({ clientId: undefined, claims: { client_id: value } })])
    await assertRefused(t, h, malformed)
    t.same(h.audits.map(a => a.reason), malformed.map(() => 'claim_invalid:client_id'), 'audited naming the claim')
    t.ok(h.audits.every(a => a.actor === undefined), 'no actor is taken from sub')
    const bySub = await harness(t, { allowedClientIds, requiredClaims: ['jti'] })
    await assertRefused(t, bySub, [42, ['rokt'], ''].map(value => [`no client_id, sub ${JSON.stringify(value)}`, token({ clientId: undefined, subject: undefined, claims: { sub: value } })]))
    t.ok(bySub.audits.every(a => a.reason === 'claim_invalid:sub'))
  }
})

t.test('B50 a token refused for a missing or wrong claim is audited with a reason naming the claim, never its value', async t => {
  const h = await harness(t, { maxTokenLifetimeSeconds: 300 })
  const cases: Array<[string, string, string]> = [
    ...['iss', 'aud', 'exp', 'iat', 'sub', 'client_id', 'jti'].map((claim): [string, string, string] => [`without ${claim}`, token({ claims: { [claim]: undefined } }), `claim_missing:${claim}`]),
    ['another issuer', token({ issuer: 'https://evil.example/' }), 'claim_invalid:iss'],
    ['an iss array', token({ claims: { iss: ['https://evil.example/', ISSUER] } }), 'claim_invalid:iss'],
    ['another audience', token({ audience: 'other-api' }), 'claim_invalid:aud'],
    ['an aud array without ours', token({ audience: ['other-api', 'more-api'] }), 'claim_invalid:aud'],
    ['exp passed', token({ issuedAt: now() - 100, expiresInSeconds: 60 }), 'claim_invalid:exp'],
    ['exp a string', signRaw(HEADER, claims({ exp: 'tomorrow' }), rsaKeys.privateKey, 'RS256'), 'claim_invalid:exp'],
    ['nbf ahead', token({ claims: { nbf: now() + 3600 } }), 'claim_invalid:nbf'],
    ['iat ahead', token({ issuedAt: now() + 3600 }), 'claim_invalid:iat'],
    ['iat older than the max age', token({ issuedAt: now() - 1000, expiresInSeconds: 1100 }), 'claim_invalid:iat'],
    ['lifetime over the maximum', token({ expiresInSeconds: 301 }), 'token_lifetime'],
    ['a bad signature', `${token().slice(0, -4)}AAAA`, 'signature_invalid'],
    ['typ JWT', token({ typ: 'JWT' }), 'header_invalid:typ'],
    ['alg HS256', signRaw({ ...HEADER, alg: 'HS256' }, claims(), 'k'.repeat(32), 'HS256'), 'header_invalid:alg']
  ]
  await assertRefused(t, h, cases.map(([name, bearer]) => [name, bearer]))
  t.same(h.audits.map(a => a.reason), cases.map(([, , reason]) => reason), 'each reason names what was wrong')
  t.notMatch(JSON.stringify(h.audits), /evil|other-api|tomorrow|more-api/, 'never a value')

  const cognito = await harness(t, { preset: 'cognito', audience: 'app-client-1' })
  // Cognito access tokens carry no aud (the app client is in client_id): removed on purpose.
  const mint = (payload: Record<string, unknown>) => mintToken({ privateKey: rsaKeys.privateKey, issuer: ISSUER, kid: 'rokt-rsa-1', header: { typ: undefined }, claims: { aud: undefined, sub: 'c', jti: 'j', scope: 'payment-sharing', ...payload } })
  await assertRefused(t, cognito, [
    ['an ID token', mint({ client_id: 'app-client-1', token_use: 'id' })],
    ['another app client', mint({ client_id: 'app-client-2', token_use: 'access' })],
    ['no token_use', mint({ client_id: 'app-client-1' })]
  ])
  t.same(cognito.audits.map(a => a.reason), ['claim_invalid:token_use', 'claim_invalid:client_id', 'claim_missing:token_use'])
})
