/** Fastify's server options that bound how long a client may hold a socket (README, Security: "Server timeouts"). */
export interface ServerTimeouts {
  connectionTimeout?: number
  requestTimeout?: number
}

/** What the README recommends for a server Rokt calls (keepAliveTimeout: Fastify's default 72 s is right, and Fastify never lets it be 0). */
export const RECOMMENDED_TIMEOUTS = { connectionTimeout: 60_000, requestTimeout: 15_000 } as const
/** A forward's longest quiet time on Rokt's socket with the adapters' default timeouts: connect 3 s, headers 20 s, body 10 s. */
const LONGEST_DEFAULT_FORWARD_MS = 33_000

/**
 * What is wrong with the host's server timeouts, one line each (none: all is well). Fastify's
 * defaults turn connectionTimeout and requestTimeout off (0), so a peer, even one refused with a
 * 403, can keep a socket open by trickling a large declared body.
 */
export function serverTimeoutWarnings ({ connectionTimeout = 0, requestTimeout = 0 }: ServerTimeouts): string[] {
  const warnings: string[] = []
  if (requestTimeout <= 0) {
    warnings.push(`requestTimeout is off: a client may take forever to send a request (a trickled body holds its socket); set it, e.g. ${RECOMMENDED_TIMEOUTS.requestTimeout}`)
  }
  if (connectionTimeout <= 0) {
    warnings.push(`connectionTimeout is off: an idle socket is never closed; set it above the longest forward, e.g. ${RECOMMENDED_TIMEOUTS.connectionTimeout}`)
  } else if (connectionTimeout < LONGEST_DEFAULT_FORWARD_MS) {
    warnings.push(`connectionTimeout is ${connectionTimeout} ms: Rokt's socket is idle while a forward runs (up to ${LONGEST_DEFAULT_FORWARD_MS} ms with the default PSP timeouts) and would close mid-forward; e.g. ${RECOMMENDED_TIMEOUTS.connectionTimeout}`)
  }
  return warnings
}
