import { EventEmitter } from 'node:events'
import type { PspAbortSignal } from '../../types/index.ts'

/**
 * What aborts one forward: an EventEmitter with `aborted` and `reason`, which undici's `signal`
 * option takes as it takes an AbortSignal. On Node 20 an AbortSignal costs several microseconds
 * to make and to listen to (`npm run bench:steps`), so the AbortSignal (`signal`) is made only
 * for code that reads it: a resolver, a custom adapter, a partner's dispatcher, a retry's pause.
 */
export class AbortSource extends EventEmitter {
  aborted = false
  reason: unknown = undefined
  #controller: AbortController | undefined

  /** The same abort as an AbortSignal, made on first read (already aborted, with the same reason, if the source is). */
  get signal (): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.aborted) this.#controller.abort(this.reason)
    }
    return this.#controller.signal
  }

  abort (reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    // The AbortSignal first: an EventTarget reports a listener's throw apart and goes on; emit would not.
    this.#controller?.abort(reason)
    this.emit('abort')
  }
}

/** The inputs the route made, each with its forward's source: a copy or a replaced `signal` is the caller's own. */
const sources = new WeakMap<object, AbortSource>()
/** The source the shared `signal` getter reads, as a data property (no closure): found through a Proxy, a prototype or a copy. */
const SOURCE = Symbol('rokt-card-forwarding.abortSource')

/**
 * `signal` as an own, enumerable accessor (a copy by spread still reads it), one getter and setter
 * for every object the route makes. An accessor written in an object literal is a new closure per
 * object, and V8 keeps what such a closure reaches alive through every young-generation GC until
 * the next full one: the request's whole working set, promoted to the old generation
 * (BENCHMARKS.md, "Young-generation GC").
 */
const SIGNAL: PropertyDescriptor = {
  get (this: { [SOURCE]?: AbortSource }): AbortSignal | undefined {
    return this[SOURCE]?.signal
  },
  set (this: object, value: unknown) { replaceSignal(this, value) },
  enumerable: true,
  configurable: true
}

/**
 * Gives an object the route made its forward's `signal`, made from `source` on first read. While
 * that `signal` is not replaced, the built-in adapters give undici `source` itself.
 */
export function withSource<T extends object> (target: T, source: AbortSource): T & { signal: AbortSignal } {
  sources.set(target, source)
  ;(target as { [SOURCE]?: AbortSource })[SOURCE] = source
  return Object.defineProperty(target, 'signal', SIGNAL) as T & { signal: AbortSignal }
}

/** What assigning that `signal` does: the property becomes a plain one holding `value`, and the built-in adapters use it. */
function replaceSignal (target: object, value: unknown): void {
  sources.delete(target)
  Object.defineProperty(target, 'signal', { value, writable: true, enumerable: true, configurable: true })
}

/** What a built-in adapter gives undici: the route's source for an input the route made, else the input's own signal. */
export function abortHandleOf (input: { signal?: AbortSignal }): PspAbortSignal | undefined {
  return sources.get(input) ?? input.signal
}
