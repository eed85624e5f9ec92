import type { Test } from 'tap'
import { AUDIENCE, buildHarness, ISSUER, rsaKeys, validBody, type Harness, type HarnessOptions } from './harness.ts'
import { expectDenied } from './security.ts'

/** What the token tests share (docs/THREAT-MODEL.md section B): the route's challenges, a verifying harness, refusal checks. */
export const CHALLENGE = 'Bearer realm="rokt-card-forwarding"'
export const INVALID_TOKEN = `${CHALLENGE}, error="invalid_token"`
export const INVALID_REQUEST = `${CHALLENGE}, error="invalid_request"`
export const INSUFFICIENT_SCOPE = `${CHALLENGE}, error="insufficient_scope", scope="payment-sharing"`
export const now = () => Math.floor(Date.now() / 1000)
export const HEADER = { alg: 'RS256', typ: 'at+jwt', kid: 'rokt-rsa-1' }
export const PEM = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } } as const

/** Each token is refused with 401 and exactly this challenge; nothing forwarded; one auth_failed audit each. */
export async function assertRefused (t: Test, h: Harness, tokens: Array<[string, string]>, challenge = INVALID_TOKEN): Promise<void> {
  const before = h.audits.length
  for (const [name, bearer] of tokens) {
    const res = await expectDenied(t, h, () => h.post(validBody, { token: bearer }), 401, 'CARD_FORWARDING_UNAUTHORIZED', name)
    t.equal(res.headers['www-authenticate'], challenge, `${name}: challenge`)
  }
  t.same(h.audits.slice(before).map(a => a.event), tokens.map(() => 'auth_failed'), 'one auth_failed audit event each')
}

export async function assertAccepted (t: Test, h: Harness, tokens: Array<[string, string]>): Promise<void> {
  for (const [name, bearer] of tokens) t.equal((await h.post(validBody, { token: bearer })).statusCode, 200, name)
}

export function harness (t: Test, auth: Record<string, unknown> = {}, options: HarnessOptions = {}): Promise<Harness> {
  return buildHarness(t, { ...options, plugin: { auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing', ...auth } as any, ...options.plugin } })
}
