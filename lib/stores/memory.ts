import type { IdempotencyStore, MemoryIdempotencyStoreOptions, StoredResponse } from '../../types/index.ts'

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
