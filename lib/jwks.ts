import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { Agent, request, type Dispatcher } from 'undici'
import { AuthUnavailableError } from './errors.ts'

export interface JwksOptions {
  url: string
  algorithms: readonly string[]
  /** Hard budget for one fetch, ms. Default 2500. */
  timeoutMs?: number
  /** How long a fetched key set is fresh, ms. Default 10 minutes. */
  ttlMs?: number
  /** Least time between two refreshes triggered by unknown kids, ms. Default 30 s. */
  cooldownMs?: number
  /** Keys kept from one JWKS, at most. Default 20. */
  maxKeys?: number
  /** When refreshes fail, keys older than this are no longer used, ms. Default 2 × ttl. */
  maxStaleMs?: number
  dispatcher?: Dispatcher
}

export class UnknownKeyError extends Error {}

const KTY_FOR: Record<string, string> = { RS: 'RSA', PS: 'RSA', ES: 'EC', Ed: 'OKP' }
const CRV_FOR: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521', EdDSA: 'Ed25519' }
const KID = /^[\w.-]{1,128}$/

/**
 * A key source pinned to one JWKS URL: never a URL from the token. Fresh keys for ttl; an unknown
 * kid refreshes at most once per cooldown; a failed refresh keeps the old keys up to maxStale, and
 * with no usable key the caller gets AuthUnavailableError (503), never a hang.
 */
export function createJwksKeySource (options: JwksOptions) {
  const { url, algorithms, timeoutMs = 2500, ttlMs = 600_000, cooldownMs = 30_000, maxKeys = 20 } = options
  const maxStaleMs = options.maxStaleMs ?? 2 * ttlMs
  const owned = options.dispatcher === undefined
  const dispatcher = options.dispatcher ?? new Agent({ connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  let keys = new Map<string, string>()
  let fetchedAt = -Infinity
  let lastAttempt = -Infinity
  let inflight: Promise<void> | null = null
  let fetches = 0

  function refresh (): Promise<void> {
    inflight ??= load().finally(() => { inflight = null })
    return inflight
  }

  async function load (): Promise<void> {
    lastAttempt = Date.now()
    fetches++
    const res = await request(url, { method: 'GET', dispatcher, signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } })
    const text = await res.body.text()
    if (res.statusCode !== 200) throw new Error(`JWKS answered ${res.statusCode}`)
    const set = JSON.parse(text) as { keys?: unknown }
    if (!Array.isArray(set.keys)) throw new Error('JWKS has no keys array')
    const next = new Map<string, string>()
    for (const jwk of set.keys as JsonWebKey[]) {
      if (next.size >= maxKeys) break
      const pem = usableKey(jwk)
      if (pem !== null) next.set(jwk.kid as string, pem)
    }
    keys = next
    fetchedAt = Date.now()
  }

  function usableKey (jwk: JsonWebKey): string | null {
    if (jwk === null || typeof jwk !== 'object' || typeof jwk.kid !== 'string' || !KID.test(jwk.kid)) return null
    if (jwk.use !== undefined && jwk.use !== 'sig') return null
    if (jwk.alg !== undefined && !algorithms.includes(jwk.alg as string)) return null
    const fits = algorithms.some(alg => KTY_FOR[alg.slice(0, 2)] === jwk.kty && (CRV_FOR[alg] === undefined || CRV_FOR[alg] === jwk.crv))
    if (!fits || jwk.d !== undefined) return null
    try {
      return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
    } catch {
      return null
    }
  }

  async function getKey (kid: unknown): Promise<string> {
    if (typeof kid !== 'string' || !KID.test(kid)) throw new UnknownKeyError('bad kid')
    const now = Date.now()
    const expired = now - fetchedAt > ttlMs
    const unknown = !keys.has(kid) && now - lastAttempt > cooldownMs
    if (expired || unknown) {
      try {
        await refresh()
      } catch (err) {
        if (Date.now() - fetchedAt > maxStaleMs) throw new AuthUnavailableError({ cause: err })
      }
    }
    const pem = keys.get(kid)
    if (pem === undefined) throw new UnknownKeyError('unknown kid')
    return pem
  }

  return {
    getKey,
    get fetches () { return fetches },
    get size () { return keys.size },
    close: () => owned ? dispatcher.close() : Promise.resolve()
  }
}

export type JwksKeySource = ReturnType<typeof createJwksKeySource>
