import { PspTimeoutError, tagFailure, VaultTimeoutError, type Failure } from '../errors.ts'
import { AbortSource } from '../psp/abort-source.ts'

/**
 * The overall deadline of one forward: the resolver and the PSP call (retries included) together,
 * shorter than the idempotency lease, so no forward outlives its lock. The signal aborts undici's
 * request at the deadline; `run` answers at the deadline even when partner code ignores it.
 */
export interface Deadline {
  /**
   * Aborted at the deadline, or by `abort` (shutdown): what the built-in adapters give undici; its
   * `signal` is the same abort as an AbortSignal, made on first read (a resolver, a custom adapter).
   */
  readonly source: AbortSource
  /** True once the deadline has passed (not when `abort` stopped the forward). */
  readonly expired: boolean
  /**
   * Starts `work` (unless the deadline has passed) and settles like it, or rejects with `late()`
   * shortly after the deadline if it has not settled by itself (it is abandoned, not stopped).
   */
  run: <T>(work: () => Promise<T>, late: () => Error) => Promise<T>
  /** Aborts the forward's signal before the deadline (the app is closing), with this reason. */
  abort: (reason: unknown) => void
  /** The forward is over: stop the timer. */
  clear: () => void
}

/** How long work that was aborted may take to fail by itself (with what it knows) before it is cut off. */
const SETTLE_MS = 100

export function startDeadline (ms: number): Deadline {
  // One abort source per forward, which shutdown aborts too (no AbortSignal.any per request), and a
  // timer of our own rather than AbortSignal.timeout: it is cleared when the forward ends, so no
  // timer outlives its request by the whole deadline. `expired` is a plain property, not a getter:
  // see SIGNAL in lib/psp/abort-source.ts.
  const source = new AbortSource()
  /** The running stage's cut-off, started when the deadline passes. */
  let cut: (() => void) | null = null
  const timer = setTimeout(() => {
    deadline.expired = true
    cut?.()
    source.abort(new DOMException('The forward deadline passed', 'TimeoutError'))
  }, ms)
  const deadline: { -readonly [K in keyof Deadline]: Deadline[K] } = {
    source,
    expired: false,
    abort: reason => source.abort(reason),
    clear: () => clearTimeout(timer),
    run (work, late) {
      // Never reached by the route (the deadline starts just before the resolver, and nothing is
      // awaited between it and the PSP call); it keeps a run that starts too late from hanging.
      if (source.aborted) return Promise.reject(source.reason)
      // One promise settled by whichever comes first, the work or the cut-off (not an async
      // function racing two more: two stages per forward).
      return new Promise((resolve, reject) => {
        let settle: NodeJS.Timeout | undefined
        const stageCut = () => { settle = setTimeout(() => reject(late()), SETTLE_MS) }
        const end = () => {
          if (cut === stageCut) cut = null
          clearTimeout(settle)
        }
        cut = stageCut
        try {
          // A value or a thenable is taken as a promise would be; a throw rejects, like a rejection.
          Promise.resolve(work()).then(value => { end(); resolve(value) }, (err: unknown) => { end(); reject(err) })
        } catch (err) {
          end()
          reject(err)
        }
      })
    }
  }
  return deadline
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
