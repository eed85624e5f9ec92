import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { MAX_PENDING_DELIVERIES } from '../lib/partner-callback.ts'
import { buildHarness, logLines, validBody, type Harness } from './helpers/harness.ts'

// docs/THREAT-MODEL.md section F: partner code (callbacks, resolver, store, adapters) can never
// crash the process or change the contract.

/** The statuses of a mixed storm: forwards, IP denials, bad tokens, unknown references. */
async function storm (h: Harness, rounds: number): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < rounds; i++) {
    const replies = await Promise.all([
      h.post(validBody),
      h.post(validBody, { ip: '198.51.100.9', token: null }),
      h.post(validBody, { token: 'x.y.z' }),
      h.post({ ...validBody, partnerPaymentReference: `ORDER_NOPE_${i}` })
    ])
    statuses.push(...replies.map(r => r.statusCode))
  }
  return statuses
}

const EXPECTED = (rounds: number) => Array.from({ length: rounds }, () => [200, 403, 401, 404]).flat()

t.test('F59 an async onAudit or onForward that rejects never crashes the process nor changes an answer', async t => {
  let rejected = 0
  const h = await buildHarness(t, {
    plugin: {
      onAudit: async () => { rejected++; throw new Error('log sink down') },
      onForward: async () => { await sleep(1); throw new Error('metrics down') }
    }
  })
  const logged = logLines.length
  t.same(await storm(h, 25), EXPECTED(25), 'every answer as without the callbacks')
  await sleep(20)
  t.ok(rejected > 100, `onAudit was called and rejected ${rejected} times`)
  const failures = logLines.slice(logged).filter(line => line.includes('callback failed')).map(line => JSON.parse(line))
  t.ok(failures.length >= 2, 'the failures are logged')
  t.ok(failures.length <= 4, `rate-limited: ${failures.length} lines for ${rejected} failures`)
  t.ok(failures.every(line => line.level === 50 && /^(onAudit|onForward)$/.test(line.callback)), 'at error level, naming the callback')
  t.ok(failures.some(line => line.err?.message === 'log sink down'), 'with the cause')
  t.equal((await h.app.inject({ url: '/v1/initiate-payment-sharing' })).statusCode, 404, 'the process is alive and serving')
})

t.test('F59 a synchronous throw and a throwing thenable change nothing either', async t => {
  const thenable = { then () { throw new Error('bad thenable') } }
  for (const onAudit of [() => { throw new Error('sync') }, () => thenable as any]) {
    const h = await buildHarness(t, { plugin: { onAudit, onForward: onAudit } })
    t.same(await storm(h, 3), EXPECTED(3))
  }
})

t.test('F59 a hanging onAudit never blocks the route: deliveries are bounded, the rest dropped, counted and logged', async t => {
  let calls = 0
  const h = await buildHarness(t, { plugin: { onAudit: () => { calls++; return new Promise(() => {}) } } })
  const logged = logLines.length
  const started = performance.now()
  const statuses = []
  for (let i = 0; i < MAX_PENDING_DELIVERIES + 300; i += 50) {
    const replies = await Promise.all(Array.from({ length: 50 }, () => h.post(validBody, { ip: '198.51.100.9', token: null })))
    statuses.push(...replies.map(r => r.statusCode))
  }
  t.ok(statuses.every(s => s === 403), `${statuses.length} answers, all 403, in ${Math.round(performance.now() - started)} ms`)
  t.equal(calls, MAX_PENDING_DELIVERIES, 'at most MAX_PENDING_DELIVERIES deliveries outstanding')
  const drops = logLines.slice(logged).filter(line => line.includes('events dropped')).map(line => JSON.parse(line))
  t.equal(drops.length, 1, 'one warning for the whole burst (rate-limited)')
  t.match(drops[0], { level: 40, callback: 'onAudit', dropped: 1 }, 'the first drop is logged at once with the running count')
  const auditLines = logLines.slice(logged).filter(line => line.includes('"audit"'))
  t.equal(auditLines.length, statuses.length, 'every event still reaches the log')
  t.same(await storm(h, 2), EXPECTED(2), 'and forwards still work')
})

t.test('F59 a slow onAudit frees its slot when it settles', async t => {
  let calls = 0
  const h = await buildHarness(t, { plugin: { onAudit: async () => { calls++; await sleep(30) } } })
  await Promise.all(Array.from({ length: 20 }, () => h.post(validBody, { ip: '198.51.100.9', token: null })))
  await sleep(60)
  await h.post(validBody, { ip: '198.51.100.9', token: null })
  t.equal(calls, 21, 'nothing dropped while under the bound')
})
