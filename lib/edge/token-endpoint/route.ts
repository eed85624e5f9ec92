import { createHash, createPrivateKey, createPublicKey, randomBytes, randomUUID, timingSafeEqual, type JsonWebKey, type KeyObject } from 'node:crypto'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createSigner } from 'fast-jwt'
import type { AuthOptions, TokenEndpointClient, TokenEndpointOptions } from '../../../types/index.ts'
import { requestLogSerializers, type Audit } from '../../audit.ts'
import { checkInteger, SCOPE_TOKEN } from '../auth.ts'
import { sha256 } from '../../route/identifiers.ts'
import { buildAllowlist } from '../ip-allowlist.ts'

export const TOKEN_PATH = '/oauth/token'
export const JWKS_PATH = '/.well-known/jwks.json'
const HASH = /^sha256:([A-Za-z0-9_-]{43})$/
const CLIENT_ID = /^[\x21-\x7E]{1,128}$/
const BASIC = /^Basic ([A-Za-z0-9+/]+=*)$/i
const MIN_SECRET_LENGTH = 32
const FORM_LIMIT = 4096
/** Compared against when the client id is unknown, so a miss costs the same as a wrong secret. */
const NO_CLIENT = Buffer.alloc(32)
/** One rotation in progress needs one; a few cover rotations in quick succession. */
const MAX_RETIRED_KEYS = 3

/**
 * A new client secret: 32 random bytes, base64url (256 bits). Give it to the client once; keep
 * only `hashClientSecret(secret)`.
 */
export function generateClientSecret (): string {
  return randomBytes(32).toString('base64url')
}

/**
 * The stored form of a client secret: `sha256:<base64url digest>`. A fast hash is enough because
 * the secret is high-entropy random data (generateClientSecret), not a password: nobody can
 * search 2^256 secrets, so a slow KDF (scrypt) would add no safety, only a CPU cost per token
 * request that an attacker could lean on. Secrets shorter than 32 characters are refused.
 */
export function hashClientSecret (secret: string): string {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`hashClientSecret: a client secret must be at least ${MIN_SECRET_LENGTH} characters of random data (use generateClientSecret)`)
  }
  return `sha256:${sha256(secret).toString('base64url')}`
}

/** An RFC 6749 §5.2 error: the body is `{ error }`, never a library message. */
class OAuthError extends Error {
  statusCode: number
  error: string
  constructor (statusCode: number, error: string) {
    super(error)
    this.statusCode = statusCode
    this.error = error
  }
}

interface Client { id: string, digest: Buffer, scopes: string[] }

/**
 * Validates the token endpoint's options, registers `POST /oauth/token` and
 * `GET /.well-known/jwks.json` in their own scope (form parser, error handler), and returns the
 * auth options the payment route verifies with (strict RFC 9068, the signing key's algorithm) and
 * the key ring: the signing key's and the rotation's public keys, by kid.
 */
export async function setupTokenEndpoint (fastify: FastifyInstance, options: TokenEndpointOptions, auth: AuthOptions, audit: Audit): Promise<{ auth: AuthOptions, keyRing: Map<string, string> }> {
  if (options === null || typeof options !== 'object') throw new Error('tokenEndpoint: must be an object')
  if (auth === null || typeof auth !== 'object') throw new Error('auth: required')
  if (auth.jwksUrl !== undefined || auth.publicKey !== undefined || auth.secret !== undefined) {
    throw new Error('auth: with tokenEndpoint, give no jwksUrl, publicKey or secret: tokens are verified with tokenEndpoint.privateKey\'s public key')
  }
  if (auth.preset !== undefined && auth.preset !== 'rfc9068') throw new Error('auth.preset: tokenEndpoint issues RFC 9068 tokens; leave preset unset or rfc9068')
  const { key, algorithm } = signingKey(options.privateKey)
  const current = publishedKey(createPublicKey(key), algorithm)
  const keys = [current, ...rotationKeys(options.rotationPublicKeys, algorithm, current.kid)]
  const jwks = { keys: keys.map(k => k.jwk) }
  const clients = readClients(options.clients, auth.requiredScope)
  const isAllowedIp = buildAllowlist(options.allowedIps, 'tokenEndpoint.allowedIps')
  checkInteger(options.expiresInSeconds, 'tokenEndpoint.expiresInSeconds', 1, 300)
  checkInteger(options.rateLimit?.max, 'tokenEndpoint.rateLimit.max', 1, 10_000)
  checkInteger(options.rateLimit?.windowSeconds, 'tokenEndpoint.rateLimit.windowSeconds', 1, 3600)
  const expiresIn = options.expiresInSeconds ?? 300
  const limiter = createRateLimiter(options.rateLimit?.max ?? 20, (options.rateLimit?.windowSeconds ?? 60) * 1000)
  const sign = createSigner({ key, algorithm, kid: current.kid, header: { alg: algorithm, typ: 'at+jwt' } })

  async function checkIp (request: FastifyRequest): Promise<void> {
    if (!isAllowedIp(request.ip)) throw new OAuthError(403, 'access_denied')
  }

  async function limit (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const retryAfter = limiter(request.ip)
    if (retryAfter > 0) {
      reply.header('retry-after', String(retryAfter))
      throw new OAuthError(429, 'temporarily_unavailable')
    }
  }

  async function issue (request: FastifyRequest, reply: FastifyReply) {
    const form = request.body
    if (!(form instanceof URLSearchParams)) throw new OAuthError(400, 'invalid_request')
    // RFC 6749 §3.2: parameters must not be repeated.
    for (const name of new Set(form.keys())) if (form.getAll(name).length > 1) throw new OAuthError(400, 'invalid_request')
    const client = authenticateClient(request.headers.authorization, form)
    const grantType = form.get('grant_type')
    if (grantType === null) throw new OAuthError(400, 'invalid_request')
    if (grantType !== 'client_credentials') throw new OAuthError(400, 'unsupported_grant_type')
    const scope = grantedScopes(client, form.get('scope')).join(' ')
    const iat = Math.floor(Date.now() / 1000)
    const accessToken = sign({
      iss: auth.issuer,
      aud: auth.audience,
      sub: client.id,
      client_id: client.id,
      iat,
      exp: iat + expiresIn,
      jti: randomUUID(),
      ...(scope === '' ? {} : { scope })
    })
    audit(request, 'token_issued', { statusCode: 200, actor: client.id })
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    return { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, ...(scope === '' ? {} : { scope }) }
  }

  /** RFC 6749 §2.3.1: client_secret_basic or client_secret_post, never both. */
  function authenticateClient (header: string | undefined, form: URLSearchParams): Client {
    const basic = header === undefined ? null : parseBasic(header)
    const postId = form.get('client_id')
    const postSecret = form.get('client_secret')
    if (basic !== null && (postSecret !== null || (postId !== null && postId !== basic.id))) throw new OAuthError(400, 'invalid_request')
    const presented = basic ?? (postId !== null && postSecret !== null ? { id: postId, secret: postSecret } : null)
    if (presented === null) throw new OAuthError(401, 'invalid_client')
    const client = clients.get(presented.id)
    const same = timingSafeEqual(sha256(presented.secret), client?.digest ?? NO_CLIENT)
    if (client === undefined || !same) throw new OAuthError(401, 'invalid_client')
    return client
  }

  await fastify.register(async function tokenEndpoint (scope) {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, new URLSearchParams(body as string))
    })
    scope.setErrorHandler(function (error: FastifyError | OAuthError, request, reply) {
      /* c8 ignore next -- only a fault in signing with a key checked at registration, or load shedding's 503: the plugin's handler answers those */
      if (!(error instanceof OAuthError) && !((error.statusCode ?? 500) < 500)) throw error
      // Body-parser refusals (415, 413, a bad Content-Length) are malformed requests to an OAuth client.
      const failure = error instanceof OAuthError ? error : new OAuthError(400, 'invalid_request')
      audit(request, 'token_denied', { statusCode: failure.statusCode, code: failure.error })
      if (failure.statusCode === 401) reply.header('www-authenticate', 'Basic realm="oauth"')
      reply.code(failure.statusCode).header('cache-control', 'no-store').header('pragma', 'no-cache').send({ error: failure.error })
    })
    scope.route({ method: 'POST', url: TOKEN_PATH, bodyLimit: FORM_LIMIT, logSerializers: requestLogSerializers, onRequest: [checkIp, limit], handler: issue })
    scope.get(JWKS_PATH, async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      return jwks
    })
  })

  return {
    auth: { ...auth, publicKey: current.pem, algorithms: [algorithm], preset: 'rfc9068' },
    keyRing: new Map(keys.map(k => [k.kid, k.pem]))
  }
}

/** P-256 (ES256) or Ed25519 (EdDSA), the compact modern choices; null for any other key. */
function algorithmOf (key: KeyObject): 'ES256' | 'EdDSA' | null {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  return null
}

/** The partner's signing key. */
function signingKey (pem: unknown): { key: string, algorithm: 'ES256' | 'EdDSA' } {
  let key: KeyObject
  try {
    key = createPrivateKey(pem as string)
  } catch {
    throw new Error('tokenEndpoint.privateKey: must be a PEM private key')
  }
  const algorithm = algorithmOf(key)
  if (algorithm === null) throw new Error('tokenEndpoint.privateKey: must be a P-256 (ES256) or Ed25519 (EdDSA) key')
  return { key: pem as string, algorithm }
}

interface PublishedKey { kid: string, pem: string, jwk: JsonWebKey }

function publishedKey (publicKey: KeyObject, algorithm: string): PublishedKey {
  const jwk = publicKey.export({ format: 'jwk' })
  const kid = thumbprint(jwk)
  return { kid, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), jwk: { ...jwk, kid, alg: algorithm, use: 'sig' } }
}

/**
 * The other keys of a rotation, accepted and published beside the signing key's: the next key
 * before instances start signing with it, the previous one until its tokens expire (5 minutes at
 * most). Public keys only: a private key given here would be one more copy of a secret, so it is refused.
 */
function rotationKeys (list: unknown, algorithm: string, currentKid: string): PublishedKey[] {
  if (list === undefined) return []
  if (!Array.isArray(list) || list.length > MAX_RETIRED_KEYS) throw new Error(`tokenEndpoint.rotationPublicKeys: must be an array of at most ${MAX_RETIRED_KEYS} PEM public keys`)
  const kids = new Set([currentKid])
  return list.map((pem, i) => {
    const where = `tokenEndpoint.rotationPublicKeys[${i}]`
    let key: KeyObject | null = null
    try { key = typeof pem === 'string' && !pem.includes('PRIVATE KEY') ? createPublicKey(pem) : null } catch {}
    if (key === null) throw new Error(`${where}: must be a PEM public key (never a private key)`)
    if (algorithmOf(key) !== algorithm) throw new Error(`${where}: must be an ${algorithm} key, like privateKey`)
    const published = publishedKey(key, algorithm)
    if (kids.has(published.kid)) throw new Error(`${where}: is the current key or a duplicate`)
    kids.add(published.kid)
    return published
  })
}

/** RFC 7638 JWK thumbprint: the key id is derived from the key, never chosen. */
function thumbprint (jwk: JsonWebKey): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}

function readClients (list: TokenEndpointClient[], requiredScope: string | undefined): Map<string, Client> {
  if (!Array.isArray(list) || list.length === 0) throw new Error('tokenEndpoint.clients: give at least one client')
  const clients = new Map<string, Client>()
  list.forEach((client, i) => {
    const where = `tokenEndpoint.clients[${i}]`
    if (client === null || typeof client !== 'object' || typeof client.clientId !== 'string' || !CLIENT_ID.test(client.clientId)) {
      throw new Error(`${where}.clientId: 1-128 printable ASCII characters, no spaces`)
    }
    if (clients.has(client.clientId)) throw new Error(`${where}.clientId: duplicate`)
    const hash = HASH.exec(String(client.secretHash))
    if (hash === null) throw new Error(`${where}.secretHash: must be the output of hashClientSecret (never the secret itself)`)
    const scopes = client.scopes ?? (requiredScope === undefined ? [] : [requiredScope])
    if (!Array.isArray(scopes) || !scopes.every(s => typeof s === 'string' && SCOPE_TOKEN.test(s))) throw new Error(`${where}.scopes: must be an array of scope tokens`)
    if (requiredScope !== undefined && !scopes.includes(requiredScope)) throw new Error(`${where}.scopes: must include auth.requiredScope, or its tokens are useless`)
    clients.set(client.clientId, { id: client.clientId, digest: Buffer.from(hash[1], 'base64url'), scopes })
  })
  return clients
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function parseBasic (header: string): { id: string, secret: string } {
  const match = BASIC.exec(header)
  const decoded = match === null ? '' : Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  try {
    if (colon < 0) throw new Error('not user:password')
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) }
  } catch {
    throw new OAuthError(401, 'invalid_client')
  }
}

function formDecode (value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '))
}

/** No scope asked: all the client may have. Otherwise exactly what was asked, if the client may have it. */
function grantedScopes (client: Client, requested: string | null): string[] {
  if (requested === null) return client.scopes
  const asked = [...new Set(requested.split(' '))]
  if (!asked.every(s => SCOPE_TOKEN.test(s) && client.scopes.includes(s))) throw new OAuthError(400, 'invalid_scope')
  return asked
}

/**
 * A fixed-window count per client IP, forgotten every window. Only allowlisted addresses reach
 * it, so it holds one entry per allowlisted caller seen in the window. Returns 0, or the seconds to wait.
 */
function createRateLimiter (max: number, windowMs: number): (key: string) => number {
  let windowStart = -Infinity
  let counts = new Map<string, number>()
  return key => {
    const now = Date.now()
    if (now - windowStart >= windowMs) {
      windowStart = now
      counts = new Map()
    }
    const count = (counts.get(key) ?? 0) + 1
    counts.set(key, count)
    return count > max ? Math.ceil((windowStart + windowMs - now) / 1000) : 0
  }
}
