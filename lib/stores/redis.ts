/**
 * `fastify-rokt-card-forwarding/redis`: the idempotency store several instances share. Its own
 * entry point, so that partners who do not use it load nothing of it. It imports nothing from a
 * Redis client: it sends two commands through the client the partner passes (ioredis as it is).
 */
import { createHash, randomUUID } from 'node:crypto'
import type { IdempotencyStore, RedisIdempotencyStoreOptions, StoredResponse } from '../../types/index.ts'
import { storeUnavailable, type StoreOperation } from '../errors.ts'

export type { RedisIdempotencyStoreOptions, RedisScriptClient } from '../../types/index.ts'
export { IdempotencyStoreUnavailableError } from '../errors.ts'

// A record is a hash: f = fingerprint, o = owner token, r = the response as JSON (once completed).
// The key's own expiry is the lease (in flight) or the TTL (completed), so a lapsed claim is gone
// and its owner can bring nothing back. No JSON is parsed in Lua. Each script touches one key, so
// they run unchanged on Redis Cluster; HSET with several fields needs Redis 4.0.
const BEGIN = `local v = redis.call('HMGET', KEYS[1], 'f', 'o', 'r')
if v[1] then
  if v[3] then return {'completed', v[1], v[3]} end
  return {'in_flight', v[1], v[2]}
end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 'o', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'claimed'}`

const COMPLETE = `if redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`

const RELEASE = `if redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 'r') == 1 then return 0 end
redis.call('DEL', KEYS[1])
return 1`

interface Script { lua: string, sha: string }
const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') })
/** The store's Lua scripts and the SHA1s EVALSHA names them by. */
export const SCRIPTS = { begin: script(BEGIN), complete: script(COMPLETE), release: script(RELEASE) }

const DEFAULT_PREFIX = 'rokt-card-forwarding:idem:'
/** 1 as Redis sends it (a string with ioredis' stringNumbers). */
const isOne = (reply: unknown): boolean => reply === 1 || reply === '1'

function checkMs (name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > max) {
    throw new TypeError(`redisIdempotencyStore: ${name} must be an integer from 1 to ${max} (ms)`)
  }
}

/**
 * An IdempotencyStore over Redis: `begin`, `complete` and `release` are one Lua script each, sent
 * by EVALSHA, with EVAL when the server answers NOSCRIPT (after a restart, SCRIPT FLUSH or a
 * failover). Every call is bounded by `timeoutMs`; any failure is IdempotencyStoreUnavailableError
 * (503), naming the operation and a reason code, never a key or a value.
 */
export function redisIdempotencyStore (options: RedisIdempotencyStoreOptions): IdempotencyStore {
  const { client, prefix = DEFAULT_PREFIX, timeoutMs = 1000 } = options ?? {} as Partial<RedisIdempotencyStoreOptions>
  if (typeof client?.evalsha !== 'function' || typeof client.eval !== 'function') {
    throw new TypeError('redisIdempotencyStore: client needs evalsha and eval (an ioredis client; README, "Running several instances", for node-redis)')
  }
  if (typeof prefix !== 'string') throw new TypeError('redisIdempotencyStore: prefix must be a string')
  checkMs('timeoutMs', timeoutMs, 5000)

  function run (operation: StoreOperation, { lua, sha }: Script, key: string, args: string[]): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined
    let late = false
    const call = (async () => {
      try {
        return await client.evalsha(sha, 1, prefix + key, ...args)
      } catch (err) {
        // Once the caller has been told "unavailable", nothing more is sent for this call.
        if (late || !(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err
        return await client.eval(lua, 1, prefix + key, ...args)
      }
    })()
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        late = true
        reject(storeUnavailable(operation, undefined, `timeout_${timeoutMs}ms`))
      }, timeoutMs)
    })
    // The command is not cancelled, only no longer awaited; the race handles its late rejection.
    return Promise.race([call.catch((err: unknown) => { throw storeUnavailable(operation, err) }), deadline])
      .finally(() => clearTimeout(timer))
  }

  const badReply = () => storeUnavailable('begin', undefined, 'bad_reply')

  return {
    async begin (key, fingerprint, leaseMs) {
      checkMs('leaseMs', leaseMs)
      // Unique across every instance sharing the store (randomUUID draws from a cached pool of entropy).
      const owner = randomUUID()
      let reply: unknown
      try {
        reply = await run('begin', SCRIPTS.begin, key, [fingerprint, owner, String(leaseMs)])
      } catch (err) {
        // The claim may still land (a timed-out command, or one the client resends after a
        // reconnect): a release with this token, queued behind it, frees it rather than leaving
        // retries a 409 for the whole lease. The token was never handed out, so this is safe.
        run('release', SCRIPTS.release, key, [owner]).catch(() => {})
        throw err
      }
      if (!Array.isArray(reply)) throw badReply()
      const [state, print, rest] = reply as unknown[]
      if (state === 'claimed') return { state: 'claimed', owner }
      if (typeof print !== 'string' || typeof rest !== 'string') throw badReply()
      // Our own token: the command ran, its reply was lost, and the client resent it.
      if (state === 'in_flight') return rest === owner ? { state: 'claimed', owner } : { state: 'in_flight', fingerprint: print }
      if (state !== 'completed') throw badReply()
      let response: StoredResponse
      try {
        response = JSON.parse(rest)
      } catch {
        throw badReply()
      }
      if (!Number.isInteger(response?.statusCode)) throw badReply()
      return { state: 'completed', fingerprint: print, response: { statusCode: response.statusCode, body: response.body } }
    },

    async complete (key, owner, response, ttlMs) {
      checkMs('ttlMs', ttlMs)
      const json = JSON.stringify({ statusCode: response.statusCode, body: response.body })
      return isOne(await run('complete', SCRIPTS.complete, key, [owner, json, String(ttlMs)]))
    },

    async release (key, owner) {
      return isOne(await run('release', SCRIPTS.release, key, [owner]))
    }
  }
}
