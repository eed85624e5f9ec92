// `fastify-rokt-card-forwarding reconcile`: from an audit event's correlation id to the PSP's
// record of the forward, over loopback against the simulators.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { main } from '../lib/cli/main.ts'
import { parseTime } from '../lib/cli/reconcile.ts'
import { stripe } from '../lib/psp/adapters/stripe.ts'
import {
  ADYEN_SANDBOX, BRAINTREE_SANDBOX_CREDENTIALS, CHECKOUT_COM_SANDBOX_SECRET_KEY, startCheckoutComSimulator, STRIPE_SANDBOX_API_KEY
} from '../lib/sandbox/index.ts'
import { buildHarness, validBody } from './helpers/harness.ts'
import { CORRELATION_ID, PSP_KITS, type PspKit } from './helpers/psp-kits.ts'

const dir = t.testdir({})

async function run (...argv: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, { stdout: { write: (s: string) => { stdout += s } }, stderr: { write: (s: string) => { stderr += s } }, cwd: dir })
  return { code, stdout, stderr }
}

async function config (name: string, psps: Record<string, unknown>): Promise<string> {
  await writeFile(join(dir, name), JSON.stringify({ psps }))
  return name
}

t.test('Stripe: a forward_unknown (we gave up, Stripe did not) is found, with what the destination answered', async t => {
  // The adapter waits 300 ms for Stripe (undici's timers fire up to a second late); the destination
  // takes 2.5 s: the plugin answers 504 forward_unknown, and Stripe completes the forward after.
  const impatient: PspKit = { ...PSP_KITS[0], adapter: url => stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: url, timeouts: { headersMs: 300 }, circuitBreaker: false }) }
  const h = await buildHarness(t, { kit: impatient })
  h.destination.setDelay(2500)
  const res = await h.post(validBody, { headers: { 'idempotency-key': 'rokt-attempt-1' } })
  t.equal(res.statusCode, 504)
  const unknown = h.audits.find(a => a.event === 'forward_unknown')
  t.match(unknown, { correlationId: /^rcf_[0-9a-f]{32}$/, reason: 'headers_timeout' })
  const correlationId = unknown?.correlationId as string
  t.equal(h.audits.find(a => a.event === 'accepted')?.correlationId, correlationId, 'the accepted event names it too')
  await sleep(2700)

  const file = await config('stripe.json', { psp: { adapter: 'stripe', apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: h.simulator.url } })
  const found = await run('reconcile', '--config', file, '--psp', 'psp', '--correlation-id', correlationId)
  t.equal(found.code, 0, found.stderr)
  t.match(found.stdout, new RegExp(`^✔ psps\\.psp \\(stripe\\): 1 forward with correlation id ${correlationId}\\n  fwdreq_\\w+  created \\d{4}-\\S+  the destination answered 200\\n$`))
  t.notMatch(found.stdout, /tokenized|last4/, 'no destination body without --json')

  const json = await run('reconcile', '-c', file, '--psp', 'psp', '--correlation-id', correlationId, '--json', '--since', '1h')
  t.equal(json.code, 0)
  t.match(JSON.parse(json.stdout), { outcome: 'found', forwards: [{ destination: { status: 200, body: { status: 'tokenized' } } }] })

  // Rokt's retry with the same Idempotency-Key carries the same correlation id: reconcile sees both attempts.
  h.destination.setDelay(0)
  t.equal((await h.post(validBody, { headers: { 'idempotency-key': 'rokt-attempt-1' } })).statusCode, 200)
  t.equal(h.audits.at(-1)?.correlationId, correlationId)
  const both = await run('reconcile', '-c', file, '--psp', 'psp', '--correlation-id', correlationId, '--json')
  t.equal(JSON.parse(both.stdout).forwards.length, 1, 'Stripe answered the retry from its first forward (same idempotency key): one ForwardingRequest')
  const fresh = await h.post(validBody)
  t.equal(fresh.statusCode, 200)
  t.not(h.audits.at(-1)?.correlationId, correlationId, 'without an Idempotency-Key, a new random id')

  const none = await run('reconcile', '-c', file, '--psp', 'psp', '--correlation-id', 'rcf_00000000000000000000000000000000', '--since', new Date(Date.now() - 60_000).toISOString(), '--until', '0m')
  t.equal(none.code, 3)
  t.match(none.stdout, /^- psps\.psp \(stripe\): no forward with correlation id rcf_0{32} in Stripe ForwardingRequests created from /)
})

t.test('Checkout.com: found by the pspReference of the audit event; without it, the PSP cannot tell', async t => {
  const sim = await startCheckoutComSimulator()
  t.teardown(() => sim.close())
  const kit: PspKit = { ...PSP_KITS[3], start: async () => sim }
  const h = await buildHarness(t, { kit })
  await h.destination.close()
  const res = await h.post(validBody)
  t.equal(res.statusCode, 502, 'the destination is gone: Checkout.com answers without destination_response')
  const failed = h.audits.at(-1)
  t.match(failed, { event: 'forward_unknown', reason: 'no_destination_response', pspReference: /^fwd_[A-Z0-9]{26}$/, correlationId: /^rcf_/ })

  const file = await config('cko.json', { psp: { adapter: 'checkoutCom', secretKey: CHECKOUT_COM_SANDBOX_SECRET_KEY, environment: 'sandbox', baseUrl: sim.url } })
  const args = ['reconcile', '-c', file, '--psp', 'psp', '--correlation-id', failed?.correlationId as string]
  const found = await run(...args, '--psp-reference', failed?.pspReference as string)
  t.equal(found.code, 0, found.stderr)
  t.match(found.stdout, `  ${failed?.pspReference as string}  created `)
  t.match(found.stdout, 'the destination did not answer')
  const cannot = await run(...args)
  t.equal(cannot.code, 4)
  t.match(cannot.stdout, /^- psps\.psp \(checkout\.com\): the API cannot tell\. Checkout\.com looks a forward up only by its id/)
  const notFound = await run(...args, '--psp-reference', 'fwd_00000000000000000000000000')
  t.equal(notFound.code, 3)
  t.match(notFound.stdout, 'Checkout.com keeps forwards 14 days')
})

t.test('Stripe: every forward carrying the id is listed', async t => {
  const h = await buildHarness(t, { kit: PSP_KITS[0] })
  const adapter = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: h.simulator.url })
  t.teardown(() => adapter.close?.())
  const destination = { id: 'D', url: h.destination.url, headers: { 'x-rokt-api-key': 'rokt_dest_key_0123456789' }, template: { pan: '{{card.number}}' }, slots: [{ path: ['pan'], token: 'card.number' as const }] }
  adapter.prepareDestination?.(destination)
  const send = () => adapter.forward({ correlationId: CORRELATION_ID, record: { psp: 'stripe', paymentMethod: 'pm_card_visa' }, destination })
  await send()
  await send()
  const file = await config('two.json', { psp: { adapter: 'stripe', apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: h.simulator.url } })
  const res = await run('reconcile', '-c', file, '--psp', 'psp', '--correlation-id', CORRELATION_ID)
  t.equal(res.code, 0)
  t.match(res.stdout, `2 forwards with correlation id ${CORRELATION_ID}\n`)
  t.equal(res.stdout.split('the destination answered 200').length, 3)
})

t.test('Adyen and Braintree: the API cannot tell, and the answer says what can', async t => {
  await config('others.json', {
    adyen: { adapter: 'adyen', apiKey: ADYEN_SANDBOX.apiKey, merchantAccount: ADYEN_SANDBOX.merchantAccount, environment: 'test', baseUrl: 'http://127.0.0.1:1' },
    braintree: { adapter: 'braintree', ...BRAINTREE_SANDBOX_CREDENTIALS, environment: 'sandbox', baseUrl: 'http://127.0.0.1:1' }
  })
  const adyen = await run('reconcile', '-c', 'others.json', '--psp', 'adyen', '--correlation-id', CORRELATION_ID)
  t.equal(adyen.code, 4)
  t.match(adyen.stdout, 'forwardApi.notification webhook')
  const braintree = await run('reconcile', '-c', 'others.json', '--psp', 'braintree', '--correlation-id', CORRELATION_ID, '--json')
  t.equal(braintree.code, 4)
  t.match(JSON.parse(braintree.stdout), { outcome: 'cannot_tell', how: /Trace-Id rcf_/ })
})

t.test('refusals: a clear line on stderr and exit 1, never a secret; usage errors exit 2', async t => {
  await config('bad.json', {
    wrongKey: { adapter: 'stripe', apiKey: 'sk_test_wrongSecret00', baseUrl: 'http://127.0.0.1:1' },
    badKey: { adapter: 'stripe', apiKey: 'sk_test_x' }
  })
  await writeFile(join(dir, 'custom.mjs'), 'export default { psps: { acme: { name: "acme", isRecord: () => true, forward: async () => ({}) } } }')
  const cases: Array<[string[], RegExp]> = [
    [['--psp', 'wrongKey', '--correlation-id', 'nope'], /^✖ reconcile: --correlation-id must be a correlation id from the audit log \(rcf_ and 32 hex digits\)\n$/],
    [['--psp', 'missing', '--correlation-id', CORRELATION_ID], /^✖ reconcile: psps\.missing is not in bad\.json \(one of: wrongKey, badKey\)\n$/],
    [['--psp', 'badKey', '--correlation-id', CORRELATION_ID], /^✖ reconcile: stripe: apiKey has the sk_test_ prefix, then 1 characters/],
    [['--psp', 'wrongKey', '--correlation-id', CORRELATION_ID], /^✖ reconcile: the lookup at psps\.wrongKey failed: connection_refused\n$/],
    [['--psp', 'wrongKey', '--correlation-id', CORRELATION_ID, '--since', 'yesterday'], /^✖ reconcile: --since must be an ISO-8601 time or a span such as 90m, 6h or 7d\n$/]
  ]
  for (const [extra, message] of cases) {
    const res = await run('reconcile', '-c', 'bad.json', ...extra)
    t.equal(res.code, 1, extra.join(' '))
    t.match(res.stderr, message)
    t.notMatch(res.stderr + res.stdout, /wrongSecret/)
  }
  await writeFile(join(dir, 'hostile.mjs'), 'export default { psps: { evil: { name: "evil\\u001b[2J", isRecord: () => true, forward: async () => ({}), ' +
    'reconcile: async () => ({ outcome: "found", forwards: [{ pspReference: "id\\u001b]0;pwned\\u0007", createdAt: "now\\r\\n" }] }) } } }')
  const hostile = await run('reconcile', '-c', 'hostile.mjs', '--psp', 'evil', '--correlation-id', CORRELATION_ID)
  t.equal(hostile.code, 0)
  t.equal(hostile.stdout, `✔ psps.evil (evil?[2J): 1 forward with correlation id ${CORRELATION_ID}\n  id?]0;pwned?  created now??  the destination did not answer\n`, 'no escape sequence from a PSP reaches the terminal')
  const custom = await run('reconcile', '-c', 'custom.mjs', '--psp', 'acme', '--correlation-id', CORRELATION_ID)
  t.equal(custom.code, 1)
  t.equal(custom.stderr, '✖ reconcile: psps.acme (acme) has no reconcile method: ask the PSP\n')
  const usage: Array<[string[], string]> = [
    [['reconcile', '-c', 'bad.json'], 'reconcile needs the PSP: --psp <key under psps>'],
    [['reconcile', '-c', 'bad.json', '--psp', 'x'], 'reconcile needs the forward: --correlation-id <rcf_… from the audit event>'],
    [['reconcile', '--psp', 'x', '--correlation-id', CORRELATION_ID], 'reconcile needs the config file: --config <file>'],
    [['reconcile', '-c', 'bad.json', '--psp', 'x', '--correlation-id', CORRELATION_ID, 'extra'], 'unexpected argument "extra"']
  ]
  for (const [argv, problem] of usage) {
    const res = await run(...argv)
    t.equal(res.code, 2, argv.join(' '))
    t.equal(res.stderr.split('\n')[0], problem, `${argv.join(' ')}: says what is missing`)
    t.match(res.stderr, /\n\nUsage: fastify-rokt-card-forwarding doctor/)
  }
  t.match((await run('--help')).stdout, /reconcile asks a PSP whether the forward with this correlation id/)
})

t.test('parseTime: ISO-8601, or minutes, hours, days back from now', async t => {
  const now = Date.parse('2026-01-10T12:00:00Z')
  t.equal(parseTime('90m', '--since', now).toISOString(), '2026-01-10T10:30:00.000Z')
  t.equal(parseTime('6h', '--since', now).toISOString(), '2026-01-10T06:00:00.000Z')
  t.equal(parseTime('7d', '--since', now).toISOString(), '2026-01-03T12:00:00.000Z')
  t.equal(parseTime('2026-01-01T00:00:00Z', '--since', now).toISOString(), '2026-01-01T00:00:00.000Z')
  t.throws(() => parseTime('5w', '--until', now), { message: /^--until must be/ })
})
