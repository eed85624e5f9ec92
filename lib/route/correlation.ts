import { randomUUID } from 'node:crypto'
import { digestOf } from '../hash.ts'

/**
 * The id a forward carries to its PSP and into the audit log: `rcf_` and 32 hex digits. With an
 * Idempotency-Key it is derived from the PSP idempotency key (itself a digest of the caller, the
 * key, the destination and the reference), so Rokt's retries of one request share it and
 * `reconcile` finds every attempt; without one it is random (a version-4 UUID's hex digits: randomUUID draws from a cached pool of entropy). Either way it holds no customer data
 * and reveals nothing about the reference.
 */
export function correlationIdOf (pspKey: string | undefined): string {
  const id = pspKey === undefined ? randomUUID().replaceAll('-', '') : digestOf(['rokt-card-forwarding/correlation/1', pspKey], 'hex').slice(0, 32)
  return `rcf_${id}`
}
