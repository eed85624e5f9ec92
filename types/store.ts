/** A response kept under an Idempotency-Key and replayed to identical retries. */
export interface StoredResponse {
  statusCode: number
  body: unknown
}

/** What `IdempotencyStore.begin` found under a key. */
export type IdempotencyClaim =
  | { state: 'claimed' }
  | { state: 'in_flight', fingerprint: string }
  | { state: 'completed', fingerprint: string, response: StoredResponse }

/**
 * Where Idempotency-Keys and in-flight locks live. The default is in memory, per process; back it
 * with a shared store (Redis, a database) when several instances serve Rokt. Keys are opaque
 * hashes of at most 80 characters; records hold no card data.
 */
export interface IdempotencyStore {
  /**
   * Atomically (SET NX): when `key` has no live record, create an in-flight record holding
   * `fingerprint` that expires after `leaseMs`, and answer `claimed`; otherwise answer what is there.
   */
  begin: (key: string, fingerprint: string, leaseMs: number) => Promise<IdempotencyClaim>
  /** Turn the in-flight record into a completed one holding `response`, kept for `ttlMs`. */
  complete: (key: string, response: StoredResponse, ttlMs: number) => Promise<void>
  /** Drop the record (the forward ended without a response worth replaying). */
  release: (key: string) => Promise<void>
}

export interface MemoryIdempotencyStoreOptions {
  /** Most records kept; the oldest completed ones make room (in-flight ones are never dropped). Default 10000. */
  maxEntries?: number
}
