import type { CardForwardingOptions, PreparedDestination, PspAdapter } from '../../types/index.ts'
import { isLoopback } from '../edge/auth.ts'
import { DEFAULT_TEMPLATE, parseTemplate } from '../template.ts'

const HEADER_NAME = /^[!#$%&'*+.^`|~\w-]+$/
const HEADER_VALUE = /^[\t\x20-\x7E]*$/
const DESTINATION_ID = /^[A-Za-z0-9._-]{1,64}$/
const PATH = /^\/[\w\-./]*$/

export interface ResolvedOptions {
  path: string
  relay: 'destination' | 'psp'
  bodyLimit: number
  adapters: Map<string, PspAdapter<any>>
  destinations: Map<string, PreparedDestination>
}

/** Validates everything but auth and allowedIps (their own modules do) and prepares destinations once. */
export function resolveOptions (options: CardForwardingOptions<any>): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new Error('options: required')
  if (typeof options.resolvePaymentMethod !== 'function') throw new Error('resolvePaymentMethod: must be a function')
  const path = options.path ?? '/v1/initiate-payment-sharing'
  if (typeof path !== 'string' || !PATH.test(path)) throw new Error('path: must be an absolute URL path')
  const relay = options.relay ?? 'destination'
  if (relay !== 'destination' && relay !== 'psp') throw new Error("relay: must be 'destination' or 'psp'")
  const bodyLimit = options.bodyLimit ?? 8192
  if (!Number.isInteger(bodyLimit) || bodyLimit < 256 || bodyLimit > 65_536) throw new Error('bodyLimit: must be an integer from 256 to 65536')
  if (options.onAudit !== undefined && typeof options.onAudit !== 'function') throw new Error('onAudit: must be a function')
  if (options.onForward !== undefined && typeof options.onForward !== 'function') throw new Error('onForward: must be a function')

  const adapters = new Map<string, PspAdapter<any>>()
  if (options.psps === null || typeof options.psps !== 'object' || Object.keys(options.psps).length === 0) {
    throw new Error('psps: give at least one PSP adapter')
  }
  for (const [key, adapter] of Object.entries(options.psps as Record<string, PspAdapter<any>>)) {
    if (adapter === null || typeof adapter !== 'object' || typeof adapter.forward !== 'function' || typeof adapter.isRecord !== 'function' || typeof adapter.name !== 'string') {
      throw new Error(`psps.${key}: not a PspAdapter (needs name, isRecord and forward)`)
    }
    adapters.set(key, adapter)
  }

  const destinations = new Map<string, PreparedDestination>()
  if (options.destinations === null || typeof options.destinations !== 'object' || Object.keys(options.destinations).length === 0) {
    throw new Error('destinations: give at least one destination')
  }
  for (const [id, config] of Object.entries(options.destinations)) {
    const where = `destinations.${id}`
    if (!DESTINATION_ID.test(id)) throw new Error(`${where}: ids are 1-64 characters of A-Z a-z 0-9 . _ -`)
    if (config === null || typeof config !== 'object') throw new Error(`${where}: must be an object`)
    let url: URL | null = null
    try { url = new URL(config.url) } catch {}
    if (url === null || !(url.protocol === 'https:' || (options.allowInsecureUrls === true && isLoopback(url)))) {
      throw new Error(`${where}.url: must be an https URL (http only on loopback with allowInsecureUrls)`)
    }
    if (url.username !== '' || url.password !== '') throw new Error(`${where}.url: must not carry credentials; use headers`)
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(config.headers ?? {})) {
      if (!HEADER_NAME.test(name) || typeof value !== 'string' || !HEADER_VALUE.test(value)) {
        throw new Error(`${where}.headers: "${name.slice(0, 64)}" is not a valid header`)
      }
      headers[name] = value
    }
    const template = config.body ?? DEFAULT_TEMPLATE
    if (template === null || typeof template !== 'object' || Array.isArray(template)) throw new Error(`${where}.body: must be a JSON object template`)
    const slots = parseTemplate(template, `${where}.body`)
    if (!slots.some(s => s.token === 'card.number')) throw new Error(`${where}.body: has no {{card.number}}`)
    const prepared: PreparedDestination = Object.freeze({ id, url: url.href, headers: Object.freeze(headers), template, slots })
    for (const [key, adapter] of adapters) {
      try {
        adapter.prepareDestination?.(prepared)
      } catch (err) {
        throw new Error(`psps.${key}: ${(err as Error).message}`)
      }
    }
    destinations.set(id, prepared)
  }
  return { path, relay, bodyLimit, adapters, destinations }
}
