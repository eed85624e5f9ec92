import type { IdempotencyStore } from '../../types/index.ts'
import { memoryIdempotencyStore } from '../stores/memory.ts'

/** Longer than any forward may take: a crashed holder's lock lapses after it. */
export const LEASE_MS = 120_000

export interface IdempotencySettings {
  store: IdempotencyStore
  ttlMs: number
  leaseMs: number
}

export function resolveIdempotency (
  store: IdempotencyStore = memoryIdempotencyStore(),
  ttlMs = 24 * 60 * 60 * 1000
): IdempotencySettings {
  for (const name of ['begin', 'complete', 'release'] as const) {
    if (typeof store?.[name] !== 'function') throw new Error(`idempotencyStore: needs begin, complete and release functions (${name} is missing)`)
  }
  if (!Number.isInteger(ttlMs) || ttlMs < 1000) throw new Error('idempotencyTtlMs: must be an integer of at least 1000 (ms)')
  return { store, ttlMs, leaseMs: LEASE_MS }
}
