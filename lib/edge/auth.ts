import { createPublicKey } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import type { Algorithm } from 'fast-jwt'
import type { AuthOptions, AuthPreset } from '../../types/index.ts'
import { authPresets } from './auth-presets.ts'
import { AuthUnavailableError, InsufficientScopeError, safeCode, UnauthorizedError } from '../errors.ts'
import { createJwksKeySource, UnknownKeyError } from './jwks.ts'

const NAMESPACE = 'roktCardForwarding'
const VERIFY = 'roktCardForwardingJwtVerify'
const CLAIMS = 'roktCardForwardingClaims'
const REALM = 'rokt-card-forwarding'
const HMAC = ['HS256', 'HS384', 'HS512']
const RSA = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const ASYMMETRIC = [...RSA, 'ES256', 'ES384', 'ES512', 'EdDSA']
/** RFC 6749 §3.3 scope-token */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/
const CLAIM_NAME = /^[\w.:-]{1,64}$/
/** RFC 6750 §2.1: the scheme, one space, one b64token. */
const BEARER_SCHEME = /^Bearer(?:\s|$)/i
const BEARER = /^Bearer ([\w~+/.-]+=*)$/i
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/

interface TokenClaims {
  iss: string
  aud?: string | string[]
  exp: number
  iat: number
  sub?: string
  [claim: string]: unknown
}

/**
 * A refusal carrying why (and, once the token is verified, which client), for the audit log only:
 * the caller always gets the same generic body.
 */
function refused (error: Error, reason: string, client?: string): Error & { reason: string, client?: string } {
  return Object.assign(error, { reason, client })
}

/** The algorithms a key allows: one family, derived from the key itself (RFC 8725 §3.1). */
export function algorithmsFor (auth: AuthOptions): string[] {
  let family: string[]
  if (auth.secret !== undefined) {
    family = HMAC
  } else if (auth.publicKey !== undefined) {
    const key = createPublicKey(auth.publicKey)
    const type = key.asymmetricKeyType
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (type === 'rsa') family = RSA
    else if (type === 'ec' && curve === 'prime256v1') family = ['ES256']
    else if (type === 'ec' && curve === 'secp384r1') family = ['ES384']
    else if (type === 'ec' && curve === 'secp521r1') family = ['ES512']
    else if (type === 'ed25519') family = ['EdDSA']
    else throw new Error(`auth.publicKey: unsupported key type ${String(type)}`)
  } else {
    family = ASYMMETRIC
  }
  const algorithms = auth.algorithms ?? [family === ASYMMETRIC ? 'RS256' : family[0]]
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some(a => !family.includes(a))) {
    throw new Error(`auth.algorithms: must be a non-empty subset of ${family.join(', ')} for this key`)
  }
  return [...algorithms]
}

function checkAuthOptions (auth: AuthOptions): void {
  if (auth === null || typeof auth !== 'object') throw new Error('auth: required')
  const sources = [auth.jwksUrl, auth.publicKey, auth.secret].filter(s => s !== undefined)
  if (sources.length !== 1) throw new Error('auth: give exactly one of jwksUrl, publicKey or secret')
  if (auth.secret !== undefined && (typeof auth.secret !== 'string' || Buffer.byteLength(auth.secret) < 32)) {
    throw new Error('auth.secret: must be a string of at least 32 bytes')
  }
  if (auth.publicKey !== undefined && typeof auth.publicKey !== 'string') throw new Error('auth.publicKey: must be a PEM string')
  if (auth.jwksUrl !== undefined) {
    let url: URL | null = null
    try { url = new URL(auth.jwksUrl) } catch {}
    if (url === null || (url.protocol !== 'https:' && !isLoopback(url))) throw new Error('auth.jwksUrl: must be an https URL')
  }
  for (const name of ['issuer', 'audience'] as const) {
    if (typeof auth[name] !== 'string' || auth[name].length === 0) throw new Error(`auth.${name}: required string`)
  }
  if (auth.requiredScope !== undefined && (typeof auth.requiredScope !== 'string' || !SCOPE_TOKEN.test(auth.requiredScope))) {
    throw new Error('auth.requiredScope: must be one RFC 6749 scope token')
  }
  if (auth.allowedClientIds !== undefined && !isNonEmptyStrings(auth.allowedClientIds)) {
    throw new Error('auth.allowedClientIds: must be a non-empty array of client ids')
  }
  checkInteger(auth.maxTokenAgeSeconds, 'auth.maxTokenAgeSeconds', 1, 86_400)
  checkInteger(auth.maxTokenLifetimeSeconds, 'auth.maxTokenLifetimeSeconds', 1, auth.maxTokenAgeSeconds ?? 900)
  checkInteger(auth.clockToleranceSeconds, 'auth.clockToleranceSeconds', 0, 60)
  checkInteger(auth.tokenCacheSize, 'auth.tokenCacheSize', 0, 10_000)
  checkInteger(auth.jwksTimeoutMs, 'auth.jwksTimeoutMs', 1, 30_000)
  checkInteger(auth.jwksTtlMs, 'auth.jwksTtlMs', 1, 86_400_000)
  checkInteger(auth.jwksCooldownMs, 'auth.jwksCooldownMs', 0, 3_600_000)
}

/** An optional integer option: absent, or within [min, max]. */
export function checkInteger (value: unknown, name: string, min: number, max: number): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)) {
    throw new Error(`${name}: must be an integer from ${min} to ${max}`)
  }
}

function isNonEmptyStrings (value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every(v => typeof v === 'string' && v.length > 0)
}

/** The preset's conventions, each overridable in `auth`; validated once, at registration. */
function conventionsFor (auth: AuthOptions): AuthPreset {
  const name = auth.preset ?? 'rfc9068'
  if (!Object.hasOwn(authPresets, name)) throw new Error(`auth.preset: must be one of ${Object.keys(authPresets).join(', ')}`)
  const preset = authPresets[name]
  const pick = <K extends keyof AuthPreset>(key: K): AuthPreset[K] => auth[key] === undefined ? preset[key] : auth[key] as AuthPreset[K]
  const conventions: AuthPreset = {
    typ: pick('typ'),
    requiredClaims: pick('requiredClaims'),
    requiredClaimValues: pick('requiredClaimValues'),
    scopeClaims: pick('scopeClaims'),
    clientIdClaim: pick('clientIdClaim'),
    audienceClaim: pick('audienceClaim')
  }
  if (conventions.typ !== null && (typeof conventions.typ !== 'string' || conventions.typ.length === 0)) throw new Error('auth.typ: must be a string, or null for no check')
  if (!Array.isArray(conventions.requiredClaims) || !conventions.requiredClaims.every(isClaimName)) throw new Error('auth.requiredClaims: must be an array of claim names')
  const values = conventions.requiredClaimValues
  if (values === null || typeof values !== 'object' || !Object.entries(values).every(([k, v]) => isClaimName(k) && typeof v === 'string')) {
    throw new Error('auth.requiredClaimValues: must map claim names to strings')
  }
  if (!Array.isArray(conventions.scopeClaims) || conventions.scopeClaims.length === 0 || !conventions.scopeClaims.every(isClaimName)) {
    throw new Error('auth.scopeClaims: must be a non-empty array of claim names')
  }
  if (!isClaimName(conventions.clientIdClaim)) throw new Error('auth.clientIdClaim: must be a claim name')
  if (!isClaimName(conventions.audienceClaim)) throw new Error('auth.audienceClaim: must be a claim name')
  return conventions
}

function isClaimName (name: unknown): boolean {
  return typeof name === 'string' && CLAIM_NAME.test(name)
}

/** Loopback http is allowed for the sandbox only; a real JWKS is https. */
export function isLoopback (url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
}

/**
 * Registers @fastify/jwt under a private namespace in the plugin's own scope and returns the
 * route's onRequest check. Every verification failure is a 401 with a fixed message and an RFC 6750
 * challenge; a JWKS that cannot be read is a 503 with Retry-After. `keyRing` (the built-in token
 * endpoint's signing and rotation public keys, by kid) replaces `auth.publicKey` as the key source.
 */
export async function setupAuth (fastify: FastifyInstance, auth: AuthOptions, keyRing?: ReadonlyMap<string, string>) {
  checkAuthOptions(auth)
  const algorithms = algorithmsFor(auth)
  const conventions = conventionsFor(auth)
  const leewayMs = (auth.clockToleranceSeconds ?? 30) * 1000
  const maxAge = auth.maxTokenAgeSeconds ?? 900
  const maxLifetime = auth.maxTokenLifetimeSeconds ?? maxAge
  const tokenCacheSize = auth.tokenCacheSize ?? 100
  const { requiredScope, audience } = auth
  const { audienceClaim, clientIdClaim, scopeClaims, requiredClaimValues } = conventions
  const allowedClients = auth.allowedClientIds === undefined ? null : new Set(auth.allowedClientIds)

  let secret: unknown
  let retryAfter = '30'
  if (auth.jwksUrl !== undefined) {
    const source = createJwksKeySource({ url: auth.jwksUrl, algorithms, timeoutMs: auth.jwksTimeoutMs, ttlMs: auth.jwksTtlMs, cooldownMs: auth.jwksCooldownMs })
    secret = (_request: FastifyRequest, token: { header: { kid?: unknown, alg?: unknown } }) => source.getKey(token.header.kid, token.header.alg)
    retryAfter = String(source.retryAfterSeconds)
    fastify.addHook('onClose', () => source.close())
  } else if (keyRing !== undefined) {
    secret = async (_request: FastifyRequest, token: { header: { kid?: unknown } }) => {
      const pem = keyRing.get(token.header.kid as string)
      if (pem === undefined) throw new UnknownKeyError('unknown kid')
      return pem
    }
  } else {
    secret = auth.secret ?? { public: auth.publicKey }
  }

  // A host that uses @fastify/jwt for its own users has `jwt` on every scope; shadow it in ours so
  // our namespace never lands on the host's object.
  // (@fastify/jwt then skips declaring its request property, so we declare it.)
  if (fastify.hasDecorator('jwt')) {
    Object.defineProperty(fastify, 'jwt', { value: Object.create(null), writable: true, configurable: true })
    fastify.decorateRequest(CLAIMS, null)
  }
  await fastify.register(fastifyJwt, {
    secret: secret as string,
    namespace: NAMESPACE,
    jwtVerify: VERIFY,
    jwtDecode: 'roktCardForwardingJwtDecode',
    jwtSign: 'roktCardForwardingJwtSign',
    decoratorName: CLAIMS,
    decode: { complete: true },
    verify: {
      algorithms: algorithms as Algorithm[],
      allowedIss: auth.issuer,
      ...(audienceClaim === 'aud' ? { allowedAud: audience } : {}),
      requiredClaims: [...new Set(['iss', 'exp', 'iat', audienceClaim, ...conventions.requiredClaims, ...Object.keys(requiredClaimValues)])],
      clockTolerance: leewayMs,
      maxAge,
      // fast-jwt's LRU of verified tokens, keyed by its own hash of the token (never a custom
      // cacheKeyBuilder: GHSA-rp9m-7r4c-75qg); an entry lives no longer than the token's exp or max age.
      ...(tokenCacheSize > 0 ? { cache: tokenCacheSize } : {}),
      ...(conventions.typ !== null ? { checkTyp: conventions.typ } : {})
    }
  })

  const challenge = `Bearer realm="${REALM}"`
  const invalidRequest = `${challenge}, error="invalid_request"`
  const invalidToken = `${challenge}, error="invalid_token"`
  const insufficient = `${challenge}, error="insufficient_scope"${requiredScope === undefined ? '' : `, scope="${requiredScope}"`}`

  /** Verifies the bearer token; resolves to the calling client (see clientIdClaim), if the token names one. */
  async function authenticate (request: FastifyRequest, reply: FastifyReply): Promise<{ claims: TokenClaims, client: string | undefined }> {
    const header = request.headers.authorization
    // RFC 6750 §3: a request without credentials we accept gets a challenge with no error code.
    // We only read the header: a token in the query string or the body is never used.
    if (typeof header !== 'string' || !BEARER_SCHEME.test(header)) {
      reply.header('www-authenticate', challenge)
      throw refused(new UnauthorizedError(), 'no_credentials')
    }
    const match = BEARER.exec(header)
    // DESIGN §4: a malformed header is a 401, with RFC 6750's invalid_request as its error code;
    // so is a second token in the query string (RFC 6750 §2.3: one method per request).
    if (match === null || Object.hasOwn(request.query as object, 'access_token')) {
      reply.header('www-authenticate', invalidRequest)
      throw refused(new UnauthorizedError(), 'invalid_request')
    }
    reply.header('www-authenticate', invalidToken)
    if (!JWT_SHAPE.test(match[1])) throw refused(new UnauthorizedError(), 'not_a_jwt')
    let claims: TokenClaims
    try {
      claims = await (request as any)[VERIFY]() as TokenClaims
    } catch (err) {
      if (err instanceof AuthUnavailableError) {
        reply.removeHeader('www-authenticate')
        reply.header('retry-after', retryAfter)
        throw refused(err, 'jwks_unavailable')
      }
      // fast-jwt, @fastify/jwt and our key source all set a fixed code (FAST_JWT_EXPIRED, ...).
      throw refused(new UnauthorizedError(), safeCode((err as { code?: unknown }).code))
    }
    const reason = claimsProblem(claims)
    if (reason !== null) throw refused(new UnauthorizedError(), reason)
    const client = stringClaim(claims, clientIdClaim) ?? stringClaim(claims, 'sub')
    if (allowedClients !== null && (client === undefined || !allowedClients.has(client))) {
      reply.header('www-authenticate', insufficient)
      throw refused(new InsufficientScopeError(), 'client_not_allowed', client)
    }
    if (requiredScope !== undefined && !hasScope(claims, requiredScope, scopeClaims)) {
      reply.header('www-authenticate', insufficient)
      throw refused(new InsufficientScopeError(), 'scope_missing', client)
    }
    reply.removeHeader('www-authenticate')
    return { claims, client }
  }

  /** What fast-jwt does not check: a future iat, the lifetime exp - iat, non-aud audiences, fixed claim values. */
  function claimsProblem (claims: TokenClaims): string | null {
    // fast-jwt has already refused non-object payloads and non-numeric iat/exp (FAST_JWT_INVALID_*).
    if (claims.iat * 1000 > Date.now() + leewayMs) return 'iat_in_future'
    if (claims.exp - claims.iat > maxLifetime) return 'token_lifetime'
    if (audienceClaim !== 'aud' && claims[audienceClaim] !== audience) return 'audience'
    for (const [name, value] of Object.entries(requiredClaimValues)) if (claims[name] !== value) return 'claim_value'
    return null
  }

  return { authenticate }
}

function stringClaim (claims: TokenClaims, name: string): string | undefined {
  const value = claims[name]
  return typeof value === 'string' ? value : undefined
}

/**
 * RFC 9068 §2.2.3 `scope` is one space-delimited string; other scope claims (Okta `scp`, Entra
 * `roles`) may be an array of strings or such a string.
 */
function hasScope (claims: TokenClaims, scope: string, scopeClaims: readonly string[]): boolean {
  return scopeClaims.some(name => {
    const value = claims[name]
    if (typeof value === 'string') return value.split(' ').includes(scope)
    return name !== 'scope' && Array.isArray(value) && value.includes(scope)
  })
}
