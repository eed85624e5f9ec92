import type { CircuitBreakerOptions } from '../../types/index.ts'

/** While a half-open probe is out, other calls are told to come back in this long. */
const PROBE_RETRY_MS = 1000

/**
 * Closed -> (threshold consecutive failures) -> open -> (cool-down) -> half-open: one probe goes out,
 * its success closes the circuit, its failure opens it again for another cool-down.
 */
export function createCircuitBreaker (options: CircuitBreakerOptions = {}) {
  // Checked with the other transport options, by createPspClient.
  const { failureThreshold = 5, coolDownMs = 30_000 } = options
  let failures = 0
  let openedAt = 0
  let open = false
  let probing = false

  return {
    /** null when the call may go ahead, else how long (ms) the caller should wait. */
    admit (): number | null {
      if (!open) return null
      if (probing) return PROBE_RETRY_MS
      const wait = openedAt + coolDownMs - Date.now()
      if (wait > 0) return wait
      probing = true
      return null
    },
    success (): void {
      failures = 0
      open = false
      probing = false
    },
    failure (): void {
      failures++
      if (probing || failures >= failureThreshold) {
        open = true
        openedAt = Date.now()
      }
      probing = false
    },
    /** The call ended without telling us anything about the PSP (we aborted it): free the probe slot. */
    neutral (): void {
      probing = false
    }
  }
}

export type CircuitBreaker = ReturnType<typeof createCircuitBreaker>

/** What a PSP client uses when the partner turned circuit breaking off. */
export const NO_CIRCUIT_BREAKER: CircuitBreaker = Object.freeze({ admit: () => null, success () {}, failure () {}, neutral () {} })
