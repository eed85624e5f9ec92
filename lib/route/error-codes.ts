import * as errors from '../errors.ts'

/**
 * Fastify's own refusals that the route can answer with: its validator's (fed by our strict
 * TypeBox compiler), its body reader's, and load shedding's (@fastify/under-pressure).
 */
const FASTIFY_CODES: ReadonlyArray<[string, number]> = [
  ['FST_ERR_VALIDATION', 400],
  ['FST_ERR_CTP_INVALID_JSON_BODY', 400],
  ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400],
  ['FST_ERR_CTP_BODY_TOO_LARGE', 413],
  ['FST_UNDER_PRESSURE', 503]
]

/**
 * Every code the route answers with, and its status: the plugin's own errors (read from
 * lib/errors.ts, so a new one is listed without more work) and the Fastify refusals above. The
 * error handler answers anything else as CARD_FORWARDING_INTERNAL_ERROR; the OpenAPI document
 * lists exactly these.
 */
export const ANSWER_CODES: ReadonlyMap<string, number> = new Map([
  ...FASTIFY_CODES,
  ...Object.values(errors)
    .filter(value => typeof value === 'function' && value.prototype instanceof Error && value !== errors.OAuthError)
    .map(ErrorClass => new (ErrorClass as any)() as { statusCode: number, code: string })
    .map(({ code, statusCode }): [string, number] => [code, statusCode])
].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])))

/** True when `error` is an answer the route may give as it is: a known code with its own status. */
export function isAnswerable (error: { code?: unknown, statusCode?: unknown }): boolean {
  return typeof error.code === 'string' && ANSWER_CODES.get(error.code) === error.statusCode
}
