import t, { type Test } from 'tap'
import { Agent } from 'undici'
import { stripe, type ForwardMetric, type StripeOptions } from '../index.ts'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { startFakeDestination } from '../lib/sandbox/destination.ts'
import { buildHarness, DESTINATION, logLines, ROKT_API_KEY, validBody, type Harness, type HarnessOptions } from './helpers/harness.ts'
import { blackholeUrl, failingLookup, refusedUrl, startFaultyPsp, startNotHttpPsp, startHttpsStripeSimulator, TLS_CERT, VAULTED_WITH_BILLING } from './helpers/faulty-psp.ts'

/**
 * The PSP fault matrix (README "Faults"): one test per row, each on real loopback sockets, each
 * through the whole plugin with the Stripe adapter. Every row checks the status, the code, a
 * message free of secrets, the audit event and that the process (and the route) stays healthy.
 */

const FAST = { connectMs: 300, headersMs: 300, bodyMs: 300 }
/** What onForward reported, across the file (its tests run one after another). */
const metrics: ForwardMetric[] = []

/** The billing address comes from the vault, so the one PSP call is the forward itself. */
async function harnessFor (t: Test, adapter: Partial<StripeOptions>, plugin: HarnessOptions['plugin'] = {}): Promise<Harness> {
  const h = await buildHarness(t, {
    before: app => { app.get('/healthz', async () => ({ ok: true })) },
    plugin: { psps: { psp: stripe({ apiKey: STRIPE_SANDBOX_API_KEY, timeouts: FAST, circuitBreaker: false, ...adapter }) }, onForward: metric => { metrics.push(metric) }, ...plugin }
  })
  h.vault.set('ORDER_67890', VAULTED_WITH_BILLING)
  return h
}

interface Expected { status: number, code: string, message: string, event: string, reason: string }

async function expectFault (t: Test, h: Harness, expected: Expected) {
  for (const attempt of [1, 2]) {
    const res = await h.post(validBody)
    t.equal(res.statusCode, expected.status, `attempt ${attempt}: status`)
    t.same(res.json, { statusCode: expected.status, code: expected.code, error: res.json.error, message: expected.message }, `attempt ${attempt}: error body`)
    const text = JSON.stringify(res.json)
    t.notMatch(text, /sk_test|4242424242424242|Bearer|jenny/i, 'no secret in the answer')
    const last = h.audits.at(-1)
    t.equal(last?.event, expected.event, `attempt ${attempt}: audit event`)
    t.equal(last?.code, expected.code)
    t.equal(last?.reason, expected.reason, `attempt ${attempt}: audit reason`)
    t.match(last?.correlationId, /^rcf_[0-9a-f]{32}$/, `attempt ${attempt}: the audit event names the forward`)
    t.match(metrics.at(-1), {
      psp: 'stripe', destination: DESTINATION, outcome: expected.event.slice('forward_'.length), statusCode: expected.status, code: expected.code, reason: expected.reason, correlationId: last?.correlationId
    }, `attempt ${attempt}: onForward, with the same reason and correlation id`)
  }
  // The same fault twice gives the same answer (no lock or state left behind), and the host still serves.
  t.equal((await h.app.inject('/healthz')).statusCode, 200, 'the process stays healthy')
  t.equal(h.destination.received.length, 0, 'nothing reached the destination')
  t.notMatch(logLines.join(''), /sk_test_sandbox|4242424242424242/, 'no secret in the logs')
}

t.test('connection refused: 502 connection_refused, forward_failed', async t => {
  const h = await harnessFor(t, { baseUrl: await refusedUrl() })
  await expectFault(t, h, { status: 502, code: 'CARD_FORWARDING_PSP_ERROR', message: 'stripe forward failed: connection_refused', event: 'forward_failed', reason: 'connection_refused' })
})

t.test('DNS failure (psp.invalid, resolved by a lookup that fails locally): 502 dns_failed, forward_failed', async t => {
  const dispatcher = new Agent({ connect: { lookup: failingLookup as any, timeout: 300 } })
  t.teardown(() => dispatcher.close())
  const h = await harnessFor(t, { baseUrl: 'https://psp.invalid', dispatcher })
  await expectFault(t, h, { status: 502, code: 'CARD_FORWARDING_PSP_ERROR', message: 'stripe forward failed: dns_failed', event: 'forward_failed', reason: 'dns_failed' })
})

t.test('TLS failure (a self-signed certificate): 502 tls_failed, nothing reaches the PSP', async t => {
  const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_API_KEY } })
  t.teardown(() => destination.close())
  const destinations = { [DESTINATION]: { url: destination.url, headers: { 'x-rokt-api-key': ROKT_API_KEY } } }
  const psp = await startHttpsStripeSimulator(t, { destinations: [{ url: destination.url }] })
  const h = await harnessFor(t, { baseUrl: psp.url }, { destinations })
  await expectFault(t, h, { status: 502, code: 'CARD_FORWARDING_PSP_ERROR', message: 'stripe forward failed: tls_failed', event: 'forward_failed', reason: 'tls_failed' })
  t.equal(psp.requests, 0, 'the handshake failed before any request')

  // The control: the same server, trusted explicitly, forwards. The refusal was about trust alone.
  const trusting = new Agent({ connect: { ca: TLS_CERT } })
  t.teardown(() => trusting.close())
  const ok = await harnessFor(t, { baseUrl: psp.url, dispatcher: trusting }, { destinations })
  const res = await ok.post(validBody)
  t.equal(res.statusCode, 200)
  t.equal(res.json.body.last4, '4242')
  t.equal(psp.requests, 1, 'the forward, over https')
})

t.test('connect timeout (a full accept queue): 504, forward_failed (nothing was sent)', async t => {
  const h = await harnessFor(t, { baseUrl: await blackholeUrl(t) })
  await expectFault(t, h, { status: 504, code: 'CARD_FORWARDING_PSP_TIMEOUT', message: 'stripe did not answer in time', event: 'forward_failed', reason: 'connect_timeout' })
})

t.test('headers timeout: 504, forward_unknown (the PSP may have acted)', async t => {
  const psp = await startFaultyPsp(t, () => {})
  const h = await harnessFor(t, { baseUrl: psp.url })
  await expectFault(t, h, { status: 504, code: 'CARD_FORWARDING_PSP_TIMEOUT', message: 'stripe did not answer in time', event: 'forward_unknown', reason: 'headers_timeout' })
  t.equal(psp.requests, 2, 'two forwards, each timed out once: none retried')
})

t.test('slow body (a stall between chunks): 504, forward_unknown', async t => {
  const psp = await startFaultyPsp(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"id":"fwdreq_1",')
  })
  const h = await harnessFor(t, { baseUrl: psp.url })
  await expectFault(t, h, { status: 504, code: 'CARD_FORWARDING_PSP_TIMEOUT', message: 'stripe did not answer in time', event: 'forward_unknown', reason: 'body_timeout' })
})

t.test('reset mid-body: 502 connection_lost, forward_unknown', async t => {
  const psp = await startFaultyPsp(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' })
    res.write('{"id":"fwdreq_1","object":"forwarding.request",', () => { res.socket?.resetAndDestroy() })
  })
  const h = await harnessFor(t, { baseUrl: psp.url })
  await expectFault(t, h, { status: 502, code: 'CARD_FORWARDING_PSP_ERROR', message: 'stripe forward failed: connection_lost', event: 'forward_unknown', reason: 'connection_lost' })
})

t.test('an answer that is not HTTP at all: 502 connection_failed, forward_unknown', async t => {
  const psp = await startNotHttpPsp(t)
  const h = await harnessFor(t, { baseUrl: psp.url })
  await expectFault(t, h, { status: 502, code: 'CARD_FORWARDING_PSP_ERROR', message: 'stripe forward failed: connection_failed', event: 'forward_unknown', reason: 'connection_failed' })
  t.equal(psp.requests, 2)
})

/** PSPs that answer, but badly: one test per row. */
const answers: Array<[title: string, status: number, type: string, body: string, expected: Omit<Expected, 'status' | 'code'>]> = [
  ["5xx with Stripe's error envelope: 502 naming Stripe's error type, never its message; forward_unknown (Stripe may have forwarded)", 500, 'application/json',
    JSON.stringify({ error: { type: 'api_error', message: 'Something went wrong with key sk_test_sandbox for jenny.rosen@example.com' } }),
    { message: 'stripe forward failed: api_error', event: 'forward_unknown', reason: 'api_error' }],
  ["4xx with Stripe's envelope and no code (a wrong key): 502 naming the SDK's class for the status; forward_failed", 401, 'application/json',
    JSON.stringify({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****ndbox' } }),
    { message: 'stripe forward failed: authentication_error', event: 'forward_failed', reason: 'authentication_error' }],
  ["4xx with Stripe's code (a destination not onboarded): 502 naming the code; forward_failed", 400, 'application/json',
    JSON.stringify({ error: { type: 'invalid_request_error', code: 'forwarding_api_invalid_parameter', param: 'url', message: "The url 'https://x' is not supported" } }),
    { message: 'stripe forward failed: forwarding_api_invalid_parameter', event: 'forward_failed', reason: 'forwarding_api_invalid_parameter' }],
  ['5xx without an envelope (a proxy error page): 502 naming the status, forward_unknown', 503, 'text/html', '<html><body>503 Service Temporarily Unavailable</body></html>',
    { message: 'stripe forward failed: http_503', event: 'forward_unknown', reason: 'http_503' }],
  ['non-JSON 200: 502 invalid_response, forward_unknown', 200, 'text/plain', 'OK',
    { message: 'stripe forward failed: invalid_response', event: 'forward_unknown', reason: 'invalid_response' }],
  ['truncated JSON 200 (complete framing, cut document): 502 invalid_response, forward_unknown', 200, 'application/json', '{"id":"fwdreq_1","response_details":{"status":20',
    { message: 'stripe forward failed: invalid_response', event: 'forward_unknown', reason: 'invalid_response' }]
]
for (const [title, status, type, body, expected] of answers) {
  t.test(title, async t => {
    const psp = await startFaultyPsp(t, (_req, res) => { res.writeHead(status, { 'content-type': type }).end(body) })
    const h = await harnessFor(t, { baseUrl: psp.url })
    await expectFault(t, h, { status: 502, code: 'CARD_FORWARDING_PSP_ERROR', ...expected })
  })
}

t.test('oversized body, declared or streamed: capped at 1 MiB, 502 response_too_large', async t => {
  const big = Buffer.alloc(1536 * 1024, 'a')
  for (const declared of [true, false]) {
    const psp = await startFaultyPsp(t, (_req, res) => {
      res.writeHead(200, declared ? { 'content-type': 'application/json', 'content-length': String(big.length) } : { 'content-type': 'application/json' })
      res.end(big)
    })
    const h = await harnessFor(t, { baseUrl: psp.url })
    await expectFault(t, h, { status: 502, code: 'CARD_FORWARDING_PSP_ERROR', message: 'stripe forward failed: response_too_large', event: 'forward_unknown', reason: 'response_too_large' })
  }
  t.notMatch(logLines.join(''), /aaaaaaaaaaaaaaaa/, 'the body is not logged')
})

for (const status of [404, 503]) {
  t.test(`PSP 200, destination answered ${status}: relayed as 200 with status ${status}, not an error`, async t => {
    const h = await buildHarness(t)
    h.destination.setResponse({ status, body: { error: status === 404 ? 'no_such_endpoint' : 'maintenance' } })
    const res = await h.post(validBody)
    t.equal(res.statusCode, 200)
    t.equal(res.json.status, status)
    t.same(res.json.body, { error: status === 404 ? 'no_such_endpoint' : 'maintenance' })
    t.same(h.audits.map(a => a.event), ['accepted', 'forward_ok'])
    t.equal(h.destination.received.length, 1)
  })
}
