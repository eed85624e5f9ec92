import { isJsonObject as isObject } from '../json.ts'

/** Forward API configs, and the validation error that reading the request and its config throws. */

export type Json = Record<string, unknown>

const FORMATS = new Set(['json', 'urlencode', 'xml'])

/** A validation error, thrown while reading the request and its config. */
export class ValidationFailure extends Error {
  readonly fields: Record<string, unknown>
  constructor (error: string, fields: Record<string, unknown> = {}) {
    super(error)
    this.fields = fields
  }
}

/** The request's config: inline (sandbox only) or loaded by `name`. */
export function resolveConfig (body: Json, production: boolean, loaded: ReadonlyMap<string, Json>): Json {
  if (body.config !== undefined) {
    if (production) throw new ValidationFailure('Inline configurations are not allowed in production')
    return isObject(body.config) ? body.config : {}
  }
  if (typeof body.name !== 'string') throw new ValidationFailure('Missing config name') // reading
  const config = loaded.get(body.name)
  if (config === undefined) throw new ValidationFailure('Unknown config', { name: body.name }) // reading
  return config
}

/** Refuses a config that is malformed or does not allow this card, method or url. */
export function checkConfig (config: Json, method: string, url: string): void {
  if (!Array.isArray(config.methods)) throw new ValidationFailure("Config 'methods' must be an array")
  let pattern: RegExp
  try {
    if (typeof config.url !== 'string') throw new Error('no url')
    pattern = new RegExp(`^(?:${config.url})$`)
  } catch {
    throw new ValidationFailure('Config must specify a valid URL regex')
  }
  const format = config.request_format
  if (format !== undefined && (!isObject(format) || !Object.values(format).every(f => FORMATS.has(f as string)))) {
    throw new ValidationFailure('Invalid request_format', { request_format: format })
  }
  const types = Array.isArray(config.types) ? config.types : []
  if (!types.includes('CreditCard')) {
    throw new ValidationFailure('No config specified for payment type', { vault_type: 'CreditCard', supported_by_config: types })
  }
  if (!config.methods.some(m => typeof m === 'string' && m.toUpperCase() === method)) {
    throw new ValidationFailure('HTTP method not allowed by config', { method }) // reading
  }
  if (!pattern.test(url)) throw new ValidationFailure('URL not allowed by config', { url }) // reading
}
