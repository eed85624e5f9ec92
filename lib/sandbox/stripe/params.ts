import { isJsonObject } from '../json.ts'
import { emptyParam, forwardingInvalid, invalidRequest, invalidType, missing, unknownParam } from './errors.ts'
import type { FormValue } from './form.ts'
import { METADATA_SINCE } from './versions.ts'
import { STRIPE_REPLACEMENTS } from './wire.ts'

/** The parameters of `POST /v1/forwarding/requests`, checked as Stripe checks them. */

export interface CreateParams {
  paymentMethod: string
  url: string
  replacements: string[]
  body: string | undefined
  headers: Array<{ name: string, value: string }>
  metadata: Record<string, string>
  expand: string[]
}

const MAX_STRING = 5000
const TOP_LEVEL_PARAMS = new Set(['payment_method', 'url', 'replacements', 'request', 'metadata', 'expand'])
const REQUEST_PARAMS = new Set(['body', 'headers'])
const HEADER_PARAMS = new Set(['name', 'value'])
const KNOWN_REPLACEMENTS = new Set<string>([...STRIPE_REPLACEMENTS, 'request_signature'])
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/
/** Headers the caller may not set: Stripe owns the connection and the body framing. */
const RESERVED_HEADERS = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'proxy-connection'
])

const isHash = (v: FormValue | undefined): v is { [key: string]: FormValue } => isJsonObject(v)

function requiredString (value: FormValue | undefined, param: string): string {
  if (value === undefined) throw missing(param)
  if (typeof value !== 'string') throw invalidType(param, 'string')
  if (value === '') throw emptyParam(param)
  if (value.length > MAX_STRING) {
    throw invalidRequest(400, `Invalid string: ${param} must be at most ${MAX_STRING} characters`, undefined, param)
  }
  return value
}

function replacementsOf (value: FormValue | undefined): string[] {
  if (value === undefined) throw missing('replacements')
  if (value === '') throw emptyParam('replacements')
  if (!Array.isArray(value)) throw invalidType('replacements', 'array')
  return value.map((r, i) => {
    if (typeof r !== 'string' || !KNOWN_REPLACEMENTS.has(r)) {
      throw forwardingInvalid(`replacements[${i}]`,
        `Invalid replacements[${i}]: must be one of card_cvc, card_expiry, card_number, cardholder_name, or request_signature`)
    }
    return r
  })
}

function headersOf (value: FormValue | undefined): CreateParams['headers'] {
  if (value === undefined || value === '') return []
  if (!Array.isArray(value)) throw invalidType('request[headers]', 'array')
  return value.map((h, i) => {
    const at = `request[headers][${i}]`
    if (!isHash(h)) throw invalidType(at, 'hash')
    for (const k of Object.keys(h)) if (!HEADER_PARAMS.has(k)) throw unknownParam(`${at}[${k}]`)
    const name = requiredString(h.name, `${at}[name]`)
    if (h.value === undefined) throw missing(`${at}[value]`)
    if (typeof h.value !== 'string') throw invalidType(`${at}[value]`, 'string')
    if (!HEADER_NAME.test(name) || RESERVED_HEADERS.has(name.toLowerCase())) {
      throw forwardingInvalid(`${at}[name]`, `The header name '${name}' cannot be forwarded`)
    }
    if (HEADER_VALUE_FORBIDDEN.test(h.value)) {
      throw forwardingInvalid(`${at}[value]`, `The value of header '${name}' contains forbidden characters`)
    }
    return { name, value: h.value }
  })
}

/**
 * `metadata`: "up to 50 keys, with key names up to 40 characters long and values up to 500
 * characters long" (https://docs.stripe.com/api/metadata), on ForwardingRequests from
 * 2024-10-28.acacia (its changelog). Not documented: the messages of these refusals, and what an
 * older version answers; assumed invalid_request_error naming the limit, and an unknown parameter.
 * An empty string unsets an optional parameter in Stripe's encoding.
 */
function metadataOf (value: FormValue | undefined, version: string): Record<string, string> {
  if (value === undefined) return {}
  if (version < METADATA_SINCE) throw unknownParam('metadata')
  const hash = value === '' ? {} : value
  if (!isHash(hash)) throw invalidType('metadata', 'hash')
  const metadata: Record<string, string> = {}
  const entries = Object.entries(hash)
  if (entries.length > 50) throw invalidRequest(400, 'Invalid metadata: metadata can have at most 50 keys', undefined, 'metadata')
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw invalidType(`metadata[${k}]`, 'string')
    if (k.length > 40) throw invalidRequest(400, 'Invalid metadata: keys can be at most 40 characters', undefined, `metadata[${k.slice(0, 40)}]`)
    if (v.length > 500) throw invalidRequest(400, 'Invalid metadata: values can be at most 500 characters', undefined, `metadata[${k}]`)
    if (v !== '') metadata[k] = v
  }
  return metadata
}

/** The create parameters, checked as Stripe checks them under API version `version` (its date). */
export function validateCreate (params: Record<string, FormValue>, version: string): CreateParams {
  for (const k of Object.keys(params)) if (!TOP_LEVEL_PARAMS.has(k)) throw unknownParam(k)
  const paymentMethod = requiredString(params.payment_method, 'payment_method')
  const url = requiredString(params.url, 'url')
  const replacements = replacementsOf(params.replacements)

  // `request` is required (stripe-node >= 23 types it so): a body, headers, or both.
  const request = params.request
  if (request === undefined) throw missing('request')
  if (request === '') throw emptyParam('request')
  if (!isHash(request)) throw invalidType('request', 'hash')
  for (const k of Object.keys(request)) if (!REQUEST_PARAMS.has(k)) throw unknownParam(`request[${k}]`)
  const body = request.body
  if (body !== undefined && typeof body !== 'string') throw invalidType('request[body]', 'string')
  const headers = headersOf(request.headers)

  const metadata = metadataOf(params.metadata, version)

  const expand = params.expand ?? []
  if (!Array.isArray(expand) || !expand.every((e) => typeof e === 'string')) throw invalidType('expand', 'array')
  return { paymentMethod, url, replacements, body, headers, metadata, expand: expand as string[] }
}
