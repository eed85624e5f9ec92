import { isJsonObject as isObject } from '../json.ts'

/** What `POST /forward` accepts: the fields, patterns and limits Checkout.com documents. */

// Patterns and limits from checkout-sdk-go forward/forward.go and the API reference.
const SOURCE_ID = /^src_\w{26}$/
const TOKEN_ID = /^tok_\w{26}$/
const PROCESSING_CHANNEL = /^pc_\w{26}$/
const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE'])
const MAX_URL = 1024
const MAX_BODY = 16_384
const MAX_REFERENCE = 80
const MAX_ENCRYPTED_HEADERS = 8192

export interface ValidRequest {
  source: { type: 'id', id: string, cvv_token?: string } | { type: 'token', token: string }
  destination_request: { url: string, method: string, headers: { raw: Record<string, string> }, body: string }
  reference?: string
}

function isLoopback (hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]'
}

/** Checkout.com answers with a 422 `request_invalid` listing every field that failed. */
export function validate (body: unknown): { ok: true, value: ValidRequest } | { ok: false, codes: string[] } {
  const codes: string[] = []
  if (!isObject(body)) return { ok: false, codes: ['request_body_invalid'] }

  const source = body.source
  if (source === undefined) {
    codes.push('source_required')
  } else if (!isObject(source)) {
    codes.push('source_invalid')
  } else if (source.type === 'id') {
    if (source.id === undefined) codes.push('source_id_required')
    else if (typeof source.id !== 'string' || !SOURCE_ID.test(source.id)) codes.push('source_id_invalid')
    if (source.cvv_token !== undefined && (typeof source.cvv_token !== 'string' || !TOKEN_ID.test(source.cvv_token))) {
      codes.push('cvv_token_invalid')
    }
  } else if (source.type === 'token') {
    if (source.token === undefined) codes.push('source_token_required')
    else if (typeof source.token !== 'string' || !TOKEN_ID.test(source.token)) codes.push('source_token_invalid')
  } else if (source.type === undefined) {
    codes.push('source_type_required')
  } else {
    codes.push('source_type_invalid')
  }

  const dr = body.destination_request
  if (dr === undefined) {
    codes.push('destination_request_required')
  } else if (!isObject(dr)) {
    codes.push('destination_request_invalid')
  } else {
    if (dr.url === undefined) codes.push('destination_request_url_required')
    else if (!validUrl(dr.url)) codes.push('destination_request_url_invalid')
    if (dr.method === undefined) codes.push('destination_request_method_required')
    else if (typeof dr.method !== 'string' || !METHODS.has(dr.method)) codes.push('destination_request_method_invalid')
    if (dr.headers === undefined) codes.push('destination_request_headers_required')
    else if (!validHeaders(dr.headers)) codes.push('destination_request_headers_invalid')
    if (dr.body === undefined) codes.push('destination_request_body_required')
    else if (typeof dr.body !== 'string' || dr.body.length > MAX_BODY) codes.push('destination_request_body_invalid')
  }

  if (body.reference !== undefined && (typeof body.reference !== 'string' || body.reference.length > MAX_REFERENCE)) {
    codes.push('reference_invalid')
  }
  const channel = body.processing_channel_id
  if (channel !== undefined && (typeof channel !== 'string' || !PROCESSING_CHANNEL.test(channel))) {
    codes.push('processing_channel_id_invalid')
  }

  if (codes.length > 0) return { ok: false, codes }
  return { ok: true, value: body as unknown as ValidRequest }
}

function validUrl (url: unknown): boolean {
  if (typeof url !== 'string' || url.length > MAX_URL || !URL.canParse(url)) return false
  const parsed = new URL(url)
  // Checkout.com forwards over https only; plain http is allowed here for a loopback destination,
  // the sandbox's one concession, so tests can run a fake destination without TLS.
  return parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopback(parsed.hostname))
}

function validHeaders (headers: unknown): boolean {
  if (!isObject(headers) || !isObject(headers.raw)) return false
  if (!Object.values(headers.raw).every(v => typeof v === 'string')) return false
  // `encrypted` is a JWE of more headers. The sandbox holds no private key to decrypt it, so it
  // checks the documented type and size and forwards only the raw headers.
  return headers.encrypted === undefined || (typeof headers.encrypted === 'string' && headers.encrypted.length <= MAX_ENCRYPTED_HEADERS)
}
