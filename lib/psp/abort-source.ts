import { EventEmitter } from 'node:events'
import type { PspAbortSignal } from '../../types/index.ts'

/**
 * What the route hands undici to abort a built-in adapter's PSP call: an EventEmitter with
 * `aborted` and `reason`, which undici's `signal` option takes as it takes an AbortSignal. On
 * Node 20 an AbortSignal costs several microseconds to make and to listen to (`npm run
 * bench:steps`), so the route makes one only for code that reads `signal`: a resolver or a
 * custom adapter.
 */
export class AbortSource extends EventEmitter {
  aborted = false
  reason: unknown = undefined

  abort (reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.emit('abort')
  }
}

/** Where a ForwardInput made by the route carries its AbortSource (the built-in adapters read it). */
export const ABORT_SOURCE = Symbol('rokt-card-forwarding.abortSource')

/** The cheapest abort handle of a forward for undici: the route's AbortSource, else the input's signal (an adapter called directly). */
export function abortHandleOf (input: { signal?: AbortSignal }): PspAbortSignal | undefined {
  return (input as { [ABORT_SOURCE]?: AbortSource })[ABORT_SOURCE] ?? input.signal
}
