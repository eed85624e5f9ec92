import type { DestinationOptions, PreparedDestination, PspAdapter } from '../../types/index.ts'
import { DEFAULT_TEMPLATE, holdsPlaceholderBraces, parseTemplate } from '../template.ts'
import { httpsUrl, isObject } from '../checks.ts'

const HEADER_NAME = /^[!#$%&'*+.^`|~\w-]+$/
const HEADER_VALUE = /^[\t\x20-\x7E]*$/
const DESTINATION_ID = /^[A-Za-z0-9._-]{1,64}$/

/** `psps`, checked: each value is a PspAdapter. */
export function resolveAdapters (psps: unknown): Map<string, PspAdapter<any>> {
  if (!isObject(psps) || Object.keys(psps).length === 0) throw new Error('psps: give at least one PSP adapter')
  const adapters = new Map<string, PspAdapter<any>>()
  for (const [key, adapter] of Object.entries(psps as Record<string, PspAdapter<any>>)) {
    if (adapter === null || typeof adapter !== 'object' || typeof adapter.forward !== 'function' || typeof adapter.isRecord !== 'function' || typeof adapter.name !== 'string') {
      throw new Error(`psps.${key}: not a PspAdapter (needs name, isRecord and forward)`)
    }
    adapters.set(key, adapter)
  }
  return adapters
}

/** `destinations`, checked and prepared once: frozen, with their template slots, and prepared by every adapter. */
export function resolveDestinations (destinations: unknown, adapters: ReadonlyMap<string, PspAdapter<any>>, allowInsecureUrls: boolean): Map<string, PreparedDestination> {
  if (!isObject(destinations) || Object.keys(destinations).length === 0) throw new Error('destinations: give at least one destination')
  const prepared = new Map<string, PreparedDestination>()
  for (const [id, config] of Object.entries(destinations as Record<string, DestinationOptions>)) {
    const destination = prepareDestination(id, config, allowInsecureUrls)
    for (const [key, adapter] of adapters) {
      try {
        adapter.prepareDestination?.(destination)
      } catch (err) {
        throw new Error(`psps.${key}: ${(err as Error).message}`)
      }
    }
    prepared.set(id, destination)
  }
  return prepared
}

function prepareDestination (id: string, config: DestinationOptions, allowInsecureUrls: boolean): PreparedDestination {
  const where = `destinations.${id}`
  if (!DESTINATION_ID.test(id)) throw new Error(`${where}: ids are 1-64 characters of A-Z a-z 0-9 . _ -`)
  if (config === null || typeof config !== 'object') throw new Error(`${where}: must be an object`)
  const url = httpsUrl(config.url, allowInsecureUrls)
  if (url === null) throw new Error(`${where}.url: must be an https URL (http only on loopback with allowInsecureUrls)`)
  if (url.username !== '' || url.password !== '') throw new Error(`${where}.url: must not carry credentials; use headers`)
  if (holdsPlaceholderBraces(config.url)) throw new Error(`${where}.url: must not hold {{ or }} (card data goes in the body template only)`)
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(config.headers ?? {})) {
    if (!HEADER_NAME.test(name) || typeof value !== 'string' || !HEADER_VALUE.test(value)) {
      throw new Error(`${where}.headers: "${name.slice(0, 64)}" is not a valid header`)
    }
    if (holdsPlaceholderBraces(value)) throw new Error(`${where}.headers: "${name}" must not hold {{ or }} (card data goes in the body template only)`)
    headers[name] = value
  }
  const template = config.body ?? DEFAULT_TEMPLATE
  if (template === null || typeof template !== 'object' || Array.isArray(template)) throw new Error(`${where}.body: must be a JSON object template`)
  const slots = parseTemplate(template, `${where}.body`)
  if (!slots.some(s => s.token === 'card.number')) throw new Error(`${where}.body: has no {{card.number}}`)
  return Object.freeze({ id, url: url.href, headers: Object.freeze(headers), template, slots })
}
