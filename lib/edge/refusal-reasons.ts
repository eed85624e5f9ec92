import { safeCode } from '../errors.ts'

const CLAIM_NAME = /^[\w.:-]{1,64}$/
/**
 * How fast-jwt (6.x, src/verifier.js) says which claim failed; @fastify/jwt passes the message on
 * because registerAuth gives it `messages.authorizationTokenInvalid` (a static key's verifier is called directly: its own error). The messages name the claim,
 * never its value. test/security-auth.test.ts (B50) pins every one of them.
 */
const CLAIM_MESSAGES: Array<[RegExp, string]> = [
  [/^The (\S+) claim is required\.$/, 'claim_missing'],
  [/^The (\S+) claim value is not allowed\.$/, 'claim_invalid'],
  [/^None of (\S+) claim values are allowed\.$/, 'claim_invalid'],
  [/^The (\S+) claim must be an? /, 'claim_invalid']
]
const BY_CODE: Record<string, string> = {
  FAST_JWT_INACTIVE: 'claim_invalid:nbf',
  FAST_JWT_INVALID_TYPE: 'header_invalid:typ',
  FAST_JWT_INVALID_ALGORITHM: 'header_invalid:alg',
  FAST_JWT_INVALID_CRIT_HEADER: 'header_invalid:crit'
}
/** fast-jwt's own messages, which @fastify/jwt's request-bound path passes on under its own code. */
const BY_MESSAGE: Record<string, string> = {
  'The token signature is invalid.': 'signature_invalid',
  'The token is malformed.': 'token_malformed',
  'The token header is not a valid base64url serialized JSON.': 'token_malformed',
  'The token payload is not a valid base64url serialized JSON.': 'token_malformed',
  'The token header is not a valid JSON object.': 'token_malformed',
  'The payload must be an object': 'token_malformed'
}
/** Expiry, as @fastify/jwt's request-bound path and fast-jwt's verifier (for a static key) say it. */
const EXPIRED = new Set(['FST_JWT_AUTHORIZATION_TOKEN_EXPIRED', 'FAST_JWT_EXPIRED'])

/**
 * The audit reason for a token the verifier refused: `claim_missing:<claim>`,
 * `claim_invalid:<claim>`, `header_invalid:<member>`, `signature_invalid`, or the error's own fixed
 * code (JWKS_NO_USABLE_KEY, ...), or `token_malformed`. An expired token fails on exp or, past the
 * maximum age, on iat: `payload` (decoded, unverified: only to name the claim) tells which.
 */
export function refusalReason (err: unknown, payload: () => unknown, leewayMs: number): string {
  const { code, message } = Object(err) as { code?: unknown, message?: unknown }
  if (EXPIRED.has(String(code))) {
    const exp = Object(payload()).exp
    return typeof exp === 'number' && exp * 1000 + leewayMs < Date.now() ? 'claim_invalid:exp' : 'claim_invalid:iat'
  }
  const text = String(message)
  for (const [pattern, kind] of CLAIM_MESSAGES) {
    const claim = pattern.exec(text)?.[1]
    if (claim !== undefined && CLAIM_NAME.test(claim)) return `${kind}:${claim}`
  }
  return BY_MESSAGE[text] ?? BY_CODE[String(code)] ?? safeCode(code)
}

/** A JWT's payload, decoded without verifying it: only for a token fast-jwt has already decoded (it parses). */
export function unverifiedPayload (token: string): unknown {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
}
