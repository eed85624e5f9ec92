import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyInstance, FastifyRequest } from 'fastify'

/**
 * The one request recorder of the sandbox: every simulator and the fake destination keep what they
 * received in one, for tests ("nothing reached the PSP") and the example server. The PSPs' requests
 * carry tokens and placeholders, never card data; the fake destination's carry test cards only.
 */

/** One request as the sandbox recorded it. */
export interface RecordedRequest<Headers = Record<string, string | string[] | undefined>, Body = unknown> {
  method: string
  /** The path, with its query string unless the simulator says otherwise. */
  path: string
  /** Lower-cased names. */
  headers: Headers
  body: Body
}

export interface Recorder<T = RecordedRequest> {
  /** The most recent requests received, oldest first: at most `maxRecorded` of them. */
  readonly requests: T[]
  /**
   * How many requests were calls to the simulated API (each simulator says which count), since the
   * start: the ones `requests` no longer holds included.
   */
  readonly calls: number
  /** Keeps `entry`, counted in `calls` unless `call` is false, and returns it. */
  record: (entry: T, call?: boolean) => T
}

/** How many requests a recorder keeps unless told otherwise. */
export const DEFAULT_MAX_RECORDED = 1000

export interface RecorderOptions<T> {
  /** The array to record into. Default: a new one. */
  requests?: T[]
  /**
   * Keep at most this many recent requests, dropping the oldest, so that a long run (a benchmark, a
   * soak) does not grow without bound; `calls` still counts every one. `Infinity` keeps them all.
   * Default 1000.
   */
  maxRecorded?: number
}

export function createRecorder<T = RecordedRequest> (options: RecorderOptions<T> = {}): Recorder<T> {
  const requests = options.requests ?? []
  const max = options.maxRecorded ?? DEFAULT_MAX_RECORDED
  if (!(max >= 0 && (Number.isInteger(max) || max === Infinity))) {
    throw new RangeError(`maxRecorded must be a whole number of requests, 0 or more, or Infinity; got ${max}`)
  }
  let calls = 0
  return {
    requests,
    get calls () { return calls },
    record (entry, call = true) {
      requests.push(entry)
      // In place: callers hold on to this array.
      if (requests.length > max) requests.splice(0, requests.length - max)
      if (call) calls++
      return entry
    }
  }
}

/** How a simulator that records each request on arrival builds its entry. */
export interface Arrival<T> {
  /** The entry of a request that just arrived, its body not read yet. */
  entry: (request: FastifyRequest) => T
  /** Puts the parsed body in the entry. Never called for a request answered before its body was read. */
  addBody: (entry: T, body: unknown) => void
  /** Whether the request counts in `calls`. Default: every request does. */
  isCall?: (entry: T) => boolean
}

/** A request as received: the path with its query string, the headers as they came, and `body`. */
export function asReceived (request: FastifyRequest, body?: unknown): RecordedRequest {
  return { method: request.method, path: request.url, headers: { ...request.headers }, body }
}

/** Records requests as received, with their body as parsed. */
export const AS_RECEIVED: Arrival<RecordedRequest> = {
  entry: (request) => asReceived(request),
  addBody: (entry, body) => { entry.body = body }
}

/** Each header as one string. Node joins a repeated header already; an array (`set-cookie`) is joined with commas. */
export function headerStrings (headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) out[name] = String(value)
  return out
}

/**
 * Records each request as it arrives, so that one an auth hook refuses is recorded too, and adds its
 * body once parsed. Call it before adding the app's own hooks: hooks run in the order they were added.
 */
export function recordOnArrival<T> (app: FastifyInstance, recorder: Recorder<T>, arrival: Arrival<T>): void {
  const entries = new WeakMap<FastifyRequest, T>()
  app.addHook('onRequest', async (request) => {
    const entry = arrival.entry(request)
    entries.set(request, recorder.record(entry, arrival.isCall?.(entry) ?? true))
  })
  app.addHook('preHandler', async (request) => {
    arrival.addBody(entries.get(request) as T, request.body)
  })
}
