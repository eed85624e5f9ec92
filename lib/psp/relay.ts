/** Helpers every adapter uses to turn a PSP's relayed destination answer into the route's response. */
import type { DestinationAnswer, ForwardResult } from '../../types/index.ts'
import { tagFailure } from '../errors.ts'

/** True when the PSP's envelope holds an answer from the destination (an integer status at least). */
export function isDestinationAnswer (answer: unknown): answer is DestinationAnswer {
  return answer !== null && typeof answer === 'object' && Number.isInteger((answer as DestinationAnswer).status)
}

/**
 * The error for a Forward API call that did not bring the destination's answer back. Only a 4xx
 * says the PSP refused before forwarding; after a 5xx, or a 2xx we cannot use, it may have
 * forwarded the card: the outcome is unknown (audited forward_unknown: reconcile, never resend blindly).
 */
export function forwardFailure<E extends Error> (error: E, pspStatus: number): E {
  return pspStatus >= 400 && pspStatus < 500 ? error : tagFailure(error, { outcome: 'unknown' })
}

/** The route's ForwardResult from the relayed answer, the PSP's whole envelope and the time to report. */
export function forwardResult (answer: DestinationAnswer, pspBody: unknown, requestTime: number): ForwardResult {
  const headers = headerMap(answer.headers)
  return { status: answer.status, headers, body: destinationBody(answer.body, headers), requestTime, pspBody }
}

/** Hop-by-hop headers describe the PSP's connection to the destination, not the answer (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'])

/**
 * Header names lower-cased, hop-by-hop headers dropped; PSPs that give arrays (Checkout.com) or
 * name/value lists (Stripe) are flattened.
 */
export function headerMap (headers: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  const entries: Array<[unknown, unknown]> = Array.isArray(headers)
    ? headers.map(h => [h?.name, h?.value])
    : Object.entries(headers !== null && typeof headers === 'object' ? headers : {})
  for (const [name, value] of entries) {
    if (typeof name !== 'string') continue
    const lower = name.toLowerCase()
    if (!HOP_BY_HOP.has(lower)) out[lower] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}

/** The response contract (README): `body` is parsed JSON when the destination answered JSON, else the raw string. */
export function destinationBody (raw: unknown, headers: Record<string, string>): unknown {
  if (typeof raw !== 'string') return raw ?? null
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(headers['content-type'] ?? '')) return raw
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}
