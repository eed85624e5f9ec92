import type { Redis } from 'ioredis'
import type { Redis as Redis6 } from 'ioredis-6'
import { describe, expect, test } from 'tstyche'
import { memoryIdempotencyStore, type IdempotencyClaim, type IdempotencyStore, type RateLimitRedisClient, type ResolveContext, type ResolvePaymentMethod } from '../index.ts'
import { redisIdempotencyStore, type RedisScriptClient } from '../lib/stores/redis.ts'

describe('idempotency stores', () => {
  test('a claim carries its owner token; complete and release take it and say whether they acted', () => {
    expect<Extract<IdempotencyClaim, { state: 'claimed' }>>().type.toBe<{ state: 'claimed', owner: string }>()
    expect<Parameters<IdempotencyStore['complete']>>().type.toBe<[key: string, owner: string, response: { statusCode: number, body: unknown }, ttlMs: number]>()
    expect<ReturnType<IdempotencyStore['release']>>().type.toBe<Promise<boolean>>()
    expect(memoryIdempotencyStore({ maxEntries: 10, maxBytes: 2 ** 20 })).type.toBe<IdempotencyStore>()
  })

  test('an ioredis client, 5 or 6, is what the Redis store and the rate limit take, as it is', () => {
    expect<Redis>().type.toBeAssignableTo<RedisScriptClient>()
    expect<Redis6>().type.toBeAssignableTo<RedisScriptClient>()
    expect<Redis>().type.toBeAssignableTo<RateLimitRedisClient>()
    expect<Redis6>().type.toBeAssignableTo<RateLimitRedisClient>()
    expect(redisIdempotencyStore({ client: {} as Redis, prefix: 'p:', timeoutMs: 500 })).type.toBe<IdempotencyStore>()
    expect(redisIdempotencyStore).type.not.toBeCallableWith({ client: { get: () => null } })
  })

  test('the resolver gets the deadline\'s signal, and a resolver that ignores it still type-checks', () => {
    expect<Parameters<ResolvePaymentMethod<any>>[2]>().type.toBe<ResolveContext>()
    expect<ResolveContext['signal']>().type.toBe<AbortSignal>()
    expect<() => null>().type.toBeAssignableTo<ResolvePaymentMethod<any>>()
  })
})
