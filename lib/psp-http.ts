import { Agent, request, type Dispatcher } from 'undici'
import { PspError, PspTimeoutError } from './errors.ts'

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

// undici's request() never follows redirects, so a PSP cannot bounce us elsewhere (ASVS 15.3.2).
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/** One undici dispatcher per adapter, with explicit timeouts; PSP transport faults become 502/504 errors. */
export function createPspClient (options: PspClientOptions) {
  const base = new URL(options.baseUrl)
  const origin = base.origin
  const basePath = base.pathname.replace(/\/$/, '')
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024
  const { connectMs = 3000, headersMs = 20_000, bodyMs = 10_000 } = options.timeouts ?? {}
  const owned = options.dispatcher === undefined
  const dispatcher = options.dispatcher ?? new Agent({
    connectTimeout: connectMs,
    headersTimeout: headersMs,
    bodyTimeout: bodyMs,
    connections: options.connections ?? 64,
    keepAliveTimeout: 30_000
  })

  async function send (method: 'GET' | 'POST', path: string, req: PspRequest): Promise<PspResponse> {
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
      throw transportError(err)
    }
    const text = await readCapped(res)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (err) {
      throw new PspError(options.psp, 'invalid_response', { cause: err })
    }
    return { statusCode: res.statusCode, headers: res.headers, body, durationMs: Math.round(performance.now() - started) }
  }

  async function readCapped (res: Dispatcher.ResponseData<unknown>): Promise<string> {
    const declared = Number(res.headers['content-length'])
    if (declared > maxBytes) {
      res.body.destroy()
      throw new PspError(options.psp, 'response_too_large')
    }
    const chunks: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of res.body) {
        size += chunk.length
        if (size > maxBytes) {
          res.body.destroy()
          throw new PspError(options.psp, 'response_too_large')
        }
        chunks.push(chunk)
      }
    } catch (err) {
      if (err instanceof PspError) throw err
      throw transportError(err)
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  function transportError (err: unknown): Error {
    const code = (err as { code?: string }).code ?? ''
    if (TIMEOUTS.has(code)) return new PspTimeoutError(options.psp, { cause: err })
    return new PspError(options.psp, 'connection_failed', { cause: err })
  }

  return {
    post: (path: string, req: PspRequest) => send('POST', path, req),
    get: (path: string, req: PspRequest) => send('GET', path, req),
    close: () => owned ? dispatcher.close() : Promise.resolve()
  }
}

export type PspClient = ReturnType<typeof createPspClient>
