import { Agent, Dispatcher } from 'undici'
import type { CircuitBreakerOptions, PspAbortSignal, PspClient, PspClientOptions, PspRequest, PspResponse, PspTimeouts, PspTransportOptions } from '../../types/index.ts'
import { PspError, PspTimeoutError, PspUnavailableError, tagFailure, type Failure, type PspOutcome } from '../errors.ts'
import { checkInteger, httpsUrl, isObject } from '../checks.ts'
import { AbortSource } from './abort-source.ts'
import { createCircuitBreaker, NO_CIRCUIT_BREAKER } from './circuit-breaker.ts'

// undici's request API never follows redirects (no redirect interceptor is composed), so a PSP
// cannot bounce us elsewhere (ASVS 15.3.2).
const TRANSPORT: Record<string, [reason: string, outcome: PspOutcome]> = {
  ECONNREFUSED: ['connection_refused', 'not_sent'],
  ENOTFOUND: ['dns_failed', 'not_sent'],
  EAI_AGAIN: ['dns_failed', 'not_sent'],
  UND_ERR_CONNECT_TIMEOUT: ['connect_timeout', 'not_sent'],
  UND_ERR_HEADERS_TIMEOUT: ['headers_timeout', 'unknown'],
  UND_ERR_BODY_TIMEOUT: ['body_timeout', 'unknown'],
  UND_ERR_ABORTED: ['aborted', 'unknown'],
  ECONNRESET: ['connection_lost', 'unknown'],
  UND_ERR_SOCKET: ['connection_lost', 'unknown']
}
const TIMEOUTS = new Set(['connect_timeout', 'headers_timeout', 'body_timeout'])
/** Certificate verification fails during the handshake, before the request is written. */
const CERTIFICATE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/
/** Faults raised before the request was written that a moment's wait may cure. */
const RETRYABLE = new Set(['connection_refused', 'dns_failed', 'connect_timeout'])

/** True for a connection fault raised before any byte of the request was sent (safe to retry with the same key). */
export function isRetryableBeforeSend (err: unknown): boolean {
  const failure = err as Failure
  return failure.outcome === 'not_sent' && RETRYABLE.has(failure.reason as string)
}

function tag<E extends Error> (err: E, reason: string, outcome?: PspOutcome): Failure<E> {
  return tagFailure(err, { reason, outcome })
}

/** The transport part of an adapter's options (its baseUrl default is the adapter's own). */
export function transport ({ timeouts, dispatcher, circuitBreaker }: PspTransportOptions): Omit<PspTransportOptions, 'baseUrl'> {
  return { timeouts, dispatcher, circuitBreaker }
}

/**
 * The transport options every adapter takes, checked once: the base-URL rule (https, or http on
 * loopback for the sandbox), the timeouts and the circuit breaker. Messages start with the PSP's name.
 */
function checkTransport (options: PspClientOptions): URL {
  const psp = options.psp
  const base = httpsUrl(options.baseUrl, true)
  if (base === null) throw new Error(`${psp}: baseUrl must be an https URL (or http on a loopback address)`)
  const timeouts: PspTimeouts | undefined = options.timeouts
  if (timeouts !== undefined && !isObject(timeouts)) throw new Error(`${psp}: timeouts must be an object`)
  for (const name of ['connectMs', 'headersMs', 'bodyMs'] as const) checkInteger(timeouts?.[name], `${psp}: timeouts.${name}`, 1, 600_000)
  checkInteger(options.maxResponseBytes, `${psp}: maxResponseBytes`, 1, 64 * 1024 * 1024)
  checkInteger(options.connections, `${psp}: connections`, 1, 10_000)
  const breaker: CircuitBreakerOptions | false | undefined = options.circuitBreaker
  if (breaker !== undefined && breaker !== false && !isObject(breaker)) throw new Error(`${psp}: circuitBreaker must be an object or false`)
  if (breaker !== undefined && breaker !== false) {
    checkInteger(breaker.failureThreshold, `${psp}: circuitBreaker.failureThreshold`, 1, 1000)
    checkInteger(breaker.coolDownMs, `${psp}: circuitBreaker.coolDownMs`, 1, 3_600_000)
  }
  return base
}

const requestVia = Dispatcher.prototype.request as (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData<unknown>>
/**
 * Paths the WHATWG URL parser leaves as they are: segments without dots or percent signs (so no
 * dot segment, %2e included), a query without anything it would percent-encode, no empty `?`.
 */
const PLAIN_PATH = /^(?:\/[\w~-]*)+(?:\?[\w.%~&=+,:@/-]+)?$/

/**
 * The path as undici's top-level request() sent it: through the URL parser (percent-encoded,
 * dot segments resolved), with the leading slash it adds. The built-in adapters' paths are plain
 * and skip it.
 */
function originForm (path: string): string {
  if (PLAIN_PATH.test(path)) return path
  const url = new URL('http://host' + (path.startsWith('/') ? '' : '/') + path)
  return url.pathname + url.search
}

/** One undici dispatcher per adapter, with explicit timeouts and a circuit breaker; PSP faults become 502/503/504 errors. */
export function createPspClient (options: PspClientOptions): PspClient {
  const base = checkTransport(options)
  const origin = base.origin
  const basePath = base.pathname.replace(/\/$/, '')
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024
  const { connectMs = 3000, headersMs = 20_000, bodyMs = 10_000 } = options.timeouts ?? {}
  const breaker = options.circuitBreaker === false ? NO_CIRCUIT_BREAKER : createCircuitBreaker(options.circuitBreaker)
  const owned = options.dispatcher === undefined
  const dispatcher = options.dispatcher ?? new Agent({
    connectTimeout: connectMs,
    headersTimeout: headersMs,
    bodyTimeout: bodyMs,
    connections: options.connections ?? 64,
    keepAliveTimeout: 30_000
  })

  async function send (method: 'GET' | 'POST', path: string, req: PspRequest): Promise<PspResponse> {
    const wait = breaker.admit()
    if (wait !== null) {
      throw tagFailure(new PspUnavailableError(options.psp), { reason: 'circuit_open', outcome: 'not_sent', retryAfter: Math.ceil(wait / 1000) })
    }
    const seen = { status: 0 }
    let response: PspResponse
    try {
      response = await exchange(method, path, req, seen)
    } catch (err) {
      // Our own abort says nothing about the PSP; a 4xx we could not parse is still the PSP answering.
      if ((err as Failure).reason === 'aborted') breaker.neutral()
      else if (seen.status >= 400 && seen.status < 500) breaker.success()
      else breaker.failure()
      throw err
    }
    if (response.statusCode < 500) breaker.success()
    else breaker.failure()
    return response
  }

  async function exchange (method: 'GET' | 'POST', path: string, req: PspRequest, seen: { status: number }): Promise<PspResponse> {
    const started = performance.now()
    let res: Dispatcher.ResponseData<unknown>
    try {
      // undici's request API called as its top-level request() calls it, without parsing origin
      // and path back out of a URL string on every call (and a dispatcher needs only dispatch()).
      res = await requestVia.call(dispatcher, {
        origin,
        path: originForm(basePath + path),
        method,
        headers: req.headers,
        body: req.body,
        // A partner's dispatcher gets an AbortSignal; our own Agent takes the route's cheaper source.
        signal: owned || !(req.signal instanceof AbortSource) ? req.signal : req.signal.signal,
        headersTimeout: headersMs,
        bodyTimeout: bodyMs
      })
    } catch (err) {
      throw transportError(err, req.signal)
    }
    seen.status = res.statusCode
    // A 2xx we cannot read, or a 5xx, may still mean the PSP forwarded the card; only a 4xx says it did not.
    const unreadable = res.statusCode < 400 || res.statusCode >= 500 ? 'unknown' : undefined
    const text = await readCapped(res, unreadable, req.signal)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (err) {
      // An error page from a proxy in front of the PSP, or a refusal with no body (Checkout.com's 401 for
      // a wrong key): name the status, not the page.
      const reason = res.statusCode >= 400 ? `http_${res.statusCode}` : 'invalid_response'
      throw tag(new PspError(options.psp, reason, { cause: err }), reason, unreadable)
    }
    return { statusCode: res.statusCode, headers: res.headers, body, durationMs: Math.round(performance.now() - started) }
  }

  async function readCapped (res: Dispatcher.ResponseData<unknown>, unreadable: PspOutcome | undefined, signal: PspAbortSignal | undefined): Promise<string> {
    const tooLarge = () => {
      res.body.destroy()
      return tag(new PspError(options.psp, 'response_too_large'), 'response_too_large', unreadable)
    }
    const declared = Number(res.headers['content-length'])
    if (declared > maxBytes) throw tooLarge()
    const chunks: Buffer[] = []
    let size = 0
    try {
      // Through our own Agent (HTTP/1.1, llhttp) a declared length bounds the body: undici reads no
      // byte past it, so read it in one go. A partner's dispatcher (HTTP/2, interceptors) is read under the cap.
      if (owned && declared >= 0) return await res.body.text()
      for await (const chunk of res.body) {
        size += chunk.length
        if (size > maxBytes) throw tooLarge()
        chunks.push(chunk)
      }
    } catch (err) {
      if (err instanceof PspError) throw err
      throw transportError(err, signal)
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  function transportError (err: unknown, signal: PspAbortSignal | undefined): Failure {
    // An abort surfaces as the signal's reason, whatever it is.
    const code = signal?.aborted === true ? 'UND_ERR_ABORTED' : String((err as { code?: unknown }).code)
    const [reason, outcome] = TRANSPORT[code] ?? (CERTIFICATE.test(code) ? ['tls_failed', 'not_sent'] : ['connection_failed', 'unknown'])
    if (TIMEOUTS.has(reason)) return tag(new PspTimeoutError(options.psp, { cause: err }), reason, outcome)
    return tag(new PspError(options.psp, reason, { cause: err }), reason, outcome)
  }

  return {
    post: (path: string, req: PspRequest) => send('POST', path, req),
    get: (path: string, req: PspRequest) => send('GET', path, req),
    close: () => owned ? dispatcher.close() : Promise.resolve()
  }
}
