import type { CardForwardingOptions, LoadSheddingOptions, PreparedDestination, PspAdapter } from '../../types/index.ts'
import { createReferenceHasher, MIN_REFERENCE_SECRET_BYTES } from '../audit.ts'
import { checkTrustProxy, createAllowlist } from '../edge/ip-allowlist.ts'
import type { AuthSettings } from '../edge/auth.ts'
import type { TokenEndpointSettings } from '../edge/token-endpoint/route.ts'
import { resolveAuth } from './auth.ts'
import { checkFunction, checkInteger, isObject } from '../checks.ts'
import { resolveAdapters, resolveDestinations } from './destinations.ts'
import { resolveIdempotency, type IdempotencySettings } from './idempotency.ts'
import { resolveLoadShedding } from './load-shedding.ts'
import { resolveTokenEndpoint } from './token-endpoint.ts'

const PATH = /^\/[\w\-./]*$/

/** Every option, checked once at registration, with its defaults: what the parts are wired from. */
export interface ResolvedOptions {
  path: string
  relay: 'destination' | 'psp'
  bodyLimit: number
  isAllowedIp: (ip: string | undefined) => boolean
  auth: AuthSettings
  tokenEndpoint: TokenEndpointSettings | null
  resolvePaymentMethod: CardForwardingOptions<any>['resolvePaymentMethod']
  adapters: Map<string, PspAdapter<any>>
  destinations: Map<string, PreparedDestination>
  onAudit: CardForwardingOptions<any>['onAudit']
  onForward: CardForwardingOptions<any>['onForward']
  /** The audit events' referenceHash */
  hashReference: (reference: string) => string
  idempotency: IdempotencySettings
  retry: { retries: number, baseDelayMs: number }
  shutdownGraceMs: number
  loadShedding: Required<LoadSheddingOptions> | false
}

/** What the host's server options say that the plugin must check against its own. */
export interface HostSettings {
  trustProxy: unknown
}

/** Checks every option (throwing an Error that names the first one wrong) and fills in the defaults. */
export function resolveOptions (options: CardForwardingOptions<any>, host: HostSettings = { trustProxy: undefined }): ResolvedOptions {
  if (!isObject(options)) throw new Error('options: required')
  if (typeof options.resolvePaymentMethod !== 'function') throw new Error('resolvePaymentMethod: must be a function')
  const path = options.path ?? '/v1/initiate-payment-sharing'
  if (typeof path !== 'string' || !PATH.test(path)) throw new Error('path: must be an absolute URL path')
  const relay = options.relay ?? 'destination'
  if (relay !== 'destination' && relay !== 'psp') throw new Error("relay: must be 'destination' or 'psp'")
  const bodyLimit = options.bodyLimit ?? 8192
  checkInteger(bodyLimit, 'bodyLimit', 256, 65_536)
  checkFunction(options.onAudit, 'onAudit')
  checkFunction(options.onForward, 'onForward')
  const adapters = resolveAdapters(options.psps)
  const destinations = resolveDestinations(options.destinations, adapters, options.allowInsecureUrls === true)
  const isAllowedIp = createAllowlist(options.allowedIps)
  const tokenEndpoint = options.tokenEndpoint == null ? null : resolveTokenEndpoint(options.tokenEndpoint, options.auth)
  const auth = resolveAuth(tokenEndpoint?.auth ?? options.auth)
  checkTrustProxy(host.trustProxy, {
    allowedIps: options.allowedIps,
    ...(options.tokenEndpoint == null ? {} : { 'tokenEndpoint.allowedIps': options.tokenEndpoint.allowedIps })
  }, options.allowUnsafeTrustProxy === true)
  return {
    path,
    relay,
    bodyLimit,
    isAllowedIp,
    auth,
    tokenEndpoint,
    resolvePaymentMethod: options.resolvePaymentMethod,
    adapters,
    destinations,
    onAudit: options.onAudit,
    onForward: options.onForward,
    hashReference: resolveReferenceHasher(options.referenceHashSecret),
    idempotency: resolveIdempotency(options.idempotencyStore, options.idempotencyTtlMs, options.forwardTimeoutMs),
    retry: resolveRetry(options.connectRetries, options.connectRetryDelayMs),
    shutdownGraceMs: resolveShutdownGrace(options.shutdownGraceMs),
    loadShedding: resolveLoadShedding(options.loadShedding)
  }
}

function resolveRetry (retries = 2, baseDelayMs = 100): ResolvedOptions['retry'] {
  if (!Number.isInteger(retries) || retries < 0 || retries > 5) throw new Error('connectRetries: must be an integer from 0 to 5')
  if (!Number.isInteger(baseDelayMs) || baseDelayMs < 1 || baseDelayMs > 10_000) throw new Error('connectRetryDelayMs: must be an integer from 1 to 10000 (ms)')
  return { retries, baseDelayMs }
}

function resolveShutdownGrace (graceMs = 8000): number {
  if (!Number.isInteger(graceMs) || graceMs < 0) throw new Error('shutdownGraceMs: must be a non-negative integer (ms)')
  return graceMs
}

function resolveReferenceHasher (secret: unknown): ResolvedOptions['hashReference'] {
  if (secret !== undefined && (typeof secret !== 'string' || Buffer.byteLength(secret) < MIN_REFERENCE_SECRET_BYTES)) {
    throw new Error(`referenceHashSecret: must be a string of at least ${MIN_REFERENCE_SECRET_BYTES} bytes (random; the same on every instance)`)
  }
  return createReferenceHasher(secret)
}
