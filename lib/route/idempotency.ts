import type { FastifyBaseLogger } from 'fastify'
import type { IdempotencyClaim, PaymentSharingRequest, StoredResponse } from '../../types/index.ts'
import { IdempotencyKeyReusedError, InvalidIdempotencyKeyError, RequestInProgressError, storeUnavailable, type StoreOperation } from '../errors.ts'
import { digestOf } from '../hash.ts'
import type { IdempotencySettings } from '../options/idempotency.ts'

/** Printable ASCII without spaces (a duplicated header arrives joined by ", " and is refused). */
const KEY = /^[\x21-\x7E]{1,255}$/
/** The IETF draft sends the key as a structured-field string: one pair of double quotes around it. */
const QUOTED = /^"([^"\\]*)"$/

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
    /**
     * Keep the response for retries with the same key; absent when no key was sent. False when the
     * store no longer held the claim (its lease lapsed) or would not keep the response: retries
     * then find no replay.
     */
    succeed: ((response: StoredResponse) => Promise<boolean>) | undefined
    /** Free the reference lock (and the key, unless it succeeded). */
    leave: () => Promise<void>
  }

/** A store call that has not settled by then is treated as failed (a store should bound its own calls). */
const STORE_CALL_LIMIT_MS = 5000

/**
 * A call to the store, as the route trusts it: any rejection or a call past the limit becomes a
 * 503 naming the operation and a reason code, never the store's own error (it may carry values).
 * The in-process store settles at once: no limit, no timer.
 */
async function guard<T> (operation: StoreOperation, call: () => Promise<T>, limited: boolean): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let result: T
  try {
    // A store that throws instead of rejecting is treated alike.
    result = !limited
      ? await call()
      : await Promise.race([call(), new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(storeUnavailable(operation, undefined, 'call_limit')), STORE_CALL_LIMIT_MS)
      })])
  } catch (err) {
    throw storeUnavailable(operation, err)
  } finally {
    clearTimeout(timer)
  }
  return result
}

/** What `begin` answered, checked: anything else is the store answering garbage (503). */
function checkClaim (claim: IdempotencyClaim): IdempotencyClaim {
  const c = claim as any
  if (c?.state === 'claimed' && typeof c.owner === 'string' && c.owner !== '') return claim
  if (c?.state === 'in_flight' && typeof c.fingerprint === 'string') return claim
  const status = c?.response?.statusCode
  if (c?.state === 'completed' && typeof c.fingerprint === 'string' && Number.isInteger(status) && status >= 200 && status <= 599) return claim
  throw storeUnavailable('begin', undefined, 'bad_reply')
}

/**
 * draft-ietf-httpapi-idempotency-key-header over a store: replay, 422 on a changed body, 409 while
 * in flight (README, "Idempotency"). Claims are fenced by their owner tokens.
 */
export function createIdempotency ({ store, inProcess, ttlMs, leaseMs }: IdempotencySettings) {
  const limited = !inProcess
  const begin = (key: string, print: string) => guard('begin', () => store.begin(key, print, leaseMs), limited).then(checkClaim)
  const release = (key: string, owner: string) => guard('release', () => store.release(key, owner), limited)

  /** Claims the key (when sent) and then the reference; throws 409, 422 or 503, or gives the response to replay. */
  async function enter (actor: string, key: string | undefined, body: PaymentSharingRequest, log: FastifyBaseLogger): Promise<IdempotencyEntry> {
    let keyId: string | undefined
    let keyOwner = ''
    if (key !== undefined) {
      keyId = 'key:' + digestOf([actor, key], 'hex')
      const print = fingerprint(body)
      const claim = await begin(keyId, print)
      if (claim.state !== 'claimed') {
        if (claim.fingerprint !== print) throw new IdempotencyKeyReusedError()
        if (claim.state === 'in_flight') throw new RequestInProgressError()
        return { replay: claim.response }
      }
      keyOwner = claim.owner
    }
    const lockId = 'ref:' + digestOf([body.partnerPaymentReference], 'hex')
    let lock: IdempotencyClaim
    try {
      lock = await begin(lockId, '')
    } catch (err) {
      if (keyId !== undefined) await release(keyId, keyOwner).catch(() => {})
      throw err
    }
    if (lock.state !== 'claimed') {
      if (keyId !== undefined) await release(keyId, keyOwner).catch(err => log.error({ err }, 'card-forwarding: could not release the idempotency key'))
      throw new RequestInProgressError()
    }
    const lockOwner = lock.owner
    let succeeded = false
    return {
      pspKey: key === undefined ? undefined : pspIdempotencyKey(actor, key, body),
      succeed: keyId === undefined
        ? undefined
        : async response => {
          succeeded = true
          return await guard('complete', () => store.complete(keyId, keyOwner, response, ttlMs), limited)
        },
      async leave () {
        const unlocked = release(lockId, lockOwner)
        await (keyId === undefined || succeeded ? unlocked : Promise.all([unlocked, release(keyId, keyOwner)]))
      }
    }
  }

  return { enter }
}
