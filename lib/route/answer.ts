import type { ForwardResult } from '../../types/index.ts'
import { PspError, tagFailure, type Failure } from '../errors.ts'
import { maskPans } from '../redact.ts'

/** Nesting levels an answer may have, the answer object itself counted: deep enough for any real destination body. */
export const MAX_ANSWER_DEPTH = 64
/** The answer's size as JSON, the default maxResponseBytes of an adapter. */
export const MAX_ANSWER_BYTES = 1024 * 1024

/** The route's 200 body: the destination's answer as the PSP relayed it. */
export interface RelayedAnswer {
  status: number
  headers: Record<string, string>
  body: unknown
  'request-time': number
}

/** The answer, and the JSON text the route sends: serialised once, here. */
export interface SendableAnswer {
  answer: RelayedAnswer
  json: string
}

/**
 * What the route sends (and keeps for replays) from an adapter's result: every card number in the
 * headers and the body (strings, numbers and keys, at any depth) masked, and checked to be
 * sendable, before anything is stored, logged or sent. An answer that cannot be sent (too deep, too
 * large, not JSON, not an HTTP status) is a 502 whose outcome is unknown: the PSP did forward.
 */
export function relayedAnswer (result: ForwardResult, relay: 'destination' | 'psp', psp: string): SendableAnswer {
  const { status, headers, requestTime } = result
  if (!Number.isInteger(status) || status < 100 || status > 599 || !Number.isFinite(requestTime)) throw unsendable(psp, 'answer_invalid')
  if (headers === null || typeof headers !== 'object' || !allStrings(headers)) throw unsendable(psp, 'answer_invalid')
  const answer: RelayedAnswer = {
    status,
    headers: mask(headers, 2, psp) as Record<string, string>,
    body: mask(relay === 'psp' ? result.pspBody : result.body, 2, psp),
    'request-time': requestTime
  }
  let json: string
  try {
    json = JSON.stringify(answer)
  } catch {
    throw unsendable(psp, 'answer_invalid')
  }
  // UTF-8 takes at most three bytes per UTF-16 unit: most answers are measured without encoding them.
  if (json.length > MAX_ANSWER_BYTES / 3 && Buffer.byteLength(json) > MAX_ANSWER_BYTES) throw unsendable(psp, 'answer_too_large')
  return { answer, json }
}

/** A masked copy of a JSON value; `depth` is the level `value` sits at. */
function mask (value: unknown, depth: number, psp: string): unknown {
  if (typeof value === 'string') return maskPans(value)
  if (typeof value === 'number') {
    const text = String(value)
    const masked = maskPans(text)
    return masked === text ? value : masked
  }
  if (value === null || typeof value !== 'object') return value
  if (depth > MAX_ANSWER_DEPTH) throw unsendable(psp, 'answer_too_deep')
  // JSON's own rule: a Date, a Buffer, ... is what its toJSON gives.
  const json = typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON: () => unknown }).toJSON() : value
  if (json !== value) return mask(json, depth, psp)
  if (Array.isArray(value)) return value.map(item => mask(item, depth + 1, psp))
  const copy: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const item = mask((value as Record<string, unknown>)[key], depth + 1, psp)
    // JSON.parse makes "__proto__" an own key; assigning it would set the copy's prototype instead (and drop it).
    if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true })
    else copy[maskPans(key)] = item
  }
  return copy
}

function allStrings (headers: Record<string, unknown>): boolean {
  for (const name of Object.keys(headers)) if (typeof headers[name] !== 'string') return false
  return true
}

function unsendable (psp: string, reason: string): Failure {
  return tagFailure(new PspError(psp, reason), { reason, outcome: 'unknown' })
}
