import { Agent, request, type Dispatcher } from 'undici'
import { createCircuitBreaker, NO_CIRCUIT_BREAKER, type CircuitBreakerOptions } from './circuit-breaker.ts'
import { PspError, PspTimeoutError, PspUnavailableError } from '../errors.ts'

export interface PspTimeouts {
  /** TCP + TLS connect, ms. Default 3000. */
  connectMs?: number
  /** Until the PSP's response headers, ms. Default 20000 (PSPs allow the destination 15 s or more). */
  headersMs?: number
  /** Between body chunks, ms. Default 10000. */
  bodyMs?: number
}

export interface PspClientOptions {
  /** The PSP's name, for error messages */
  psp: string
  /** Origin (and optional base path) of the PSP API, e.g. https://api.stripe.com */
  baseUrl: string
  timeouts?: PspTimeouts
  /** Largest PSP response accepted, bytes. Default 1 MiB. */
  maxResponseBytes?: number
  /** A dispatcher of the partner's (a proxy agent, say); otherwise one Agent per adapter. */
  dispatcher?: Dispatcher
  /** Connections kept to the PSP. Default 64. */
  connections?: number
  /** Fail fast with 503 after consecutive PSP failures; `false` turns it off. Default on, see CircuitBreakerOptions. */
  circuitBreaker?: CircuitBreakerOptions | false
}

export interface PspResponse {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  /** Parsed JSON */
  body: unknown
  durationMs: number
}

export interface PspRequest {
  headers: Record<string, string>
  body?: string
  signal?: AbortSignal
}

/**
 * What a PSP call that threw tells us about the forward: `not_sent` (no byte of the request left,
 * so nothing was forwarded) or `unknown` (the PSP may have forwarded the card). Errors an adapter
 * raises from a PSP answer carry neither: the PSP said it failed.
 */
export type PspOutcome = 'not_sent' | 'unknown'

export interface PspFailure extends Error {
  /** A short identifier of what went wrong, e.g. connection_refused, headers_timeout. */
  reason?: string
  outcome?: PspOutcome
  /** Seconds the caller should wait (an open circuit). */
  retryAfter?: number
}

// undici's request() never follows redirects, so a PSP cannot bounce us elsewhere (ASVS 15.3.2).
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
  const failure = err as PspFailure
  return failure.outcome === 'not_sent' && RETRYABLE.has(failure.reason as string)
}

function tag<E extends Error> (err: E, reason: string, outcome?: PspOutcome): E & PspFailure {
  return Object.assign(err, { reason, outcome })
}

/** One undici dispatcher per adapter, with explicit timeouts and a circuit breaker; PSP faults become 502/503/504 errors. */
export function createPspClient (options: PspClientOptions) {
  const base = new URL(options.baseUrl)
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
      const retryAfter = Math.ceil(wait / 1000)
      throw Object.assign(tag(new PspUnavailableError(options.psp), 'circuit_open', 'not_sent'), { retryAfter })
    }
    const seen = { status: 0 }
    let response: PspResponse
    try {
      response = await exchange(method, path, req, seen)
    } catch (err) {
      // Our own abort says nothing about the PSP; a 4xx we could not parse is still the PSP answering.
      if ((err as PspFailure).reason === 'aborted') breaker.neutral()
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
      res = await request(origin + basePath + path, {
        method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        dispatcher,
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
      // A 5xx page from a proxy or load balancer in front of the PSP: name the status, not the page.
      const reason = res.statusCode >= 500 ? `http_${res.statusCode}` : 'invalid_response'
      throw tag(new PspError(options.psp, reason, { cause: err }), reason, unreadable)
    }
    return { statusCode: res.statusCode, headers: res.headers, body, durationMs: Math.round(performance.now() - started) }
  }

  async function readCapped (res: Dispatcher.ResponseData<unknown>, unreadable: PspOutcome | undefined, signal: AbortSignal | undefined): Promise<string> {
    const tooLarge = () => {
      res.body.destroy()
      return tag(new PspError(options.psp, 'response_too_large'), 'response_too_large', unreadable)
    }
    if (Number(res.headers['content-length']) > maxBytes) throw tooLarge()
    const chunks: Buffer[] = []
    let size = 0
    try {
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

  function transportError (err: unknown, signal: AbortSignal | undefined): PspFailure {
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

export type PspClient = ReturnType<typeof createPspClient>
