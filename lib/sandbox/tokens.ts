import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { createSigner } from 'fast-jwt'
import type { Algorithm, JwtHeader } from 'fast-jwt'
import { listen } from './server.ts'
import type { RunningServer } from './server.ts'

/** Test credentials for the plugin's bearer auth: key pairs, signed access tokens, a JWKS endpoint. */

export type TestKeyKind = 'RS256' | 'ES256' | 'EdDSA'

/**
 * A JSON Web Key (RFC 7517) by its members. Declared here rather than taken from node:crypto, whose
 * `JsonWebKey` export is gone from recent @types/node: these declarations compile with every version.
 */
export interface Jwk {
  kty: string
  [member: string]: unknown
}

/** A public JWK as a JWKS publishes it. */
export interface TestJwk extends Jwk {
  kid: string
  alg: TestKeyKind
  use: 'sig'
}

export interface TestKeyPair {
  /** PKCS#8 PEM */
  privateKey: string
  /** SPKI PEM */
  publicKey: string
  jwk: TestJwk
}

/** A fresh key pair: RSA 2048 (RS256), P-256 (ES256) or Ed25519 (EdDSA). */
export function generateTestKeys (kind: TestKeyKind = 'RS256', kid: string = `test-${randomBytes(6).toString('hex')}`): TestKeyPair {
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const
  const pair = kind === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding, privateKeyEncoding })
    : kind === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding, privateKeyEncoding })
      : generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding })
  const { kty, ...members } = createPublicKey(pair.publicKey).export({ format: 'jwk' })
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, jwk: { kty: String(kty), ...members, kid, alg: kind, use: 'sig' } }
}

/** The claims and header of a token, whatever signs it. */
export interface MintTokenClaims {
  /** Default: the key's own (RS256 for RSA, ES256/384/512 for P-256/384/521, EdDSA for Ed25519), HS256 with `secret`. */
  algorithm?: Algorithm
  /** `iss`: required (or removed on purpose with `claims: { iss: undefined }`). */
  issuer?: string
  /** `aud`: required (or removed on purpose with `claims: { aud: undefined }`). */
  audience?: string | string[]
  /** `sub`: required. Default: `clientId` (RFC 9068 §2.2: a client-credentials token's subject is the client). */
  subject?: string
  /** `client_id`: required while `typ` is `at+jwt` (RFC 9068), or removed on purpose with `claims: { client_id: undefined }`. */
  clientId?: string
  /** Space-separated, put in `scope`. */
  scope?: string
  /** `exp` = `iat` + this (negative for an expired token). Default 300. */
  expiresInSeconds?: number
  /** The token's `iat`, in unix seconds. Default: now. */
  issuedAt?: number
  /** Default: the key pair's `jwk.kid` when a `TestKeyPair` signs; else none. */
  kid?: string
  /** Default `at+jwt` (RFC 9068). */
  typ?: string
  /** Extra or overriding claims; a claim set to `undefined` is removed (e.g. `{ exp: undefined }`). */
  claims?: Record<string, unknown>
  /** Extra (or overriding) header fields. */
  header?: Record<string, unknown>
}

export interface MintTokenOptions extends MintTokenClaims {
  /** PEM private key (RS*, ES*, PS*, EdDSA) ... */
  privateKey?: string
  /** ... or an HMAC secret (HS*). */
  secret?: string
}

/** What signs a token: a `TestKeyPair`, a PEM private key, or an HMAC secret (anything that is not PEM). */
export type TokenKey = TestKeyPair | string

/** The claims every preset of the plugin requires, by the option that sets each; `client_id` only RFC 9068 (typ `at+jwt`). */
const REQUIRED: ReadonlyArray<readonly [claim: string, option: keyof MintTokenClaims]> = [
  ['iss', 'issuer'], ['aud', 'audience'], ['client_id', 'clientId'], ['sub', 'subject']
]
const RFC9068_TYP = /^(?:application\/)?at\+jwt$/i

/**
 * Signs an access token: `mintToken(keys, { issuer, audience, clientId, scope })`, with `keys` from
 * `generateTestKeys()` (or a PEM private key, or an HMAC secret), or `mintToken({ privateKey, ... })`.
 * Includes `iat`, `exp` and a random `jti`; no `nbf` unless given in `claims`. Throws, naming the
 * options, when `iss`, `aud` or `sub` (and `client_id`, for an RFC 9068 `at+jwt` token) would be
 * missing without `claims` removing it on purpose.
 */
export function mintToken (options: MintTokenOptions): string
export function mintToken (key: TokenKey, options?: MintTokenClaims): string
export function mintToken (first: MintTokenOptions | TokenKey, second: MintTokenClaims = {}): string {
  const pair = typeof first === 'object' && 'jwk' in first ? first : undefined
  const opts: MintTokenOptions = typeof first === 'string'
    ? { ...second, ...(first.startsWith('-----BEGIN') ? { privateKey: first } : { secret: first }) }
    : pair !== undefined ? { kid: pair.jwk.kid, ...second, privateKey: pair.privateKey } : first
  const key = opts.privateKey ?? opts.secret
  if (key === undefined) throw new TypeError('mintToken needs a key: mintToken(keys, { issuer, audience, clientId }), or { privateKey } or { secret } in its options')
  const iat = opts.issuedAt ?? Math.floor(Date.now() / 1000)
  const payload: Record<string, unknown> = {
    iss: opts.issuer,
    aud: opts.audience,
    sub: opts.subject ?? opts.clientId,
    client_id: opts.clientId,
    scope: opts.scope,
    jti: randomUUID(),
    iat,
    exp: iat + (opts.expiresInSeconds ?? 300),
    ...opts.claims
  }
  const header = { typ: opts.typ ?? 'at+jwt', ...opts.header }
  // Another profile (Auth0's JWT, Okta's none...) names its client in its own claim (azp, cid).
  const required = RFC9068_TYP.test(String(header.typ)) ? REQUIRED : REQUIRED.filter(([claim]) => claim !== 'client_id')
  const absent = required.filter(([claim]) => payload[claim] === undefined && !Object.hasOwn(opts.claims ?? {}, claim))
  // clientId gives `sub` too: when both are missing, name clientId alone.
  const missing = absent.some(([claim]) => claim === 'client_id') ? absent.filter(([claim]) => claim !== 'sub') : absent
  if (missing.length > 0) {
    const names = missing.map(([claim, option]) => `${option} (${claim})`).join(', ')
    throw new TypeError(`mintToken: the token would have no ${names}, and the plugin refuses it. ` +
      `Pass ${missing.map(([, option]) => option).join(', ')} (they must match your auth options), ` +
      `or remove a claim on purpose with claims: { ${missing[0][0]}: undefined }`)
  }
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name]
  const sign = createSigner({
    key,
    // None given: fast-jwt takes the key's own (and HS256 for a secret), and puts it in the header.
    algorithm: opts.algorithm,
    kid: opts.kid,
    // fast-jwt adds `iat` itself unless told not to: keep ours, or none when it was removed.
    noTimestamp: payload.iat === undefined,
    // fast-jwt's types want `alg` here, but it sets `alg` itself: ours stays out unless `header` gives one.
    header: header as JwtHeader
  })
  return sign(payload)
}

export interface JwksServer extends RunningServer {
  /** The full URL of `/.well-known/jwks.json`. */
  url: string
  /** Replaces the published keys. */
  setKeys: (keys: Jwk[]) => void
  /** How many times the JWKS was fetched. */
  readonly requests: number
}

/** Serves `{ keys }` at `/.well-known/jwks.json` on 127.0.0.1. */
export async function startJwksServer (opts: { keys: Jwk[] }): Promise<JwksServer> {
  let keys = opts.keys
  let count = 0
  const app = Fastify({ logger: false })
  app.get('/.well-known/jwks.json', async () => {
    count++
    return { keys }
  })
  const server = await listen(app)
  return {
    url: `${server.url}/.well-known/jwks.json`,
    close: server.close,
    setKeys: (next) => { keys = next },
    get requests () { return count }
  }
}
