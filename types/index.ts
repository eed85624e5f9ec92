import type { AuditEvent, ForwardMetric } from './audit.ts'
import type { AuthOptions, TokenEndpointOptions } from './auth.ts'
import type { DestinationOptions, PspAdapter } from './psp.ts'
import type { IdempotencyStore } from './store.ts'
import type { ResolvePaymentMethod } from './vault.ts'

export type * from './adapters.ts'
export type * from './audit.ts'
export type * from './auth.ts'
export type * from './psp.ts'
export type * from './store.ts'
export type * from './vault.ts'

/**
 * Load shedding with @fastify/under-pressure, on this plugin's routes only (same option names).
 * A threshold of 0 turns that check off.
 */
export interface LoadSheddingOptions {
  /** Mean event-loop delay over a sample, ms. Default 1000. */
  maxEventLoopDelay?: number
  /** V8 heap used, bytes. Default 90% of the heap limit. */
  maxHeapUsedBytes?: number
  /** Resident set size, bytes. Default 90% of the container's memory limit (or of the host's memory). */
  maxRssBytes?: number
  /** Event-loop utilisation, 0 to 1. Default 0 (off). */
  maxEventLoopUtilization?: number
  /** The Retry-After of a shed request, seconds. Default 5. */
  retryAfter?: number
  /** How often the metrics are sampled, ms. Default 1000. */
  sampleInterval?: number
}

export interface CardForwardingOptions<Psps extends Record<string, PspAdapter<any>> = Record<string, PspAdapter<any>>> {
  allowedIps: string[]
  auth: AuthOptions
  resolvePaymentMethod: ResolvePaymentMethod<Psps>
  psps: Psps
  destinations: Record<string, DestinationOptions>
  /** Route path. Default /v1/initiate-payment-sharing */
  path?: string
  /** 'destination' (default) relays the destination's body; 'psp' relays the PSP's whole response body. */
  relay?: 'destination' | 'psp'
  /** Allow http:// destination URLs on loopback (sandbox only). PSP baseUrls and jwksUrl accept loopback http without it. Default false. */
  allowInsecureUrls?: boolean
  /** Register even though the host sets trustProxy to true or a hop count. Default false. */
  allowUnsafeTrustProxy?: boolean
  /** Route body limit in bytes. Default 8192. */
  bodyLimit?: number
  /**
   * One event per outcome, also logged at info level under `audit`. May be async: it is never
   * awaited, a throw or rejection is logged, and past 1000 unsettled deliveries events are dropped
   * (counted and logged; the log still has them).
   */
  onAudit?: (event: AuditEvent) => void | Promise<void>
  /**
   * The key of the audit events' `referenceHash` (HMAC-SHA-256 of partnerPaymentReference), at
   * least 32 bytes of random data. Give every instance the same one so that their events correlate;
   * without it each process generates its own at startup (hashes then agree within one process only).
   */
  referenceHashSecret?: string
  /** Called once per forward attempted, with the PSP's latency and outcome: feed your metrics. Same rules as onAudit. */
  onForward?: (event: ForwardMetric) => void | Promise<void>
  /**
   * Where Idempotency-Keys and the per-reference in-flight locks are kept. Default: in memory
   * (`memoryIdempotencyStore()`, 10 000 keys, 64 MiB), which is right for one instance only;
   * several instances share `redisIdempotencyStore` from `fastify-rokt-card-forwarding/redis`.
   */
  idempotencyStore?: IdempotencyStore
  /** How long a successful response is replayed to retries with the same Idempotency-Key, ms. Default 24 h. */
  idempotencyTtlMs?: number
  /**
   * The overall deadline of one forward, `resolvePaymentMethod` and the PSP call together (retries
   * included), ms: from 1000 to 110000, so that it always ends within its 120 s idempotency lease.
   * A PSP call cut off is 504 `CARD_FORWARDING_PSP_TIMEOUT` (outcome unknown); a resolver cut off
   * is 504 `CARD_FORWARDING_VAULT_TIMEOUT` (nothing was forwarded). Default 60000.
   */
  forwardTimeoutMs?: number
  /**
   * Retries of a forward that carries an Idempotency-Key, only for faults raised before the
   * request was sent (connection refused, connect timeout, DNS). Default 2; 0 turns them off.
   * A forward without a key is never retried.
   */
  connectRetries?: number
  /** First pause before such a retry, doubled each time (with jitter), ms. Default 100. */
  connectRetryDelayMs?: number
  /** Shed load with 503 + Retry-After before any other work; `false` turns it off. */
  loadShedding?: LoadSheddingOptions | false
  /**
   * On close, how long forwards in progress may run before they are abandoned (aborted, audited
   * `forward_unknown`), ms. Default 8000: keep your orchestrator's (or close-with-grace's) delay above it.
   */
  shutdownGraceMs?: number
  /** Issue the tokens ourselves (see TokenEndpointOptions); `auth` then gives no key source. */
  tokenEndpoint?: TokenEndpointOptions
}
