import { randomUUID } from 'node:crypto'
import type { IdempotencyStore, MemoryIdempotencyStoreOptions } from '../../types/index.ts'

interface MemoryRecord {
  fingerprint: string
  owner: string
  expires: number
  /** The response as JSON, once completed: its size is known, and a replay can never alter it. */
  response?: string
  bytes: number
}

/** What a record costs besides its strings: the Map entry and the object, roughly. */
const RECORD_OVERHEAD = 160
const MIB = 1024 * 1024

/** The stores this module made: in-process code of ours, whose calls settle at once. */
const inProcessStores = new WeakSet<IdempotencyStore>()

/** True for a store memoryIdempotencyStore made (the route needs no time limit on its calls). */
export function isInProcessStore (store: IdempotencyStore): boolean {
  return inProcessStores.has(store)
}

/**
 * The default store: one process, bounded in entries and in bytes, with expiry, fenced like the
 * Redis store (a lapsed owner's record is gone for it, whether or not it was reused).
 */
export function memoryIdempotencyStore (options: MemoryIdempotencyStoreOptions = {}): IdempotencyStore {
  const maxEntries = options.maxEntries ?? 10_000
  const maxBytes = options.maxBytes ?? 64 * MIB
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error('memoryIdempotencyStore: maxEntries must be a positive integer')
  if (!Number.isSafeInteger(maxBytes) || maxBytes < MIB) throw new Error('memoryIdempotencyStore: maxBytes must be an integer of at least 1048576 (1 MiB)')
  const records = new Map<string, MemoryRecord>()
  let bytes = 0

  function put (key: string, record: MemoryRecord): void {
    drop(key)
    records.set(key, record)
    bytes += record.bytes
  }

  function drop (key: string): void {
    const record = records.get(key)
    if (record === undefined) return
    records.delete(key)
    bytes -= record.bytes
  }

  /** The live record under key that `owner` holds, else undefined. */
  function held (key: string, owner: string, now: number): MemoryRecord | undefined {
    const record = records.get(key)
    return record !== undefined && record.owner === owner && record.expires > now ? record : undefined
  }

  /** Drops expired and completed records, oldest first, until `extra` more bytes and one more record fit. */
  function makeRoom (now: number, extra: number): void {
    for (const [key, record] of records) {
      if (records.size < maxEntries && bytes + extra <= maxBytes) return
      if (record.expires <= now || record.response !== undefined) drop(key)
    }
  }

  const store: IdempotencyStore = {
    async begin (key, fingerprint, leaseMs) {
      const now = Date.now()
      const record = records.get(key)
      if (record !== undefined && record.expires > now) {
        return record.response === undefined
          ? { state: 'in_flight', fingerprint: record.fingerprint }
          : { state: 'completed', fingerprint: record.fingerprint, response: JSON.parse(record.response) }
      }
      drop(key)
      // randomUUID draws from a cached pool of entropy: no system call per claim.
      const owner = randomUUID()
      const size = RECORD_OVERHEAD + key.length + fingerprint.length + owner.length
      makeRoom(now, size)
      put(key, { fingerprint, owner, expires: now + leaseMs, bytes: size })
      return { state: 'claimed', owner }
    },
    async complete (key, owner, response, ttlMs) {
      const now = Date.now()
      const record = held(key, owner, now)
      if (record === undefined) return false
      const json = JSON.stringify({ statusCode: response.statusCode, body: response.body })
      const size = RECORD_OVERHEAD + key.length + record.fingerprint.length + owner.length + Buffer.byteLength(json)
      // Kept in flight, as a store that is full would leave it: retries get 409 until the lease lapses.
      if (size > maxBytes) return false
      drop(key)
      makeRoom(now, size)
      // Re-inserted last, so the Map's order stays the order of expiry.
      put(key, { fingerprint: record.fingerprint, owner, expires: now + ttlMs, response: json, bytes: size })
      return true
    },
    async release (key, owner) {
      const record = held(key, owner, Date.now())
      if (record === undefined || record.response !== undefined) return false
      drop(key)
      return true
    }
  }
  // Frozen: the route skips its time limit for this object, so its methods cannot be swapped for others.
  Object.freeze(store)
  inProcessStores.add(store)
  return store
}
