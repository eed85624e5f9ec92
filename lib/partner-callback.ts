import type { FastifyBaseLogger } from 'fastify'
import { errorForLog } from './logging.ts'

/** Deliveries a callback may have outstanding (promises not yet settled); past this, events are dropped. */
export const MAX_PENDING_DELIVERIES = 1000
/** At most one log line per callback and kind of trouble in this time; the rest are counted into the next one. */
const LOG_INTERVAL_MS = 10_000

/** Hands one event to a partner's callback; never throws, never waits. */
export type Deliver<T> = (event: T, log: FastifyBaseLogger) => void

/**
 * A partner's callback (onAudit, onForward) made harmless to the route: a synchronous throw, a
 * rejected promise and a thenable that throws are logged, never thrown, and never awaited. A
 * callback that hangs or falls behind holds at most MAX_PENDING_DELIVERIES events; later events
 * are dropped, counted and logged, until earlier deliveries settle. Both logs are rate-limited,
 * so a failing sink under a flood cannot flood the log in turn.
 */
export function createDelivery<T> (name: string, callback: ((event: T) => unknown) | undefined): Deliver<T> {
  if (callback === undefined) return () => {}
  let pending = 0
  let dropped = 0
  const logFailure = rateLimited()
  const logDrop = rateLimited()

  function failed (err: unknown, log: FastifyBaseLogger): void {
    logFailure(suppressed => log.error({ callback: name, error: errorForLog(err), suppressed }, `card-forwarding: ${name} callback failed`))
  }

  return function deliver (event, log) {
    if (pending >= MAX_PENDING_DELIVERIES) {
      dropped++
      logDrop(() => log.warn({ callback: name, dropped, pending }, `card-forwarding: ${name} is not keeping up, events dropped (they are still in the log)`))
      return
    }
    let settled: Promise<unknown>
    try {
      const result = callback(event)
      if (result === null || typeof result !== 'object' || typeof (result as { then?: unknown }).then !== 'function') return
      settled = Promise.resolve(result)
    } catch (err) {
      failed(err, log)
      return
    }
    pending++
    settled.then(() => { pending-- }, err => {
      pending--
      failed(err, log)
    })
  }
}

/** Runs `write` at most once per LOG_INTERVAL_MS, telling it how many calls it skipped since. */
function rateLimited (): (write: (suppressed: number) => void) => void {
  let last = -Infinity
  let suppressed = 0
  return write => {
    const now = Date.now()
    if (now - last < LOG_INTERVAL_MS) {
      suppressed++
      return
    }
    last = now
    write(suppressed)
    suppressed = 0
  }
}
