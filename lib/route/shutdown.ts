import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { ShuttingDownError, tagFailure, type Failure, type PspOutcome } from '../errors.ts'
import type { Deadline } from './deadline.ts'

/**
 * The reasons shutdown aborted forwards with: how `track` tells its own abort from the deadline's.
 * One new reason per forward, since undici rejects with the reason itself and an adapter may tag
 * what it catches: nothing one forward's failure carries can reach another's.
 */
const closingReasons = new WeakSet<object>()

function closingReason (): DOMException {
  const reason = new DOMException('The app is closing', 'AbortError')
  closingReasons.add(reason)
  return reason
}

function shuttingDown (outcome: PspOutcome, cause?: unknown): Failure {
  return tagFailure(new ShuttingDownError({ cause }), { reason: 'shutdown', outcome, retryAfter: 1 })
}

/**
 * Graceful shutdown for the route: from preClose on, new requests get 503; forwards in progress
 * have `graceMs` to finish (their answers are delivered: Fastify waits for them), then the rest
 * are aborted so the app can close. An aborted forward fails with outcome `unknown` (the PSP may
 * have acted), never a plain failure.
 */
export function registerShutdown (fastify: FastifyInstance, graceMs: number) {
  let closing = false
  const inFlight = new Map<Deadline, Promise<unknown>>()

  fastify.addHook('preClose', async () => {
    closing = true
    const settled = Promise.allSettled(inFlight.values())
    const grace = new AbortController()
    await Promise.race([settled, sleep(graceMs, undefined, { signal: grace.signal }).catch(() => {})])
    grace.abort()
    for (const deadline of inFlight.keys()) deadline.abort(closingReason())
    await settled
  })

  /** onRequest: once closing, refuse before any other work (also when the host turned off return503OnClosing). */
  async function refuseWhenClosing (_request: unknown, reply: FastifyReply): Promise<void> {
    if (closing) {
      reply.header('connection', 'close')
      throw shuttingDown('not_sent')
    }
  }

  /** Runs a forward that shutdown may abort through its deadline's signal. */
  async function track<T> (deadline: Deadline, work: () => Promise<T>): Promise<T> {
    // A request that passed onRequest before closing but reaches the PSP only now (a slow vault
    // lookup) starts nothing: the grace is for forwards already under way, which it would not wait for.
    if (closing) throw shuttingDown('not_sent')
    const done = work()
    inFlight.set(deadline, done)
    let result: T
    try {
      result = await done
    } catch (err) {
      inFlight.delete(deadline)
      if (!closingReasons.has(deadline.source.reason as object)) throw err
      throw shuttingDown((err as Failure).outcome === 'not_sent' ? 'not_sent' : 'unknown', err)
    }
    inFlight.delete(deadline)
    return result
  }

  return { refuseWhenClosing, track }
}
