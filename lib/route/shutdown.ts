import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { ShuttingDownError, tagFailure, type Failure, type PspOutcome } from '../errors.ts'

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
  const inFlight = new Map<AbortController, Promise<unknown>>()

  fastify.addHook('preClose', async () => {
    closing = true
    const settled = Promise.allSettled(inFlight.values())
    const grace = new AbortController()
    await Promise.race([settled, sleep(graceMs, undefined, { signal: grace.signal }).catch(() => {})])
    grace.abort()
    for (const controller of inFlight.keys()) controller.abort()
    await settled
  })

  /** onRequest: once closing, refuse before any other work (also when the host turned off return503OnClosing). */
  async function refuseWhenClosing (_request: unknown, reply: FastifyReply): Promise<void> {
    if (closing) {
      reply.header('connection', 'close')
      throw shuttingDown('not_sent')
    }
  }

  /** Runs a forward that shutdown may abort through `signal`. */
  async function track<T> (work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    // A request that passed onRequest before closing but reaches the PSP only now (a slow vault
    // lookup) starts nothing: the grace is for forwards already under way, which it would not wait for.
    if (closing) throw shuttingDown('not_sent')
    const controller = new AbortController()
    const done = work(controller.signal)
    inFlight.set(controller, done)
    try {
      return await done.finally(() => inFlight.delete(controller))
    } catch (err) {
      if (!controller.signal.aborted) throw err
      throw shuttingDown((err as Failure).outcome === 'not_sent' ? 'not_sent' : 'unknown', err)
    }
  }

  return { refuseWhenClosing, track }
}
