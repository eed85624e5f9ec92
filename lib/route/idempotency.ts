import { createHash } from 'node:crypto'
import type { IdempotencyStore, PaymentSharingRequest, StoredResponse } from '../../types/index.ts'
import { IdempotencyKeyReusedError, InvalidIdempotencyKeyError, RequestInProgressError } from '../errors.ts'

/** Printable ASCII without spaces (a duplicated header arrives joined by ", " and is refused). */
const KEY = /^[\x21-\x7E]{1,255}$/
/** The IETF draft sends the key as a structured-field string: one pair of double quotes around it. */
const QUOTED = /^"([^"\\]*)"$/
/** Longer than any forward can take (timeouts and retries included): a crashed holder's lock lapses after it. */
export const LEASE_MS = 120_000

function digest (parts: string[], encoding: 'hex' | 'base64url'): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(`${part.length}:${part}`)
  return hash.digest(encoding)
}

/** The Idempotency-Key header, validated: undefined when absent, else 400. */
export function readIdempotencyKey (header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined
  const value = typeof header === 'string' ? (QUOTED.exec(header)?.[1] ?? header) : ''
  if (!KEY.test(value)) throw new InvalidIdempotencyKeyError()
  return value
}

/**
 * The key the PSP call carries: 43 base64url characters, within every PSP's limit (Adyen's 64).
 * Scoped to the caller, the destination and the reference, so one Rokt key never maps onto
 * another order's PSP key.
 */
export function pspIdempotencyKey (actor: string, key: string, body: PaymentSharingRequest): string {
  return digest(['rokt-card-forwarding/1', actor, key, body.destination, body.partnerPaymentReference], 'base64url')
}

function fingerprint (body: PaymentSharingRequest): string {
  const ids = body.customerIdentifiers
  return digest([body.partnerPaymentReference, body.destination, ids?.email ?? '\0', ids?.customerId ?? '\0'], 'hex')
}

export interface MemoryIdempotencyStoreOptions {
  /** Most records kept; the oldest completed ones make room (in-flight ones are never dropped). Default 10000. */
  maxEntries?: number
}

interface MemoryRecord {
  fingerprint: string
  expires: number
  response?: StoredResponse
}

/** The default store: one process, bounded, with expiry. */
export function memoryIdempotencyStore (options: MemoryIdempotencyStoreOptions = {}): IdempotencyStore {
  const maxEntries = options.maxEntries ?? 10_000
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error('memoryIdempotencyStore: maxEntries must be a positive integer')
  const records = new Map<string, MemoryRecord>()

  function makeRoom (now: number): void {
    for (const [key, record] of records) {
      if (records.size < maxEntries) return
      if (record.expires <= now || record.response !== undefined) records.delete(key)
    }
  }

  return {
    async begin (key, fingerprint, leaseMs) {
      const now = Date.now()
      const record = records.get(key)
      if (record !== undefined && record.expires > now) {
        return record.response === undefined
          ? { state: 'in_flight', fingerprint: record.fingerprint }
          : { state: 'completed', fingerprint: record.fingerprint, response: record.response }
      }
      records.delete(key)
      makeRoom(now)
      records.set(key, { fingerprint, expires: now + leaseMs })
      return { state: 'claimed' }
    },
    async complete (key, response, ttlMs) {
      const record = records.get(key)
      if (record === undefined) return
      // Re-inserted so the Map's order stays the order of expiry.
      records.delete(key)
      records.set(key, { fingerprint: record.fingerprint, expires: Date.now() + ttlMs, response })
    },
    async release (key) {
      records.delete(key)
    }
  }
}

export type IdempotencyEntry =
  | { replay: StoredResponse }
  | {
    replay?: undefined
    /** Present only when the caller sent an Idempotency-Key. */
    pspKey: string | undefined
    /** Keep the response for retries with the same key. */
    succeed: (response: StoredResponse) => Promise<void>
    /** Free the reference lock (and the key, unless it succeeded). */
    leave: () => Promise<void>
  }

export interface IdempotencyOptions {
  store?: IdempotencyStore
  ttlMs?: number
}

/** DESIGN §6 with draft-ietf-httpapi-idempotency-key-header: replay, 422 on a changed body, 409 while in flight. */
export function createIdempotency (options: IdempotencyOptions) {
  const store = options.store ?? memoryIdempotencyStore()
  const ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000
  for (const name of ['begin', 'complete', 'release'] as const) {
    if (typeof store?.[name] !== 'function') throw new Error(`idempotencyStore: needs begin, complete and release functions (${name} is missing)`)
  }
  if (!Number.isInteger(ttlMs) || ttlMs < 1000) throw new Error('idempotencyTtlMs: must be an integer of at least 1000 (ms)')

  /** Claims the key (when sent) and then the reference; throws 409 or 422, or gives the response to replay. */
  async function enter (actor: string, key: string | undefined, body: PaymentSharingRequest): Promise<IdempotencyEntry> {
    let keyId: string | undefined
    if (key !== undefined) {
      keyId = 'key:' + digest([actor, key], 'hex')
      const print = fingerprint(body)
      const claim = await store.begin(keyId, print, LEASE_MS)
      if (claim.state !== 'claimed') {
        if (claim.fingerprint !== print) throw new IdempotencyKeyReusedError()
        if (claim.state === 'in_flight') throw new RequestInProgressError()
        return { replay: claim.response }
      }
    }
    const lockId = 'ref:' + digest([body.partnerPaymentReference], 'hex')
    const lock = await store.begin(lockId, '', LEASE_MS)
    if (lock.state !== 'claimed') {
      if (keyId !== undefined) await store.release(keyId)
      throw new RequestInProgressError()
    }
    let succeeded = false
    return {
      pspKey: key === undefined ? undefined : pspIdempotencyKey(actor, key, body),
      async succeed (response) {
        succeeded = true
        if (keyId !== undefined) await store.complete(keyId, response, ttlMs)
      },
      async leave () {
        await Promise.all([store.release(lockId), keyId !== undefined && !succeeded ? store.release(keyId) : undefined])
      }
    }
  }

  return { enter }
}
