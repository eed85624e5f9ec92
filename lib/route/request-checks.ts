import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Authenticate } from '../edge/auth.ts'
import { IpNotAllowedError, UnsupportedMediaTypeError } from '../errors.ts'
import { setFacts } from './facts.ts'

const JSON_MEDIA_TYPE = /^application\/json(?:;[ \t]*charset=(?:utf-8|"utf-8"))?$/i

/**
 * The route's onRequest checks after load shedding and shutdown, in order: address, token, media
 * type. Async hooks, each settling before the next starts, so a tracer's span for each covers that
 * check alone (callback hooks would nest each next check inside the one before).
 */
export function createRequestChecks (isAllowedIp: (ip: string | undefined) => boolean, authenticate: Authenticate) {
  async function checkIp (request: FastifyRequest): Promise<void> {
    if (!isAllowedIp(request.ip)) throw new IpNotAllowedError()
  }

  async function checkToken (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // A static key answers at once: awaited only when a JWKS or key ring lookup is under way.
    const verified = authenticate(request, reply)
    setFacts(request, { actor: (verified instanceof Promise ? await verified : verified).client })
  }

  async function checkMediaType (request: FastifyRequest): Promise<void> {
    const type = request.headers['content-type']
    if (typeof type !== 'string' || !JSON_MEDIA_TYPE.test(type)) throw new UnsupportedMediaTypeError()
  }

  return [checkIp, checkToken, checkMediaType]
}
