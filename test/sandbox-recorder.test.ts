import { createServer } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import {
  buildAdyenSimulator, buildBraintreeSimulator, buildCheckoutComSimulator, buildStripeSimulator, createRecorder,
  startAdyenSimulator, startBraintreeSimulator, startCheckoutComSimulator, startFakeDestination, startStripeSimulator,
  type RecordedRequest, type RecordingServer, type SandboxServerOptions
} from '../lib/sandbox/index.ts'

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

    const res = await request(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
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
