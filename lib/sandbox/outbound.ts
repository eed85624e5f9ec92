import { Agent, request } from 'undici'

/** What a simulated PSP got back from the destination. */
export interface DestinationAnswer {
  status: number
  headers: Record<string, string>
  body: string
  durationMs: number
}

export class DestinationUnreachableError extends Error {
  readonly timedOut: boolean
  constructor (timedOut: boolean, options?: ErrorOptions) {
    super(timedOut ? 'destination timed out' : 'destination unreachable', options)
    this.timedOut = timedOut
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/** The simulators' own outbound client: a PSP calling the destination with the card filled in. */
export function createDestinationCaller (timeoutMs = 10_000) {
  const dispatcher = new Agent({ connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })

  async function call (url: string, method: string, headers: Record<string, string>, body: string): Promise<DestinationAnswer> {
    const started = performance.now()
    try {
      const res = await request(url, { method: method.toUpperCase() as 'POST', headers, body, dispatcher })
      const text = await res.body.text()
      const flat: Record<string, string> = {}
      for (const [name, value] of Object.entries(res.headers)) {
        flat[name] = Array.isArray(value) ? value.join(', ') : String(value)
      }
      return { status: res.statusCode, headers: flat, body: text, durationMs: Math.round(performance.now() - started) }
    } catch (err) {
      throw new DestinationUnreachableError(TIMEOUT_CODES.has(String(Object(err).code)), { cause: err })
    }
  }

  return { call, close: () => dispatcher.close() }
}
