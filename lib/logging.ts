import type { FastifyRequest } from 'fastify'
import { auditText, redactText, redactUrl } from './redact.ts'

/**
 * A query string in a log message, after a path: Fastify's 404 line is `Route GET:/path?query not
 * found`. The `?` is matched first and the path looked for behind it, in linear time (a path
 * matched first is rescanned from each of its slashes: 8,000 of them took 180 ms).
 */
const QUERY_IN_TEXT = /\?(?<=\/[^\s?]*\?)[^\s]*/g
const MAX_CAUSES = 3

/**
 * Pino serializers for the host's logger (README, Security: "Logs"): the request's URL without
 * its query string and with path segments that hold a card number, a JWT, a key or an email
 * redacted, on every route. The plugin's own routes log with them whatever the host sets.
 */
export const redactingSerializers = {
  req: (request: FastifyRequest) => ({
    method: request.method,
    url: redactUrl(request.url),
    host: auditText(request.host, 256),
    remoteAddress: auditText(request.ip, 64),
    remotePort: request.socket?.remotePort
  })
}

/**
 * Pino's `hooks` for the host's logger: every string argument of a log call (the message, and
 * Fastify's own "Route GET:/… not found") has its query strings and secrets redacted.
 */
export const redactingLogHooks = {
  logMethod (this: unknown, args: unknown[], method: (...args: unknown[]) => void): void {
    method.apply(this, args.map(arg => typeof arg === 'string' ? redactText(arg.replace(QUERY_IN_TEXT, '?[redacted]')) : arg))
  }
}

export interface LoggedError { type: string, code?: string, message: string, stack?: string, cause?: LoggedError }

/**
 * An error as the plugin logs it: its class, code, message and stack with card numbers, tokens,
 * keys and emails redacted, and up to three causes the same way. Partner code and libraries put
 * what they like in a message; this is the only form in which the plugin logs one.
 */
export function errorForLog (err: unknown, depth = 0): LoggedError {
  if (err === null || typeof err !== 'object') return { type: typeof err, message: redactText(String(err)) }
  const error = err as { name?: unknown, code?: unknown, message?: unknown, stack?: unknown, cause?: unknown }
  const logged: LoggedError = { type: typeof error.name === 'string' ? error.name : 'Object', message: redactText(String(error.message ?? '')) }
  if (error.code !== undefined) logged.code = redactText(String(error.code)).slice(0, 64)
  if (typeof error.stack === 'string') logged.stack = redactText(error.stack)
  if (error.cause !== undefined && depth < MAX_CAUSES) logged.cause = errorForLog(error.cause, depth + 1)
  return logged
}
