import { createPublicKey } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import type { Algorithm } from 'fast-jwt'
import type { AuthOptions } from '../types/index.ts'
import { AuthUnavailableError, InsufficientScopeError, UnauthorizedError } from './errors.ts'
import { createJwksKeySource, type JwksKeySource } from './jwks.ts'

const NAMESPACE = 'roktCardForwarding'
const VERIFY = 'roktCardForwardingJwtVerify'
const CLAIMS = 'roktCardForwardingClaims'
const REALM = 'rokt-card-forwarding'
const HMAC = ['HS256', 'HS384', 'HS512']
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/

export interface TokenClaims {
  iss: string
  aud: string | string[]
  exp: number
  iat: number
  sub?: string
  client_id?: string
  scope?: unknown
  scp?: unknown
  [claim: string]: unknown
}

/** The algorithms a key allows: one family, derived from the key itself (RFC 8725 §3.1). */
function algorithmsFor (auth: AuthOptions): string[] {
  let family: string[]
  let fallback: string
  if (auth.secret !== undefined) {
    family = HMAC
    fallback = 'HS256'
  } else if (auth.publicKey !== undefined) {
    const key = createPublicKey(auth.publicKey)
    const type = key.asymmetricKeyType
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (type === 'rsa') family = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    else if (type === 'rsa-pss') family = ['PS256', 'PS384', 'PS512']
    else if (type === 'ec' && curve === 'prime256v1') family = ['ES256']
    else if (type === 'ec' && curve === 'secp384r1') family = ['ES384']
    else if (type === 'ec' && curve === 'secp521r1') family = ['ES512']
    else if (type === 'ed25519') family = ['EdDSA']
    else throw new Error(`auth.publicKey: unsupported key type ${String(type)}`)
    fallback = family[0]
  } else {
    family = ASYMMETRIC
    fallback = 'RS256'
  }
  const algorithms = auth.algorithms ?? [fallback]
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
  positive(auth.maxTokenAgeSeconds, 'auth.maxTokenAgeSeconds', 86_400)
  positive(auth.clockToleranceSeconds, 'auth.clockToleranceSeconds', 60)
  positive(auth.jwksTimeoutMs, 'auth.jwksTimeoutMs', 30_000)
  if (auth.typ !== undefined && (typeof auth.typ !== 'string' || auth.typ.length === 0)) throw new Error('auth.typ: must be a string')
  if (auth.requiredClaims !== undefined && (!Array.isArray(auth.requiredClaims) || auth.requiredClaims.some(c => typeof c !== 'string'))) {
    throw new Error('auth.requiredClaims: must be an array of claim names')
  }
}

function positive (value: unknown, name: string, max: number): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max)) {
    throw new Error(`${name}: must be an integer from 0 to ${max}`)
  }
}

/** Loopback http is allowed for the sandbox only; a real JWKS is https. */
export function isLoopback (url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
}

/**
 * Registers @fastify/jwt under a private namespace in the plugin's own scope and returns the
 * route's onRequest hook. Every verification failure is a 401 with a fixed message and an RFC 6750
 * challenge; a JWKS that cannot be read is a 503.
 */
export async function setupAuth (fastify: FastifyInstance, auth: AuthOptions) {
  checkAuthOptions(auth)
  const algorithms = algorithmsFor(auth)
  const leewaySeconds = auth.clockToleranceSeconds ?? 30
  const maxAge = auth.maxTokenAgeSeconds ?? 900
  const requiredScope = auth.requiredScope

  let jwks: JwksKeySource | null = null
  let secret: unknown
  if (auth.jwksUrl !== undefined) {
    const source = createJwksKeySource({ url: auth.jwksUrl, algorithms, timeoutMs: auth.jwksTimeoutMs })
    jwks = source
    secret = (_request: FastifyRequest, token: { header: { kid?: unknown } }) => source.getKey(token.header.kid)
    fastify.addHook('onClose', () => source.close())
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
      allowedAud: auth.audience,
      requiredClaims: [...new Set(['exp', 'iat', 'iss', 'aud', ...(auth.requiredClaims ?? [])])],
      clockTolerance: leewaySeconds * 1000,
      maxAge,
      ...(auth.typ !== undefined ? { checkTyp: auth.typ } : {})
    }
  })

  const challenge = `Bearer realm="${REALM}"`
  const invalid = `${challenge}, error="invalid_token"`
  const insufficient = `${challenge}, error="insufficient_scope", scope="${requiredScope ?? ''}"`

  async function authenticate (request: FastifyRequest, reply: FastifyReply): Promise<TokenClaims> {
    const header = request.headers.authorization
    if (typeof header !== 'string' || !/^Bearer /i.test(header)) {
      reply.header('www-authenticate', challenge)
      throw new UnauthorizedError()
    }
    reply.header('www-authenticate', invalid)
    if (!JWT_SHAPE.test(header.slice(7))) throw new UnauthorizedError()
    let claims: TokenClaims
    try {
      claims = await (request as any)[VERIFY]() as TokenClaims
    } catch (err) {
      if (err instanceof AuthUnavailableError) {
        reply.removeHeader('www-authenticate')
        reply.header('retry-after', '30')
        throw err
      }
      throw new UnauthorizedError()
    }
    if (claims === null || typeof claims !== 'object' || Array.isArray(claims) ||
        typeof claims.iat !== 'number' || claims.iat * 1000 > Date.now() + leewaySeconds * 1000) {
      throw new UnauthorizedError()
    }
    if (requiredScope !== undefined && !hasScope(claims, requiredScope)) {
      reply.header('www-authenticate', insufficient)
      throw new InsufficientScopeError()
    }
    reply.removeHeader('www-authenticate')
    return claims
  }

  return { authenticate, jwks }
}

/** `scope` is a space-delimited string (RFC 8693/9068); some servers send an `scp` array instead. */
export function hasScope (claims: TokenClaims, scope: string): boolean {
  if (typeof claims.scope === 'string' && claims.scope.split(' ').includes(scope)) return true
  return Array.isArray(claims.scp) && claims.scp.includes(scope)
}
