import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { headerStrings } from './recorder.ts'
import type { RecordedRequest } from './recorder.ts'
import { readBodiesAsText, recorderFor, serve } from './server.ts'
import type { RecordingServer, SandboxServerOptions } from './server.ts'

/**
 * A fake Rokt PCI destination: the endpoint a PSP's Forward API sends the card to. It records
 * the requests it receives (these are test cards only; the most recent 1000 unless `maxRecorded`
 * says otherwise) and answers like a PCI token endpoint would.
 */

/** One request the destination received. */
export interface DestinationReceived extends RecordedRequest<Record<string, string>, unknown> {
  /** The path, with its query string. */
  path: string
  /** Parsed JSON when the body was JSON, else the raw string ('' when there was none). */
  body: unknown
}

/** What the destination answers. An object or array `body` is sent as JSON, a string as is. */
export interface DestinationResponse {
  status: number
  /** An array value sends the header several times (e.g. `set-cookie`). */
  headers?: Record<string, string | string[]>
  body?: unknown
}

export type DestinationResponder = (received: DestinationReceived) => DestinationResponse | Promise<DestinationResponse>

export interface FakeDestinationOptions extends SandboxServerOptions<DestinationReceived> {
  /** The endpoint path put in `url`. Default `/v1/cards/tokenize`. Every path is answered. */
  path?: string
  /** Headers the destination insists on, e.g. `{ 'x-rokt-api-key': 'k' }` (names are case-insensitive). Otherwise 401. */
  requiredHeaders?: Record<string, string>
  /** Wait this long before answering (to make a PSP time out). */
  delayMs?: number
  /** The answer; default: 200 `{ token, status: 'tokenized', last4 }`. */
  response?: DestinationResponse | DestinationResponder
}

export interface FakeDestination extends RecordingServer<DestinationReceived> {
  /** The full endpoint URL (base URL + `path`). */
  url: string
  baseUrl: string
  /** The same array as `requests`, by its first name. */
  received: DestinationReceived[]
  /** How many requests arrived: every recorded one. */
  readonly calls: number
  /** Replaces the answer; `null` restores the default. */
  setResponse: (response: DestinationResponse | DestinationResponder | null) => void
  setDelay: (ms: number) => void
}

/** The default answer: a PCI token for the card, with its last four digits when `card.number` was sent. */
export function tokenizedResponse (received: DestinationReceived): DestinationResponse {
  const number: unknown = Object(Object(received.body).card).number
  const last4 = typeof number === 'string' && number.length >= 4 ? number.slice(-4) : undefined
  return { status: 200, body: { token: `rokt_tok_${randomBytes(12).toString('hex')}`, status: 'tokenized', last4 } }
}

function parseBody (raw: unknown): unknown {
  if (typeof raw !== 'string') return ''
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

/** Starts the destination on 127.0.0.1 (a free port unless `opts.port` is given). */
export async function startFakeDestination (opts: FakeDestinationOptions = {}): Promise<FakeDestination> {
  const recorder = recorderFor(opts)
  const required = Object.entries(opts.requiredHeaders ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const)
  let responder: DestinationResponder = toResponder(opts.response ?? null)
  let delayMs = opts.delayMs ?? 0
  const pending = new Set<AbortController>()

  const app = Fastify({ logger: false })
  readBodiesAsText(app)
  // Pending delays end when the server closes, so close() never waits for them.
  app.addHook('preClose', async () => { for (const c of pending) c.abort() })

  app.all('/*', async (request, reply) => {
    const headers = headerStrings(request.headers)
    const entry = recorder.record({ method: request.method, path: request.url, headers, body: parseBody(request.body) })

    if (delayMs > 0) {
      const controller = new AbortController()
      pending.add(controller)
      // The caller gave up (its timeout): stop waiting.
      reply.raw.on('close', () => controller.abort())
      try {
        await sleep(delayMs, undefined, { signal: controller.signal })
      } catch {
        reply.hijack()
        reply.raw.destroy()
        return
      } finally {
        pending.delete(controller)
      }
    }

    for (const [name, value] of required) {
      if (entry.headers[name] !== value) return reply.code(401).send({ error: 'unauthorized', message: 'Missing or invalid credentials.' })
    }
    const answer = await responder(entry)
    return reply.code(answer.status).headers({ ...answer.headers }).send(answer.body)
  })

  const server = await serve({ app, recorder }, opts.port)
  const path = opts.path ?? '/v1/cards/tokenize'
  return {
    url: server.url + path,
    baseUrl: server.url,
    close: server.close,
    requests: recorder.requests,
    received: recorder.requests,
    get calls () { return recorder.calls },
    setResponse: (response) => { responder = toResponder(response) },
    setDelay: (ms) => { delayMs = ms }
  }
}

function toResponder (response: DestinationResponse | DestinationResponder | null): DestinationResponder {
  if (response === null) return tokenizedResponse
  return typeof response === 'function' ? response : () => response
}
