import type { IdempotencyStore, PaymentSharingRequest, StoredResponse } from '../../types/index.ts'
import { IdempotencyKeyReusedError, InvalidIdempotencyKeyError, RequestInProgressError } from '../errors.ts'
import { digestOf } from '../hash.ts'

/** Printable ASCII without spaces (a duplicated header arrives joined by ", " and is refused). */
const KEY = /^[\x21-\x7E]{1,255}$/
/** The IETF draft sends the key as a structured-field string: one pair of double quotes around it. */
const QUOTED = /^"([^"\\]*)"$/
/** Longer than any forward can take (timeouts and retries included): a crashed holder's lock lapses after it. */
export const LEASE_MS = 120_000

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
  return digestOf(['rokt-card-forwarding/1', actor, key, body.destination, body.partnerPaymentReference], 'base64url')
}

function fingerprint (body: PaymentSharingRequest): string {
  const ids = body.customerIdentifiers
  return digestOf([body.partnerPaymentReference, body.destination, ids?.email ?? '\0', ids?.customerId ?? '\0'], 'hex')
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

/**
 * draft-ietf-httpapi-idempotency-key-header over a store: replay, 422 on a changed body, 409 while
 * in flight (README, "Idempotency").
 */
export function createIdempotency ({ store, ttlMs }: { store: IdempotencyStore, ttlMs: number }) {
  /** Claims the key (when sent) and then the reference; throws 409 or 422, or gives the response to replay. */
  async function enter (actor: string, key: string | undefined, body: PaymentSharingRequest): Promise<IdempotencyEntry> {
    let keyId: string | undefined
    if (key !== undefined) {
      keyId = 'key:' + digestOf([actor, key], 'hex')
      const print = fingerprint(body)
      const claim = await store.begin(keyId, print, LEASE_MS)
      if (claim.state !== 'claimed') {
        if (claim.fingerprint !== print) throw new IdempotencyKeyReusedError()
        if (claim.state === 'in_flight') throw new RequestInProgressError()
        return { replay: claim.response }
      }
    }
    const lockId = 'ref:' + digestOf([body.partnerPaymentReference], 'hex')
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
