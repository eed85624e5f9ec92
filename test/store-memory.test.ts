import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { memoryIdempotencyStore, type IdempotencyClaim } from '../index.ts'

const ok = { statusCode: 200, body: { ok: 1 } }

function ownerOf (claim: IdempotencyClaim): string {
  if (claim.state !== 'claimed') throw new Error(`expected a claim, got ${claim.state}`)
  return claim.owner
}

t.test('memory store: claim, in flight, completed, released, expired', async t => {
  const store = memoryIdempotencyStore()
  const claim = await store.begin('k', 'f1', 1000)
  t.match(claim, { state: 'claimed', owner: /^[\da-f]{8}-[\da-f]{4}-4[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/ }, 'an unguessable owner token')
  t.same(await store.begin('k', 'f2', 1000), { state: 'in_flight', fingerprint: 'f1' }, 'the owner is never handed to another caller')
  t.equal(await store.complete('k', ownerOf(claim), ok, 1000), true)
  t.same(await store.begin('k', 'f1', 1000), { state: 'completed', fingerprint: 'f1', response: ok })
  t.equal(await store.complete('k', ownerOf(claim), ok, 1000), true, 'completing again with the same owner is harmless')
  t.equal(await store.release('k', ownerOf(claim)), false, 'a completed record is never released')
  t.same(await store.begin('k', 'f1', 1000), { state: 'completed', fingerprint: 'f1', response: ok })

  const next = await store.begin('r', 'f3', 1000)
  t.equal(await store.release('r', ownerOf(next)), true)
  t.equal(await store.release('r', ownerOf(next)), false, 'released once')
  t.equal((await store.begin('r', 'f3', 20)).state, 'claimed', 'free again')
  await sleep(30)
  t.equal((await store.begin('r', 'f4', 1000)).state, 'claimed', 'a lapsed lease is claimed afresh')
  t.equal(await store.complete('missing', 'token', ok, 1000), false, 'completing an unknown key stores nothing')
  t.equal(await store.release('missing', 'token'), false)
  t.equal((await store.begin('missing', 'f', 1000)).state, 'claimed')
})

t.test('memory store: a replay is a copy, never the object that was stored', async t => {
  const store = memoryIdempotencyStore()
  const owner = ownerOf(await store.begin('k', 'f', 1000))
  const response = { statusCode: 200, body: { list: [1] } }
  await store.complete('k', owner, response, 1000)
  response.body.list.push(2)
  const replay = await store.begin('k', 'f', 1000)
  t.same(replay, { state: 'completed', fingerprint: 'f', response: { statusCode: 200, body: { list: [1] } } })
})

t.test('memory store fencing: a holder whose lease lapsed can neither complete nor release the next claim', async t => {
  const store = memoryIdempotencyStore()
  const stale = ownerOf(await store.begin('k', 'f', 20))
  await sleep(30)
  const fresh = ownerOf(await store.begin('k', 'f', 1000))
  t.not(fresh, stale)
  t.equal(await store.release('k', stale), false, 'the lapsed holder cannot free the new claim')
  t.equal(await store.complete('k', stale, ok, 1000), false, 'nor overwrite it with its answer')
  t.same(await store.begin('k', 'f', 1000), { state: 'in_flight', fingerprint: 'f' }, 'the new claim stands')
  t.equal(await store.complete('k', fresh, ok, 1000), true)

  const lapsed = ownerOf(await store.begin('gone', 'f', 20))
  await sleep(30)
  t.equal(await store.complete('gone', lapsed, ok, 1000), false, 'a lapsed holder cannot bring its record back')
  t.equal(await store.release('gone', lapsed), false)
  t.equal((await store.begin('gone', 'f', 1000)).state, 'claimed')
  t.equal(await store.release('k', 'not-the-owner'), false, 'an unknown token changes nothing')
})

t.test('memory store: bounded in entries; the oldest completed or expired records make room, in-flight ones never do', async t => {
  const store = memoryIdempotencyStore({ maxEntries: 2 })
  const a = ownerOf(await store.begin('a', 'f', 1000))
  await store.begin('b', 'f', 1000)
  await store.begin('c', 'f', 1000)
  t.same(await store.begin('a', 'x', 1000), { state: 'in_flight', fingerprint: 'f' }, 'in flight: kept beyond the bound')
  await store.complete('a', a, { statusCode: 200, body: 1 }, 1000)
  await store.begin('d', 'f', 1000)
  t.equal((await store.begin('a', 'f', 1000)).state, 'claimed', 'the completed record was dropped to make room')
  const expiring = memoryIdempotencyStore({ maxEntries: 1 })
  await expiring.begin('old', 'f', 10)
  await sleep(20)
  await expiring.begin('new', 'f', 1000)
  t.same(await expiring.begin('new', 'g', 1000), { state: 'in_flight', fingerprint: 'f' })
  t.throws(() => memoryIdempotencyStore({ maxEntries: 0 }), /maxEntries/)
})

t.test('memory store: bounded in bytes; large answers make the oldest completed ones go, one larger than the bound is not kept', async t => {
  const MIB = 1024 * 1024
  const store = memoryIdempotencyStore({ maxBytes: MIB })
  const big = (n: number) => ({ statusCode: 200, body: 'x'.repeat(n) })
  const owners: string[] = []
  for (const key of ['k1', 'k2', 'k3']) {
    const owner = ownerOf(await store.begin(key, 'f', 10_000))
    owners.push(owner)
    t.equal(await store.complete(key, owner, big(400_000), 10_000), true, key)
  }
  t.equal((await store.begin('k1', 'f', 10_000)).state, 'claimed', 'the oldest answer made room for the third')
  t.equal((await store.begin('k2', 'f', 10_000)).state, 'completed')
  t.equal((await store.begin('k3', 'f', 10_000)).state, 'completed')

  const huge = ownerOf(await store.begin('huge', 'f', 10_000))
  t.equal(await store.complete('huge', huge, big(MIB), 10_000), false, 'larger than the whole bound: not kept')
  t.same(await store.begin('huge', 'f', 10_000), { state: 'in_flight', fingerprint: 'f' }, 'left in flight, as a full store would leave it')
  t.equal((await store.begin('k3', 'f', 10_000)).state, 'completed', 'and nothing else was dropped for it')
  for (const bad of [0, MIB - 1, MIB + 0.5, Number.MAX_VALUE, '2000000' as any]) {
    t.throws(() => memoryIdempotencyStore({ maxBytes: bad }), /maxBytes must be an integer of at least 1048576/, String(bad))
  }
})

t.test('memory store: its methods cannot be swapped (the route trusts this object to settle at once)', async t => {
  const store = memoryIdempotencyStore()
  t.throws(() => { (store as any).begin = async () => await new Promise(() => {}) }, TypeError)
  t.ok(Object.isFrozen(store))
  t.match(await store.begin('k', 'f', 1000), { state: 'claimed' }, 'its own begin still answers')
})
