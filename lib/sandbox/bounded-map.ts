/**
 * How many ids and idempotency keys a simulator remembers. The PSPs keep them far longer (Stripe's
 * idempotency keys for 24 hours, its ForwardingRequests for good): this bound is the sandbox's, so
 * that a long benchmark or soak run holds its memory flat.
 */
export const SIMULATOR_MEMORY = 10_000

/** A Map that keeps only its `max` most recently set entries, forgetting the oldest first. */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly #max: number

  constructor (max: number = SIMULATOR_MEMORY) {
    super()
    this.#max = max
  }

  override set (key: K, value: V): this {
    // Setting a key again makes it the most recent.
    super.delete(key)
    super.set(key, value)
    if (this.size > this.#max) super.delete(this.keys().next().value as K)
    return this
  }
}
