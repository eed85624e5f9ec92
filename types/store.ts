/** A response kept under an Idempotency-Key and replayed to identical retries. */
export interface StoredResponse {
  statusCode: number
  body: unknown
}

/**
 * What `IdempotencyStore.begin` found under a key. `claimed` carries the owner token of the new
 * claim: only that token can complete or release it.
 */
export type IdempotencyClaim =
  | { state: 'claimed', owner: string }
  | { state: 'in_flight', fingerprint: string }
  | { state: 'completed', fingerprint: string, response: StoredResponse }

/**
 * Where Idempotency-Keys and in-flight locks live. The default is in memory, per process; several
 * instances share `redisIdempotencyStore` (`fastify-rokt-card-forwarding/redis`) or a store of
 * your own. Keys are opaque hashes of at most 80 characters; records hold no card data.
 *
 * Claims are fenced: `begin` hands out an owner token, and `complete` and `release` act only while
 * the record still belongs to that token. A holder whose lease lapsed (a stalled instance) can then
 * never release or overwrite the claim of the request that came after it.
 *
 * Any rejection, or a call that has not settled after 5 s, is answered 503
 * `CARD_FORWARDING_STORE_UNAVAILABLE` and forwards nothing; only the error's class name or code is
 * logged, never its message.
 */
export interface IdempotencyStore {
  /**
   * Atomically: when `key` has no live record, create an in-flight record holding `fingerprint` and
   * a new unguessable owner token, expiring after `leaseMs`, and answer `claimed` with that token;
   * otherwise answer what is there (without its owner).
   */
  begin: (key: string, fingerprint: string, leaseMs: number) => Promise<IdempotencyClaim>
  /**
   * Only while the live record under `key` belongs to `owner`: make it a completed record holding
   * `response`, kept for `ttlMs`. Answers whether it did (false: the lease lapsed, or the record
   * is someone else's now). Completing twice with the same owner is harmless.
   */
  complete: (key: string, owner: string, response: StoredResponse, ttlMs: number) => Promise<boolean>
  /**
   * Only while the live record under `key` belongs to `owner` and is still in flight: delete it.
   * Answers whether it did. A completed record is never released.
   */
  release: (key: string, owner: string) => Promise<boolean>
}

export interface MemoryIdempotencyStoreOptions {
  /** Most records kept; the oldest completed ones make room (in-flight ones are never dropped). Default 10000. */
  maxEntries?: number
  /**
   * Most bytes the records hold (their keys, fingerprints and responses as JSON); the oldest
   * completed ones make room. At least 1 MiB. Default 64 MiB.
   */
  maxBytes?: number
}

/**
 * The two commands `redisIdempotencyStore` sends. An ioredis `Redis` or `Cluster` fits as it is;
 * for node-redis, pass `{ evalsha: (...a) => client.sendCommand(['EVALSHA', ...a.map(String)]),
 * eval: (...a) => client.sendCommand(['EVAL', ...a.map(String)]) }`.
 */
export interface RedisScriptClient {
  evalsha: (sha: string, numKeys: number, ...args: string[]) => Promise<unknown>
  eval: (script: string, numKeys: number, ...args: string[]) => Promise<unknown>
}

export interface RedisIdempotencyStoreOptions {
  /** A connected client the store does not own: it is never closed or reconfigured. */
  client: RedisScriptClient
  /** Put before every key. Default 'rokt-card-forwarding:idem:'. */
  prefix?: string
  /** Each call fails (503) after this long, ms: from 1 to 5000. Default 1000. */
  timeoutMs?: number
}
