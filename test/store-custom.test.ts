import t, { type Test } from 'tap'
import { memoryIdempotencyStore, type IdempotencyStore } from '../index.ts'
import { buildHarness, logLines, validBody } from './helpers/harness.ts'

// A partner's own store, through the IdempotencyStore interface: what the route sends it, and how
// each way it can fail is answered. Rokt only ever sees the plugin's own codes.
const withKey = (key: string) => ({ headers: { 'idempotency-key': key } })
/** What a client library's error may carry: the command's arguments. */
const LEAKY = 'failed: HSET key:1f2e owner-token-value {"status":200,"body":"rokt_tok_secret"}'

type Failing = 'begin' | 'begin-ref' | 'complete' | 'release' | 'garbage' | 'hang' | 'status' | 'lapsed' | null

async function partnerStore (t: Test) {
  const calls: string[] = []
  const inner = memoryIdempotencyStore()
  const state = { failing: null as Failing }
  const fail = (operation: string, key: string) => {
    const f = state.failing
    if (f === operation || (f === 'begin-ref' && operation === 'begin' && key.startsWith('ref:'))) throw Object.assign(new Error(LEAKY), { command: { args: [LEAKY] } })
    if (f === 'status' && operation === 'begin') throw Object.assign(new Error('busy'), { statusCode: 401, code: 'VAULT_BUSY' })
  }
  const store: IdempotencyStore = {
    async begin (key, print, lease) {
      calls.push(`begin ${key.slice(0, 4)}`)
      fail('begin', key)
      if (state.failing === 'garbage') return { state: 'claimed' } as any
      if (state.failing === 'hang') return await new Promise(() => {})
      return await inner.begin(key, print, lease)
    },
    async complete (key, owner, response, ttl) {
      calls.push(`complete ${key.slice(0, 4)} ${owner.length}`)
      fail('complete', key)
      // As if the lease had lapsed: the record is gone, complete finds nothing of its owner's.
      if (state.failing === 'lapsed') return await inner.release(key, owner) && false
      return await inner.complete(key, owner, response, ttl)
    },
    async release (key, owner) {
      calls.push(`release ${key.slice(0, 4)} ${owner.length}`)
      fail('release', key)
      return await inner.release(key, owner)
    }
  }
  const h = await buildHarness(t, { plugin: { idempotencyStore: store, idempotencyTtlMs: 60_000 } })
  return { h, calls, state }
}

t.test('a partner store is called with the owner tokens of its own claims', async t => {
  const { h, calls } = await partnerStore(t)
  t.equal((await h.post(validBody, withKey('one'))).statusCode, 200)
  t.same(calls, ['begin key:', 'begin ref:', 'complete key: 36', 'release ref: 36'])
  calls.length = 0
  const replay = await h.post(validBody, withKey('one'))
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.same(calls, ['begin key:'])
})

t.test('a store that fails before the forward: 503 with Retry-After, nothing forwarded, audited, its message never logged', async t => {
  const { h, calls, state } = await partnerStore(t)
  // The reason logged and audited: the error's code when it is a plain identifier, else its class name, else 'error'.
  const reasons = { begin: 'error', status: 'VAULT_BUSY', garbage: 'bad_reply' }
  for (const failing of ['begin', 'status', 'garbage'] as const) {
    state.failing = failing
    calls.length = 0
    const res = await h.post(validBody, withKey(`k-${failing}`))
    t.equal(res.statusCode, 503, failing)
    t.same(res.json, { statusCode: 503, code: 'CARD_FORWARDING_STORE_UNAVAILABLE', error: 'Service Unavailable', message: 'The idempotency store is unavailable, retry later' })
    t.equal(res.headers['retry-after'], '1')
    t.match(h.audits.at(-1), { event: 'store_unavailable', outcome: 'failure', statusCode: 503, code: 'CARD_FORWARDING_STORE_UNAVAILABLE', reason: reasons[failing] })
  }
  t.equal(h.simulator.calls, 0, 'no store, no forward')
  t.notMatch(logLines.join(''), /rokt_tok_secret|owner-token-value|busy/, 'the store\'s error text is never logged')
  t.match(logLines.join(''), /"operation":"begin","reason":"bad_reply".*the idempotency store is unavailable/)

  state.failing = 'begin-ref'
  calls.length = 0
  t.equal((await h.post(validBody, withKey('k-ref'))).statusCode, 503)
  t.same(calls, ['begin key:', 'begin ref:', 'release key: 36'], 'the key claimed before the lock failed is released')
  state.failing = null
  t.equal((await h.post(validBody, withKey('k-ref'))).statusCode, 200, 'and the same key works once the store is back')
  t.equal(h.simulator.calls, 1)
})

t.test('a store that fails after the forward: the answer is still delivered, and logged without the store\'s message', async t => {
  const { h, state } = await partnerStore(t)
  state.failing = 'complete'
  t.equal((await h.post(validBody, withKey('third'))).statusCode, 200, 'the forward happened: its answer is sent')
  state.failing = 'release'
  t.equal((await h.post(validBody, withKey('fourth'))).statusCode, 200)
  t.equal(h.simulator.calls, 2)
  const logged = logLines.join('')
  t.match(logged, /could not store the idempotent response/)
  t.match(logged, /could not release the idempotency lock/)
  t.notMatch(logged, /rokt_tok_secret|owner-token-value/)
})

t.test('a claim the store no longer holds when the answer comes: delivered, and a warning that a retry will not be replayed', async t => {
  const { h, state } = await partnerStore(t)
  state.failing = 'lapsed'
  t.equal((await h.post(validBody, withKey('lapsed'))).statusCode, 200)
  t.match(logLines.join(''), /"level":40.*the idempotency store no longer held this claim/)
  state.failing = null
  const retry = await h.post(validBody, withKey('lapsed'))
  t.equal(retry.statusCode, 200)
  t.equal(retry.headers['idempotent-replayed'], undefined, 'not replayed by the plugin: it goes to the PSP again, with the same PSP key')
  t.equal(h.simulator.calls, 2)
  t.equal(h.destination.received.length, 1, 'which answers it from the first outcome: the card went once')
})

t.test('a store call that never settles is cut off after 5 s: 503, nothing forwarded', async t => {
  const { h, state } = await partnerStore(t)
  state.failing = 'hang'
  const started = Date.now()
  const res = await h.post(validBody, withKey('hangs'))
  t.equal(res.statusCode, 503)
  t.ok(Date.now() - started >= 4900, 'after the limit')
  t.match(h.audits.at(-1), { event: 'store_unavailable', reason: 'call_limit' })
  t.equal(h.simulator.calls, 0)
})
