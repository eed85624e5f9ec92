import { PspTimeoutError, tagFailure, VaultTimeoutError, type Failure } from '../errors.ts'

/**
 * The overall deadline of one forward: the resolver and the PSP call (retries included) together,
 * shorter than the idempotency lease, so no forward outlives its lock. The signal aborts undici's
 * request at the deadline; `run` answers at the deadline even when partner code ignores it.
 */
export interface Deadline {
  signal: AbortSignal
  /**
   * Starts `work` (unless the deadline has passed) and settles like it, or rejects with `late()`
   * shortly after the deadline if it has not settled by itself (it is abandoned, not stopped).
   */
  run: <T>(work: () => Promise<T>, late: () => Error) => Promise<T>
  /** The forward is over: stop the timer. */
  clear: () => void
}

/** How long work that was aborted may take to fail by itself (with what it knows) before it is cut off. */
const SETTLE_MS = 100

export function startDeadline (ms: number): Deadline {
  // A timer of our own rather than AbortSignal.timeout: it is cleared when the forward ends, so no
  // timer outlives its request by the whole deadline.
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DOMException('The forward deadline passed', 'TimeoutError')), ms)
  const signal = controller.signal
  return {
    signal,
    clear: () => clearTimeout(timer),
    async run (work, late) {
      // Never reached by the route (the deadline starts just before the resolver, and nothing is
      // awaited between it and the PSP call); it keeps a run that starts too late from hanging.
      signal.throwIfAborted()
      let timer: NodeJS.Timeout | undefined
      let onAbort!: () => void
      const cut = new Promise<never>((_resolve, reject) => {
        onAbort = () => { timer = setTimeout(() => reject(late()), SETTLE_MS) }
        signal.addEventListener('abort', onAbort, { once: true })
      })
      try {
        // The race also handles a late rejection of the abandoned work.
        return await Promise.race([work(), cut])
      } finally {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
      }
    }
  }
}

/** The resolver did not answer by the deadline: nothing was sent to a PSP, so a plain failure. */
export function vaultTimeout (): Failure<InstanceType<typeof VaultTimeoutError>> {
  return tagFailure(new VaultTimeoutError(), { reason: 'resolver_timeout', outcome: 'not_sent' })
}

/**
 * The PSP call was cut off by the deadline: 504, and the outcome is unknown (the PSP may have
 * forwarded) unless the attempt had not sent its request (a connect retry's pause, say).
 */
export function pspDeadline (psp: string, cause?: unknown): Failure<InstanceType<typeof PspTimeoutError>> {
  const outcome = (cause as Failure | undefined)?.outcome === 'not_sent' ? 'not_sent' : 'unknown'
  return tagFailure(new PspTimeoutError(psp, { cause }), { reason: 'deadline', outcome })
}
