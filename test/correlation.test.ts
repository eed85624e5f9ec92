import t from 'tap'
import { correlationIdOf } from '../lib/route/correlation.ts'

t.test('without an Idempotency-Key each forward gets its own random id, across refills of the random pool', async t => {
  // 4096 bytes give 256 ids: 1000 ids draw the pool four times.
  const ids = Array.from({ length: 1000 }, () => correlationIdOf(undefined))
  t.ok(ids.every(id => /^rcf_[0-9a-f]{32}$/.test(id)))
  t.equal(new Set(ids).size, ids.length, 'no id twice')
  const digits = new Set(ids.join('').replaceAll('rcf_', ''))
  t.equal(digits.size, 16, 'every hex digit appears: the pool is filled, not left zeroed')
})

t.test('with an Idempotency-Key the id is derived from it: the same key, the same id', async t => {
  t.equal(correlationIdOf('k1'), correlationIdOf('k1'))
  t.not(correlationIdOf('k1'), correlationIdOf('k2'))
  t.match(correlationIdOf('k1'), /^rcf_[0-9a-f]{32}$/)
})
