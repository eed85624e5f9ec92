import { errorCodes, type FastifyInstance } from 'fastify'

/**
 * Only JSON, parsed here whatever the host's onProtoPoisoning says: a __proto__ key, or a
 * constructor.prototype, anywhere in the body is a 400 (secure-json-parse's rule, without the dependency).
 */
export function registerJsonParser (fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      const text = body as string
      // Without a backslash no escape can spell a key, so a text that shows neither name holds neither: no reviver needed.
      done(null, text.includes('\\') || SUSPECT_KEYS.test(text) ? JSON.parse(text, rejectPoisoning) : JSON.parse(text))
    } catch {
      done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined)
    }
  })
}

const SUSPECT_KEYS = /__proto__|constructor/

function rejectPoisoning (key: string, value: unknown): unknown {
  if (key === '__proto__' || (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype'))) {
    throw new Error('prototype poisoning')
  }
  return value
}
