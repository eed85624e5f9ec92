import { createPublicKey, type JsonWebKeyInput } from 'node:crypto'
import { Agent, request } from 'undici'
import { AuthUnavailableError } from '../errors.ts'
import { keyWeakness } from './key-strength.ts'

export interface JwksOptions {
  url: string
  algorithms: readonly string[]
  /** Hard budget for one fetch, ms. Default 2500. */
  timeoutMs?: number
  /** How long a fetched key set is fresh, ms. Default 10 minutes. */
  ttlMs?: number
  /** Least time between two fetches caused by unknown kids, and after a failed fetch, ms. Default 30 s. */
  cooldownMs?: number
  /** Keys kept from one JWKS, at most. Default 20. */
  maxKeys?: number
  /** When refreshes fail, keys older than this are no longer used, ms. Default 2 × ttl. */
  maxStaleMs?: number
}

/** One fetch's budget unless `timeoutMs` says otherwise (the plugin's `auth.jwksTimeoutMs`). */
export const DEFAULT_JWKS_TIMEOUT_MS = 2500

export class UnknownKeyError extends Error {
  code = 'JWKS_NO_USABLE_KEY'
}

interface UsableKey { pem: string, algorithms: string[] }

/** A JWKS entry before it is checked: anything. (Not node:crypto's JsonWebKey: recent @types/node no longer export it.) */
interface JwkCandidate { kid?: unknown, use?: unknown, key_ops?: unknown, d?: unknown, kty?: unknown, crv?: unknown, alg?: unknown }

const KTY_FOR: Record<string, string> = { RS: 'RSA', PS: 'RSA', ES: 'EC', Ed: 'OKP' }
const CRV_FOR: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521', EdDSA: 'Ed25519' }
/** A kid is only a lookup key (RFC 7515 §4.1.4): any printable text, bounded. Cognito's are standard base64 (`+`, `/`, `=`). */
const KID = /^[^\p{C}]{1,256}$/u
/** A JWKS is a few keys; anything larger is refused rather than buffered. */
const MAX_JWKS_BYTES = 65_536

/**
 * A key source pinned to one JWKS URL: never a URL from the token. Fresh keys for ttl; an unknown
 * kid refreshes at most once per cooldown, and so does a failed fetch; a failed refresh keeps the
 * old keys up to maxStale, and with no usable key the caller gets AuthUnavailableError (503)
 * within the fetch timeout, never a hang.
 */
export function createJwksKeySource (options: JwksOptions) {
  const { url, algorithms, timeoutMs = DEFAULT_JWKS_TIMEOUT_MS, ttlMs = 600_000, cooldownMs = 30_000, maxKeys = 20 } = options
  const maxStaleMs = options.maxStaleMs ?? 2 * ttlMs
  const dispatcher = new Agent({ connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  let keys = new Map<string, UsableKey>()
  let fetchedAt = -Infinity
  let lastAttempt = -Infinity
  let lastFailure = -Infinity
  let lastError: unknown
  let inflight: Promise<void> | null = null
  let fetches = 0

  function refresh (): Promise<void> {
    inflight ??= load().catch(err => {
      lastFailure = Date.now()
      lastError = err
      throw err
    }).finally(() => { inflight = null })
    return inflight
  }

  async function load (): Promise<void> {
    lastAttempt = Date.now()
    fetches++
    const res = await request(url, { method: 'GET', dispatcher, signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } })
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body) {
      size += chunk.length
      if (size > MAX_JWKS_BYTES) {
        res.body.destroy()
        throw new Error('JWKS too large')
      }
      chunks.push(chunk)
    }
    if (res.statusCode !== 200) throw new Error(`JWKS answered ${res.statusCode}`)
    const set = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { keys?: unknown } | null
    if (!Array.isArray(set?.keys)) throw new Error('JWKS has no keys array')
    const next = new Map<string, UsableKey>()
    for (const jwk of set.keys as JwkCandidate[]) {
      if (next.size >= maxKeys) break
      const key = usableKey(jwk)
      if (key !== null) next.set(jwk.kid as string, key)
    }
    keys = next
    fetchedAt = Date.now()
  }

  /** RFC 7517: a signing key (use/key_ops), of a type and curve our pinned algorithms allow, and strong enough (lib/edge/key-strength.ts). */
  function usableKey (jwk: JwkCandidate): UsableKey | null {
    if (jwk === null || typeof jwk !== 'object' || typeof jwk.kid !== 'string' || !KID.test(jwk.kid)) return null
    if (jwk.use !== undefined && jwk.use !== 'sig') return null
    if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return null
    if (jwk.d !== undefined) return null
    const fitting = algorithms.filter(alg => KTY_FOR[alg.slice(0, 2)] === jwk.kty && (CRV_FOR[alg] === undefined || CRV_FOR[alg] === jwk.crv))
    const usable = jwk.alg === undefined ? fitting : fitting.filter(alg => alg === jwk.alg)
    if (usable.length === 0) return null
    try {
      const key = createPublicKey({ key: jwk as JsonWebKeyInput['key'], format: 'jwk' })
      return keyWeakness(key) === null ? { pem: key.export({ type: 'spki', format: 'pem' }).toString(), algorithms: usable } : null
    } catch {
      return null
    }
  }

  /**
   * The PEM for this kid, used only with an algorithm the key allows (none given: no key). The
   * 503 carries the last fetch error as its cause, for diagnostics (never sent to a caller).
   */
  async function getKey (kid: unknown, alg?: unknown): Promise<string> {
    if (typeof kid !== 'string' || !KID.test(kid)) throw new UnknownKeyError('bad kid')
    const now = Date.now()
    const stale = now - fetchedAt > ttlMs
    const unknown = !keys.has(kid) && now - lastAttempt >= cooldownMs
    if ((stale || unknown) && now - lastFailure >= cooldownMs) {
      try {
        await refresh()
      } catch {}
    }
    if (Date.now() - fetchedAt > maxStaleMs) throw new AuthUnavailableError({ cause: lastError })
    const key = keys.get(kid)
    if (key === undefined || !key.algorithms.includes(alg as string)) throw new UnknownKeyError('unknown kid')
    return key.pem
  }

  return {
    getKey,
    /** Seconds a caller should wait before a fetch may be tried again. */
    retryAfterSeconds: Math.max(1, Math.ceil(cooldownMs / 1000)),
    get fetches () { return fetches },
    get size () { return keys.size },
    close: () => dispatcher.close()
  }
}
