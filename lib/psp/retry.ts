import { setTimeout as sleep } from 'node:timers/promises'
import type { AbortSource } from './abort-source.ts'
import { isRetryableBeforeSend } from './client.ts'

export interface RetryOptions {
  /** Further attempts after the first; 0 for none. */
  retries: number
  /** The first pause, doubled each time, with jitter, ms. */
  baseDelayMs: number
  /** Stops the retries (the app is closing); its AbortSignal is made only for a pause. */
  source: AbortSource
}

/**
 * Runs `attempt` again only while it fails before its request was sent (connection refused,
 * connect timeout, DNS), so a retry can never send a card twice.
 */
export async function retryBeforeSend<T> (attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt()
    } catch (err) {
      if (i >= options.retries || !isRetryableBeforeSend(err)) throw err
      const pause = options.baseDelayMs * 2 ** i * (0.5 + Math.random() / 2)
      await sleep(pause, undefined, { signal: options.source.signal }).catch(() => { throw err })
    }
  }
}
