import type { IdempotencyStore } from '../../types/index.ts'
import { isInProcessStore, memoryIdempotencyStore } from '../stores/memory.ts'

/** Longer than any forward may take: a crashed holder's lock lapses after it. */
export const LEASE_MS = 120_000
/** Left between the forward's deadline and the lease, for the store calls around the forward. */
const STORE_MARGIN_MS = 10_000

export interface IdempotencySettings {
  store: IdempotencyStore
  /** The store is this package's in-memory one: its calls need no time limit. */
  inProcess: boolean
  ttlMs: number
  leaseMs: number
  /** The overall deadline of one forward (resolver and PSP call together), well within the lease. */
  forwardTimeoutMs: number
}

export function resolveIdempotency (
  store: IdempotencyStore = memoryIdempotencyStore(),
  ttlMs = 24 * 60 * 60 * 1000,
  forwardTimeoutMs = 60_000
): IdempotencySettings {
  for (const name of ['begin', 'complete', 'release'] as const) {
    if (typeof store?.[name] !== 'function') throw new Error(`idempotencyStore: needs begin, complete and release functions (${name} is missing)`)
  }
  if (!Number.isInteger(ttlMs) || ttlMs < 1000) throw new Error('idempotencyTtlMs: must be an integer of at least 1000 (ms)')
  const max = LEASE_MS - STORE_MARGIN_MS
  if (!Number.isInteger(forwardTimeoutMs) || forwardTimeoutMs < 1000 || forwardTimeoutMs > max) {
    throw new Error(`forwardTimeoutMs: must be an integer from 1000 to ${max} (ms), so that a forward always ends within its ${LEASE_MS} ms idempotency lease`)
  }
  return { store, inProcess: isInProcessStore(store), ttlMs, leaseMs: LEASE_MS, forwardTimeoutMs }
}
