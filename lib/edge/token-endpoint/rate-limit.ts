import rateLimit, { normalizeIP, type CreateRateLimitOptions } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { RateLimitRedisClient } from '../../../types/index.ts'
import { OAuthError, storeReason, tagFailure } from '../../errors.ts'

/** `tokenEndpoint.rateLimit`, checked (lib/options/token-endpoint.ts). */
export interface TokenRateLimitSettings {
  max: number
  windowMs: number
  ipv6PrefixLength: number
  cacheSize: number
  redis: RateLimitRedisClient | undefined
}

/** @fastify/rate-limit has no timeout of its own: a Redis that does not answer would hold each request. */
const STORE_TIMEOUT_MS = 1000
class StoreTimeout extends Error {}

/**
 * The token endpoint's rate limit, with @fastify/rate-limit in the endpoint's own scope: a fixed
 * window per client, an IPv4 address or the IPv6 prefix an address falls in (so that rotating
 * addresses inside one allowlisted /64 share one budget). Counts live in a bounded LRU in memory, or
 * in Redis, shared by every instance. Returns the onRequest hook: 429 with Retry-After over the
 * limit; 503 with Retry-After when the counts cannot be read in time (never a 500 or the client
 * library's message).
 */
export async function registerTokenRateLimit (scope: FastifyInstance, settings: TokenRateLimitSettings) {
  const { max, windowMs, ipv6PrefixLength, cacheSize, redis } = settings
  const limits = {
    max,
    timeWindow: windowMs,
    keyGenerator: (request: FastifyRequest) => normalizeIP(request.ip, ipv6PrefixLength),
    // The count is created per check (createRateLimit), which reads the in-memory bound here.
    cache: cacheSize
  }
  await scope.register(rateLimit, {
    ...limits,
    global: false,
    // createRateLimit has no route to name its keys by: they are `<nameSpace>undefinedundefined-<client>`.
    ...(redis === undefined ? {} : { redis, nameSpace: 'rokt-card-forwarding:token-rate:' })
  })
  const check = scope.createRateLimit(limits as CreateRateLimitOptions)

  return async function limitTokenRequests (request: FastifyRequest): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new StoreTimeout()), STORE_TIMEOUT_MS)
    })
    let result: Awaited<ReturnType<typeof check>>
    try {
      result = await Promise.race([check(request), late])
    } catch (err) {
      const reason = err instanceof StoreTimeout ? `timeout_${STORE_TIMEOUT_MS}ms` : storeReason(err)
      request.log.warn({ reason }, 'card-forwarding: the token endpoint\'s rate-limit store is unavailable')
      throw tagFailure(new OAuthError(503, 'temporarily_unavailable'), { reason, retryAfter: 1 })
    } finally {
      clearTimeout(timer)
    }
    if (!result.isAllowed && result.isExceeded) {
      throw tagFailure(new OAuthError(429, 'temporarily_unavailable'), { reason: 'rate_limited', retryAfter: Math.max(1, result.ttlInSeconds) })
    }
  }
}
