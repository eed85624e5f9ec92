import { createServer } from 'node:net'
import t from 'tap'
import { BoundedMap, SIMULATOR_MEMORY } from '../lib/sandbox/bounded-map.ts'
import { request } from 'undici'
import {
  buildAdyenSimulator, buildBraintreeSimulator, buildCheckoutComSimulator, buildStripeSimulator, createRecorder,
  startAdyenSimulator, startBraintreeSimulator, startCheckoutComSimulator, startFakeDestination, startStripeSimulator,
  type RecordedRequest, type RecordingServer, type SandboxServerOptions
} from '../lib/sandbox/index.ts'
import { DEFAULT_MAX_RECORDED } from '../lib/sandbox/recorder.ts'

// One recorder and one server shape for every simulator and the fake destination.

/** A port nothing listens on (it was free a moment ago). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

t.test('createRecorder: keeps entries in order, counts calls, records into the array given', async t => {
  const recorder = createRecorder<string>()
  t.equal(recorder.record('a'), 'a', 'record returns the entry')
  recorder.record('b', false)
  recorder.record('c', true)
  t.same(recorder.requests, ['a', 'b', 'c'])
  t.equal(recorder.calls, 2, 'an entry recorded with call: false is not a call')

  const into: RecordedRequest[] = []
  const given = createRecorder({ requests: into })
  given.record({ method: 'GET', path: '/', headers: {}, body: undefined })
  t.equal(given.requests, into, 'the same array')
  t.equal(into.length, 1)
})

type Starter = (options: SandboxServerOptions<any>) => Promise<RecordingServer<any>>
const starters: Record<string, { start: Starter, path: string }> = {
  stripe: { start: startStripeSimulator, path: '/v1/forwarding/requests' },
  adyen: { start: startAdyenSimulator, path: '/v71/forward' },
  braintree: { start: startBraintreeSimulator, path: '/' },
  'checkout.com': { start: startCheckoutComSimulator, path: '/forward' },
  'fake destination': { start: startFakeDestination, path: '/v1/cards/tokenize' }
}

for (const [name, { start, path }] of Object.entries(starters)) {
  t.test(`${name}: options.port and options.recorder; url, close, requests and calls`, async t => {
    const port = await freePort()
    const recorder = createRecorder<any>()
    const server = await start({ port, recorder })
    t.teardown(() => server.close())
    t.equal(new URL(server.url).port, String(port), 'listens on options.port')
    t.equal(new URL(server.url).hostname, '127.0.0.1')

    const res = await request(`http://127.0.0.1:${port}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}'
    })
    await res.body.dump()
    t.equal(server.requests, recorder.requests, 'requests is the recorder\'s array')
    t.equal(server.requests.length, 1)
    t.match(server.requests[0], { method: 'POST', path, headers: { 'content-type': 'application/json' } })
    t.equal(server.calls, 1, 'an unauthenticated call to the API counts')
    t.equal(recorder.calls, 1)

    const own = await start({})
    t.teardown(() => own.close())
    t.match(own.url, /^http:\/\/127\.0\.0\.1:\d+/, 'a free port by default')
    t.not(own.requests, recorder.requests, 'a recorder of its own by default')
    t.equal(own.requests.length, 0)
    t.equal(own.calls, 0)
  })
}

t.test('the fake destination: received is the same array as requests', async t => {
  const dest = await startFakeDestination()
  t.teardown(() => dest.close())
  await (await request(dest.url, { method: 'POST', body: 'x' })).body.dump()
  t.equal(dest.received, dest.requests)
  t.equal(dest.calls, 1)
})

t.test('startStripeSimulator still takes the port as a second argument (deprecated)', async t => {
  const port = await freePort()
  const sim = await startStripeSimulator({ port: 1 }, port)
  t.teardown(() => sim.close())
  t.equal(new URL(sim.url).port, String(port), 'the argument wins over options.port')
})

t.test('every build* app records into options.recorder', async t => {
  const builders = {
    stripe: [buildStripeSimulator, '/v1/forwarding/requests'],
    adyen: [buildAdyenSimulator, '/v71/forward'],
    braintree: [buildBraintreeSimulator, '/'],
    'checkout.com': [buildCheckoutComSimulator, '/forward']
  } as const
  for (const [name, [build, path]] of Object.entries(builders)) {
    const recorder = createRecorder<any>()
    const app = build({ recorder })
    t.teardown(() => app.close())
    await app.inject({ method: 'POST', url: path, payload: {} })
    t.equal(recorder.requests.length, 1, `${name}: recorded`)
    t.equal(recorder.calls, 1, `${name}: counted`)
  }
})

t.test('buildCheckoutComSimulator(…).recorder is the recorder it records into (deprecated)', async t => {
  const recorder = createRecorder<any>()
  const app = buildCheckoutComSimulator({ recorder })
  t.teardown(() => app.close())
  t.equal(app.recorder, recorder)
  const own = buildCheckoutComSimulator()
  t.teardown(() => own.close())
  await own.inject({ method: 'GET', url: '/forward/fwd_x' })
  t.equal(own.recorder.requests.length, 1)
  t.equal(own.recorder.calls, 1)
})

t.test('createRecorder keeps the most recent maxRecorded requests; calls counts them all', async t => {
  const recorder = createRecorder<number>({ maxRecorded: 3 })
  for (let i = 1; i <= 5; i++) recorder.record(i, i !== 2)
  t.same(recorder.requests, [3, 4, 5], 'the oldest dropped first')
  t.equal(recorder.calls, 4, 'every call counted, dropped ones included')

  const into = [0]
  const trimmed = createRecorder({ requests: into, maxRecorded: 2 })
  trimmed.record(1)
  trimmed.record(2)
  t.equal(trimmed.requests, into, 'trimmed in place: the same array')
  t.same(into, [1, 2])

  const none = createRecorder<number>({ maxRecorded: 0 })
  none.record(1)
  t.same(none.requests, [], 'maxRecorded 0 keeps nothing')
  t.equal(none.calls, 1, 'and still counts')

  const all = createRecorder<number>({ maxRecorded: Infinity })
  for (let i = 0; i < DEFAULT_MAX_RECORDED + 5; i++) all.record(i)
  t.equal(all.requests.length, DEFAULT_MAX_RECORDED + 5, 'Infinity keeps them all')

  for (const bad of [-1, 1.5, Number.NaN]) {
    t.throws(() => createRecorder({ maxRecorded: bad }), RangeError, `maxRecorded ${bad} is refused`)
  }
})

t.test('by default a recorder keeps 1000 requests', async t => {
  t.equal(DEFAULT_MAX_RECORDED, 1000)
  const recorder = createRecorder<number>()
  for (let i = 0; i < 1001; i++) recorder.record(i)
  t.equal(recorder.requests.length, 1000)
  t.equal(recorder.requests[0], 1, 'the first request was dropped')
  t.equal(recorder.calls, 1001)
})

for (const [name, { start, path }] of Object.entries(starters)) {
  t.test(`${name}: options.maxRecorded bounds requests over loopback, calls counts every request`, async t => {
    const server = await start({ maxRecorded: 3 })
    t.teardown(() => server.close())
    for (const n of ['1', '2', '3', '4', '5']) {
      const res = await request(new URL(server.url).origin + path, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-n': n }, body: '{}'
      })
      await res.body.dump()
    }
    t.equal(server.requests.length, 3, 'requests holds maxRecorded of them')
    t.same(server.requests.map(r => r.headers['x-n']), ['3', '4', '5'], 'the oldest were dropped')
    t.equal(server.calls, 5, 'calls counts every request')
  })
}

t.test('stripe: options.maxRecorded drops the oldest requests, whatever their path', async t => {
  const sim = await startStripeSimulator({ maxRecorded: 2 })
  t.teardown(() => sim.close())
  for (const n of ['1', '2', '3']) {
    await (await request(sim.url + '/v1/forwarding/requests', { method: 'POST', headers: { 'x-n': n } })).body.dump()
  }
  await (await request(sim.url + '/v1/payment_methods/pm_card_visa', { headers: { 'x-n': '4' } })).body.dump()
  t.same(sim.requests.map(r => r.headers['x-n']), ['3', '4'], 'the two most recent')
  t.equal(sim.calls, 3, 'the three forwards counted, not the GET')
})

t.test('the simulators remember a bounded number of ids and idempotency keys, forgetting the oldest set first', async t => {
  t.equal(SIMULATOR_MEMORY, 10_000)
  const map = new BoundedMap<string, number>(3)
  for (const [key, value] of [['a', 1], ['b', 2], ['c', 3], ['a', 4], ['d', 5]] as const) map.set(key, value)
  t.same([...map], [['c', 3], ['a', 4], ['d', 5]], 'b went first: setting a again made it the most recent')
  const big = new BoundedMap<number, number>()
  for (let i = 0; i < SIMULATOR_MEMORY + 5; i++) big.set(i, i)
  t.equal(big.size, SIMULATOR_MEMORY)
  t.equal(big.has(4), false)
  t.equal(big.get(5), 5)
})
