import { randomFillSync } from 'node:crypto'
import { digestOf } from '../hash.ts'

/**
 * The id a forward carries to its PSP and into the audit log: `rcf_` and 32 hex digits. With an
 * Idempotency-Key it is derived from the PSP idempotency key (itself a digest of the caller, the
 * key, the destination and the reference), so Rokt's retries of one request share it and
 * `reconcile` finds every attempt; without one it is 16 random bytes. Either way it holds no
 * customer data and reveals nothing about the reference.
 */
export function correlationIdOf (pspKey: string | undefined): string {
  const id = pspKey === undefined ? randomHex() : digestOf(['rokt-card-forwarding/correlation/1', pspKey], 'hex').slice(0, 32)
  return `rcf_${id}`
}

/** Random bytes drawn 4 KiB at a time, as randomUUID draws its own, each 16 given out once. */
const pool = Buffer.alloc(4096)
let used = pool.length

/** 16 random bytes as hex, in one string (randomUUID's formatting concatenates twenty pieces). */
function randomHex (): string {
  if (used === pool.length) {
    randomFillSync(pool)
    used = 0
  }
  const hex = pool.toString('hex', used, used + 16)
  used += 16
  return hex
}
