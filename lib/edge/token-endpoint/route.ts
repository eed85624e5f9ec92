import { randomUUID } from 'node:crypto'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createSigner } from 'fast-jwt'
import type { Audit } from '../../audit.ts'
import { OAuthError, type Failure } from '../../errors.ts'
import { redactingSerializers } from '../../logging.ts'
import type { AuthOptions } from '../../../types/index.ts'
import type { Client } from './clients.ts'
import type { PublicJwk } from './keys.ts'
import { authenticateClient, grantedScopes } from './clients.ts'
import { registerTokenRateLimit, type TokenRateLimitSettings } from './rate-limit.ts'

export const TOKEN_PATH = '/oauth/token'
export const JWKS_PATH = '/.well-known/jwks.json'
const FORM_LIMIT = 4096

/** `tokenEndpoint`, checked at registration (lib/options/token-endpoint.ts): the signing key, the published key set, the clients, the limits. */
export interface TokenEndpointSettings {
  privateKey: string
  algorithm: 'ES256' | 'EdDSA'
  kid: string
  jwks: { keys: PublicJwk[] }
  /** Every public key the route accepts, by kid: the signing key's and the rotation's. */
  keyRing: ReadonlyMap<string, string>
  clients: ReadonlyMap<string, Client>
  isAllowedIp: (ip: string | undefined) => boolean
  expiresInSeconds: number
  rateLimit: TokenRateLimitSettings
  /** The auth options the payment route verifies the endpoint's tokens with (strict RFC 9068). */
  auth: AuthOptions
}

/**
 * Registers `POST /oauth/token` (RFC 6749 client_credentials, RFC 9068 access tokens) and
 * `GET /.well-known/jwks.json` in their own scope, with their own form parser and error handler.
 */
export async function registerTokenEndpoint (fastify: FastifyInstance, endpoint: TokenEndpointSettings, audit: Audit): Promise<void> {
  const { auth, clients, isAllowedIp, expiresInSeconds: expiresIn, jwks } = endpoint
  const sign = createSigner({ key: endpoint.privateKey, algorithm: endpoint.algorithm, kid: endpoint.kid, header: { alg: endpoint.algorithm, typ: 'at+jwt' } })

  async function checkIp (request: FastifyRequest): Promise<void> {
    if (!isAllowedIp(request.ip)) throw new OAuthError(403, 'access_denied')
  }

  async function issue (request: FastifyRequest, reply: FastifyReply) {
    const form = request.body
    if (!(form instanceof URLSearchParams)) throw new OAuthError(400, 'invalid_request')
    // RFC 6749 §3.2: parameters must not be repeated.
    for (const name of new Set(form.keys())) if (form.getAll(name).length > 1) throw new OAuthError(400, 'invalid_request')
    const client = authenticateClient(clients, request.headers.authorization, form)
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

  await fastify.register(async function tokenEndpoint (scope) {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, new URLSearchParams(body as string))
    })
    const limit = await registerTokenRateLimit(scope, endpoint.rateLimit)
    scope.setErrorHandler(function (error: FastifyError | Failure<OAuthError>, request, reply) {
      /* c8 ignore next -- only a fault in signing with a key checked at registration, or load shedding's 503: the plugin's handler answers those */
      if (!(error instanceof OAuthError) && !((error.statusCode ?? 500) < 500)) throw error
      // Body-parser refusals (415, 413, a bad Content-Length) are malformed requests to an OAuth client.
      const failure = error instanceof OAuthError ? error : new OAuthError(400, 'invalid_request')
      audit(request, 'token_denied', { statusCode: failure.statusCode, code: failure.error, reason: (failure as Failure).reason })
      if (failure.statusCode === 401) reply.header('www-authenticate', 'Basic realm="oauth"')
      if (typeof (failure as Failure).retryAfter === 'number') reply.header('retry-after', String((failure as Failure).retryAfter))
      reply.code(failure.statusCode).header('cache-control', 'no-store').header('pragma', 'no-cache').send({ error: failure.error })
    })
    scope.route({ method: 'POST', url: TOKEN_PATH, bodyLimit: FORM_LIMIT, logSerializers: redactingSerializers, onRequest: [checkIp, limit], handler: issue })
    scope.get(JWKS_PATH, async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      return jwks
    })
  })
}
