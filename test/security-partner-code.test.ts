import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { errors as undiciErrors } from 'undici'
import { MAX_PENDING_DELIVERIES } from '../lib/partner-callback.ts'
import { buildHarness, logLines, validBody, type Harness } from './helpers/harness.ts'
import { memoryIdempotencyStore } from '../lib/stores/memory.ts'

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
  t.ok(failures.some(line => line.error?.message === 'log sink down'), 'with the cause')
  t.equal((await h.app.inject({ url: '/v1/initiate-payment-sharing' })).statusCode, 404, 'the process is alive and serving')
})

t.test('F59 a synchronous throw, a throwing thenable or a value that is no promise change nothing either', async t => {
  const thenable = { then () { throw new Error('bad thenable') } }
  for (const onAudit of [() => { throw new Error('sync') }, () => thenable as any, () => ({}) as any, () => null as any]) {
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

const INTERNAL = { statusCode: 500, code: 'CARD_FORWARDING_INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal Server Error' }

t.test('F60 an error thrown by the resolver, whatever status or code it carries, is one documented 500: logged with its cause, audited', async t => {
  const thrown: Array<[string, () => unknown]> = [
    ['an undici ResponseError 401', () => new undiciErrors.ResponseError('Response status code 401: Unauthorized', 401, { headers: {}, body: 'vault says no' })],
    ['a 503 with its own code', () => Object.assign(new Error('vault busy'), { statusCode: 503, code: 'VAULT_BUSY' })],
    ['an http-errors style 404 without a code', () => Object.assign(new Error('Not Found'), { status: 404, statusCode: 404, expose: true })],
    ['one dressed up as the plugin\'s own 404', () => Object.assign(new Error('nope'), { statusCode: 404, code: 'CARD_FORWARDING_PAYMENT_METHOD_NOT_FOUND' })],
    ['a 200 "error"', () => Object.assign(new Error('ok?'), { statusCode: 200, code: 'FST_ERR_VALIDATION' })],
    ['a plain object', () => ({ statusCode: 401, code: 'E_VAULT' })],
    ['a string', () => 'db down'],
    ['null', () => null]
  ]
  for (const [name, error] of thrown) {
    const h = await buildHarness(t, { plugin: { resolvePaymentMethod: async () => { throw error() } } })
    const logged = logLines.length
    const res = await h.post(validBody)
    t.same([res.statusCode, res.json], [500, INTERNAL], `${name}: the plugin's own 500, no library text`)
    t.match(h.audits, [{ event: 'internal_error', statusCode: 500, code: 'CARD_FORWARDING_INTERNAL_ERROR', reason: 'resolver_error', actor: 'rokt' }], `${name}: audited`)
    const lines = logLines.slice(logged).map(line => JSON.parse(line)).filter(line => line.level === 50)
    t.equal(lines.length, 1, `${name}: one error line`)
    t.match(lines[0], { reason: 'resolver_error', error: { code: 'CARD_FORWARDING_INTERNAL_ERROR', cause: {} } }, `${name}: logged with its cause`)
    t.equal(h.simulator.requests.length, 0, `${name}: nothing forwarded`)
  }
})

t.test('F60 a resolver that is not async: a synchronous throw is the same 500; a record returned without a promise is forwarded', async t => {
  const throwing = await buildHarness(t, { plugin: { resolvePaymentMethod: () => { throw Object.assign(new Error('sync'), { statusCode: 404 }) } } })
  const sent = throwing.simulator.requests.length
  const res = await throwing.post(validBody)
  t.same([res.statusCode, res.json], [500, INTERNAL], 'the plugin\'s own 500')
  t.match(throwing.audits, [{ event: 'internal_error', reason: 'resolver_error' }])
  t.equal(throwing.simulator.requests.length, sent, 'nothing forwarded')

  const known: { vault?: Map<string, unknown> } = {}
  const plain = await buildHarness(t, { plugin: { resolvePaymentMethod: (({ partnerPaymentReference }: { partnerPaymentReference: string }) => known.vault?.get(partnerPaymentReference) ?? null) as any } })
  known.vault = plain.vault
  const forwards = () => plain.simulator.requests.filter(r => (r as { path?: string }).path === '/v1/forwarding/requests').length
  const before = forwards()
  const ok = await plain.post(validBody)
  t.equal(ok.statusCode, 200, 'a plain value is taken as a resolved promise')
  t.equal(forwards(), before + 1, 'forwarded once')
})

t.test('F60 errors from an idempotency store or an adapter\'s isRecord never reach Rokt with their own status or code', async t => {
  const store = memoryIdempotencyStore()
  const failing = { ...store, begin: async () => { throw Object.assign(new Error('redis: WRONGPASS'), { statusCode: 401, code: 'WRONGPASS' }) } }
  const h = await buildHarness(t, { plugin: { idempotencyStore: failing } })
  const res = await h.post(validBody, { headers: { 'idempotency-key': 'k1' } })
  t.match(res.json.code, /^CARD_FORWARDING_/, 'a store error: one of the plugin\'s own codes')
  t.ok(res.statusCode >= 500, 'a 5xx, nothing forwarded')
  t.notMatch(JSON.stringify(res.json), /redis|WRONGPASS/)
  t.equal(h.simulator.requests.length, 0)

  const picky = await buildHarness(t)
  picky.vault.set('ORDER_67890', { psp: 'psp', get paymentMethod () { throw Object.assign(new Error('getter'), { statusCode: 418, code: 'TEAPOT' }) } })
  const teapot = await picky.post(validBody)
  t.same([teapot.statusCode, teapot.json], [500, INTERNAL], 'a vault record that throws while being checked')
  t.match(picky.audits.at(-1), { event: 'internal_error', code: 'CARD_FORWARDING_INTERNAL_ERROR', reason: 'vault_record_error' })
})

t.test('F60 a host hook that throws on the route (its own 429, a string) is one documented 500, audited: never its own code or text', async t => {
  const thrown: Array<[string, () => unknown]> = [
    ['a rate limiter\'s 429 with its own code', () => Object.assign(new Error('Rate limit exceeded, retry in 1 minute'), { statusCode: 429, code: 'FST_ERR_RATE_LIMITED' })],
    ['a string', () => 'host hook failed']
  ]
  for (const [name, error] of thrown) {
    const h = await buildHarness(t, { before: app => { app.addHook('onRequest', async () => { throw error() }) } })
    const res = await h.post(validBody)
    t.same([res.statusCode, res.json], [500, INTERNAL], `${name}: the plugin's own 500`)
    t.match(h.audits, [{ event: 'internal_error', statusCode: 500, reason: 'unexpected_error' }], `${name}: audited`)
    t.equal(h.simulator.requests.length, 0, `${name}: nothing forwarded`)
  }
})

t.test('F59 an adapter whose close() rejects or throws never stops the app from closing', async t => {
  const closing = (close: () => Promise<void>) => ({ name: 'custom', isRecord: (record: unknown): record is any => record !== null, forward: async () => { throw new Error('unused') }, close })
  const h = await buildHarness(t, { plugin: { psps: { psp: closing(async () => { throw new Error('pool already gone') }), other: closing(() => { throw new Error('sync') }) } } })
  const logged = logLines.length
  await t.resolves(h.app.close(), 'app.close() resolves')
  const lines = logLines.slice(logged).map(line => JSON.parse(line)).filter(line => line.msg?.includes('could not close'))
  t.same(lines.map(line => [line.level, line.psp]), [[50, 'custom'], [50, 'custom']], 'each failure is logged')
})
