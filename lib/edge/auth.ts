import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { createVerifier, type Algorithm } from 'fast-jwt'
import { AuthUnavailableError, InsufficientScopeError, tagFailure, UnauthorizedError, type Failure } from '../errors.ts'
import type { AuthOptions, AuthPreset } from '../../types/index.ts'
import { createJwksKeySource, UnknownKeyError } from './jwks.ts'
import { refusalReason, unverifiedPayload } from './refusal-reasons.ts'

const NAMESPACE = 'roktCardForwarding'
const VERIFY = 'roktCardForwardingJwtVerify'
const CLAIMS = 'roktCardForwardingClaims'
const REALM = 'rokt-card-forwarding'
/** RFC 6750 §2.1: the scheme, one space, one b64token. */
const BEARER_SCHEME = /^Bearer(?:\s|$)/i
const BEARER = /^Bearer ([\w~+/.-]+=*)$/i
/** That header with a JWT's shape as its token (RFC 7519 §3: three base64url parts), in one scan. */
const BEARER_JWT = /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/i

export interface TokenClaims {
  iss: string
  aud?: string | string[]
  exp: number
  iat: number
  sub?: string
  [claim: string]: unknown
}

/** `auth`, checked at registration (lib/options/auth.ts), with everything the verifier needs worked out once. */
export interface AuthSettings {
  options: AuthOptions
  algorithms: string[]
  conventions: AuthPreset
  leewayMs: number
  maxAgeSeconds: number
  maxLifetimeSeconds: number
  tokenCacheSize: number
  allowedClients: ReadonlySet<string> | null
}

export interface Verified { claims: TokenClaims, client: string | undefined }

/**
 * Verifies a request's bearer token: its claims and calling client, or a tagged 401/403/503 thrown
 * (or rejected). Synchronous for a static key, a promise when a JWKS or a key ring is looked up.
 */
export type Authenticate = (request: FastifyRequest, reply: FastifyReply) => Verified | Promise<Verified>

/**
 * A refusal carrying why (and, once the token is verified, which client), for the audit log only:
 * the caller always gets the same generic body.
 */
function refused (error: Error, reason: string, client?: string): Failure {
  return tagFailure(error, { reason, client })
}

/**
 * Registers @fastify/jwt under a private namespace in the plugin's own scope and returns the
 * route's token check. Every verification failure is a 401 with a fixed message and an RFC 6750
 * challenge; a JWKS that cannot be read is a 503 with Retry-After. `keyRing` (the built-in token
 * endpoint's signing and rotation public keys, by kid) replaces `auth.publicKey` as the key source.
 */
export async function registerAuth (fastify: FastifyInstance, resolved: AuthSettings, keyRing?: ReadonlyMap<string, string>): Promise<Authenticate> {
  const { options: auth, algorithms, conventions, leewayMs, maxAgeSeconds: maxAge, maxLifetimeSeconds: maxLifetime, tokenCacheSize, allowedClients } = resolved
  const { requiredScope, audience } = auth
  const { audienceClaim, clientIdClaim, scopeClaims, requiredClaimValues } = conventions

  let secret: unknown
  let retryAfter = '30'
  // A key known at registration: fast-jwt's verifier, compiled once, is called directly.
  const staticKey = auth.jwksUrl === undefined && keyRing === undefined
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
  const verify = {
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
  await fastify.register(fastifyJwt, {
    secret: secret as string,
    namespace: NAMESPACE,
    jwtVerify: VERIFY,
    jwtDecode: 'roktCardForwardingJwtDecode',
    jwtSign: 'roktCardForwardingJwtSign',
    decoratorName: CLAIMS,
    decode: { complete: true },
    // fast-jwt's own message (it names a failing claim, never its value) for refusalReason; never sent.
    messages: { authorizationTokenInvalid: (err: Error) => err.message },
    verify
  })
  // A key known at registration: fast-jwt's verifier with the options @fastify/jwt gives it (maxAge
  // in milliseconds, the key), made once and called directly; @fastify/jwt's verify() copies its
  // options twice on every call.
  const verifyStatic = staticKey ? createVerifier({ ...verify, maxAge: maxAge * 1000, key: (auth.secret ?? auth.publicKey) as string }) as (token: string) => TokenClaims : null
  const challenge = `Bearer realm="${REALM}"`
  const invalidRequest = `${challenge}, error="invalid_request"`
  const invalidToken = `${challenge}, error="invalid_token"`
  const insufficient = `${challenge}, error="insufficient_scope"${requiredScope === undefined ? '' : `, scope="${requiredScope}"`}`

  /** Verifies the bearer token: at once with a static key, else once its key is found. */
  function authenticate (request: FastifyRequest, reply: FastifyReply): Verified | Promise<Verified> {
    const token = bearerToken(request, reply)
    if (!staticKey) {
      // The request-bound path decodes the token once more to find its key: needed only for a JWKS or a key ring.
      return ((request as any)[VERIFY]() as Promise<TokenClaims>).then(claims => accepted(claims, reply), err => { throw refusal(err, token, reply) })
    }
    let claims: TokenClaims
    try {
      claims = verifyWithoutStack(verifyStatic as (token: string) => TokenClaims, token)
    } catch (err) {
      throw refusal(err, token, reply)
    }
    return accepted(claims, reply)
  }

  /** The header's token, once it has the shape of a JWT; else a 401 with RFC 6750's challenge. */
  function bearerToken (request: FastifyRequest, reply: FastifyReply): string {
    const header = request.headers.authorization
    // We only read the header: a token in the query string or the body is never used, and one
    // there beside the header's is refused (RFC 6750 §2.3: one method per request).
    if (typeof header === 'string' && BEARER_JWT.test(header) && !Object.hasOwn(request.query as object, 'access_token')) return header.slice(7)
    throw headerRefusal(header, request, reply)
  }

  /** Why a header that is not one bearer JWT is refused, with the challenge that says so. */
  function headerRefusal (header: string | undefined, request: FastifyRequest, reply: FastifyReply): Failure {
    // RFC 6750 §3: a request without credentials we accept gets a challenge with no error code.
    if (typeof header !== 'string' || !BEARER_SCHEME.test(header)) {
      reply.header('www-authenticate', challenge)
      return refused(new UnauthorizedError(), 'no_credentials')
    }
    // The error contract (README): a malformed header is a 401, with RFC 6750's invalid_request as its error code;
    // so is a second token in the query string.
    if (!BEARER.test(header) || Object.hasOwn(request.query as object, 'access_token')) {
      reply.header('www-authenticate', invalidRequest)
      return refused(new UnauthorizedError(), 'invalid_request')
    }
    return invalid(reply, 'not_a_jwt')
  }

  /** Why verification refused the token (401), or the JWKS that could not be read (503). */
  function refusal (err: unknown, token: string, reply: FastifyReply): Failure {
    if (err instanceof AuthUnavailableError) {
      reply.header('retry-after', retryAfter)
      return refused(err, 'jwks_unavailable')
    }
    return invalid(reply, refusalReason(err, () => unverifiedPayload(token), leewayMs))
  }

  /** The checks on a verified token's claims and client; its claims and client, or a 401/403 thrown. */
  function accepted (claims: TokenClaims, reply: FastifyReply): Verified {
    const reason = claimsProblem(claims)
    if (reason !== null) throw invalid(reply, reason)
    // The client claim, else sub: a present one that is not a non-empty string refuses the token (it
    // would otherwise fall back to sub and share that client's Idempotency-Key namespace).
    const clientClaim = Object.hasOwn(claims, clientIdClaim) ? clientIdClaim : Object.hasOwn(claims, 'sub') ? 'sub' : null
    const client = clientClaim === null ? undefined : claims[clientClaim]
    if (client !== undefined && (typeof client !== 'string' || client === '')) throw invalid(reply, `claim_invalid:${clientClaim as string}`)
    if (allowedClients !== null && (client === undefined || !allowedClients.has(client))) {
      reply.header('www-authenticate', insufficient)
      throw refused(new InsufficientScopeError(), 'client_not_allowed', client)
    }
    if (requiredScope !== undefined && !hasScope(claims, requiredScope, scopeClaims)) {
      reply.header('www-authenticate', insufficient)
      throw refused(new InsufficientScopeError(), 'scope_missing', client)
    }
    return { claims, client }
  }

  /** A 401 for a token that is not acceptable, with RFC 6750's invalid_token challenge (set on refusals only). */
  function invalid (reply: FastifyReply, reason: string): Failure {
    reply.header('www-authenticate', invalidToken)
    return refused(new UnauthorizedError(), reason)
  }

  /** What fast-jwt does not check: a future iat, the lifetime exp - iat, non-aud audiences, fixed claim values. */
  function claimsProblem (claims: TokenClaims): string | null {
    // fast-jwt has already refused non-object payloads and non-numeric iat/exp (FAST_JWT_INVALID_*).
    if (claims.iat * 1000 > Date.now() + leewayMs) return 'claim_invalid:iat'
    if (claims.exp - claims.iat > maxLifetime) return 'token_lifetime'
    if (audienceClaim !== 'aud' && claims[audienceClaim] !== audience) return `claim_invalid:${audienceClaim}`
    for (const [name, value] of Object.entries(requiredClaimValues)) if (claims[name] !== value) return `claim_invalid:${name}`
    return null
  }

  return authenticate
}

/**
 * fast-jwt's verifier, called without capturing a stack trace for the TokenError it throws on a
 * refusal: a refusal is an expected answer, never logged as a fault, and the trace was a sixth of
 * a forged-token rejection's CPU. The call is synchronous, so nothing else runs while the limit is off.
 */
function verifyWithoutStack (verify: (token: string) => TokenClaims, token: string): TokenClaims {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return verify(token)
  } finally {
    Error.stackTraceLimit = limit
  }
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
