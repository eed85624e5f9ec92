import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'
import Fastify from 'fastify'
import { createSigner } from 'fast-jwt'
import type { Algorithm } from 'fast-jwt'
import { listen } from './server.ts'
import type { RunningServer } from './server.ts'

/** Test credentials for the plugin's bearer auth: key pairs, signed access tokens, a JWKS endpoint. */

export type TestKeyKind = 'RS256' | 'ES256' | 'EdDSA'

/** A public JWK as a JWKS publishes it. */
export interface TestJwk extends JsonWebKey {
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
  const jwk = createPublicKey(pair.publicKey).export({ format: 'jwk' })
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, jwk: { ...jwk, kid, alg: kind, use: 'sig' } }
}

export interface MintTokenOptions {
  /** PEM private key (RS*, ES*, PS*, EdDSA) ... */
  privateKey?: string
  /** ... or an HMAC secret (HS*). */
  secret?: string
  /** Default: RS256 with `privateKey`, HS256 with `secret`. */
  algorithm?: Algorithm
  issuer?: string
  audience?: string | string[]
  subject?: string
  /** Put in `client_id` (RFC 9068). */
  clientId?: string
  /** Space-separated, put in `scope`. */
  scope?: string
  /** `exp` = `iat` + this (negative for an expired token). Default 300. */
  expiresInSeconds?: number
  /** The token's `iat`, in unix seconds. Default: now. */
  issuedAt?: number
  kid?: string
  /** Default `at+jwt` (RFC 9068). */
  typ?: string
  /** Extra or overriding claims; a claim set to `undefined` is removed (e.g. `{ exp: undefined }`). */
  claims?: Record<string, unknown>
  /** Extra (or overriding) header fields. */
  header?: Record<string, unknown>
}

/** Signs an access token. Includes `iat`, `exp` and a random `jti`; no `nbf` unless given in `claims`. */
export function mintToken (opts: MintTokenOptions): string {
  const key = opts.privateKey ?? opts.secret
  if (key === undefined) throw new TypeError('mintToken needs a privateKey or a secret')
  const algorithm = opts.algorithm ?? (opts.privateKey !== undefined ? 'RS256' : 'HS256')
  const iat = opts.issuedAt ?? Math.floor(Date.now() / 1000)
  const payload: Record<string, unknown> = {
    iss: opts.issuer,
    aud: opts.audience,
    sub: opts.subject,
    client_id: opts.clientId,
    scope: opts.scope,
    jti: randomUUID(),
    iat,
    exp: iat + (opts.expiresInSeconds ?? 300),
    ...opts.claims
  }
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name]
  const sign = createSigner({
    key,
    algorithm,
    kid: opts.kid,
    // fast-jwt adds `iat` itself unless told not to: keep ours, or none when it was removed.
    noTimestamp: payload.iat === undefined,
    header: { alg: algorithm, typ: opts.typ ?? 'at+jwt', ...opts.header }
  })
  return sign(payload)
}

export interface JwksServer extends RunningServer {
  /** The full URL of `/.well-known/jwks.json`. */
  url: string
  /** Replaces the published keys. */
  setKeys: (keys: TestJwk[] | JsonWebKey[]) => void
  /** How many times the JWKS was fetched. */
  readonly requests: number
}

/** Serves `{ keys }` at `/.well-known/jwks.json` on 127.0.0.1. */
export async function startJwksServer (opts: { keys: TestJwk[] | JsonWebKey[] }): Promise<JwksServer> {
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
