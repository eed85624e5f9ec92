/** The small rules every option check is made of; each throws an Error that names the option. */

/** RFC 6749 §3.3 scope-token */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** An optional integer option: absent, or within [min, max]. */
export function checkInteger (value: unknown, name: string, min: number, max: number): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)) {
    throw new Error(`${name}: must be an integer from ${min} to ${max}`)
  }
}

/** An optional callback option. */
export function checkFunction (value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'function') throw new Error(`${name}: must be a function`)
}

export function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

export function isNonEmptyStrings (value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every(v => typeof v === 'string' && v.length > 0)
}

/** Loopback http is allowed for the sandbox only; a real JWKS, PSP or destination is https. */
export function isLoopback (url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
}

/** The URL rule of every outbound address: https, or plain http on loopback when `allowLoopback` (the sandbox); else null. */
export function httpsUrl (value: unknown, allowLoopback: boolean): URL | null {
  const url = typeof value === 'string' ? URL.parse(value) : null
  return url !== null && (url.protocol === 'https:' || (allowLoopback && isLoopback(url))) ? url : null
}
