// The sandbox's common mistakes fail the way the real PSP fails, and a process warning names the fix.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import cardForwarding, { stripe } from '../index.ts'
import { generateTestKeys, mintToken, startFakeDestination, startStripeSimulator, STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import type { StripeSimulatorOptions } from '../lib/sandbox/index.ts'

const keys = generateTestKeys('ES256', 'mistakes')
const auth = { issuer: 'https://idp.example/', audience: 'rokt-payment-sharing', clientId: 'rokt' }

const warnings: Error[] = []
const onWarning = (warning: Error) => { if ((warning as Error & { code?: string }).code === 'ROKT_SANDBOX_MISTAKE') warnings.push(warning) }
process.on('warning', onWarning)
t.teardown(() => { process.off('warning', onWarning) })

async function forwardThrough (t: Test, simulatorOptions: (destinationUrl: string) => StripeSimulatorOptions, apiKey = STRIPE_SANDBOX_API_KEY) {
  const destination = await startFakeDestination()
  t.teardown(() => destination.close())
  const simulator = await startStripeSimulator(simulatorOptions(destination.url))
  t.teardown(() => simulator.close())
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(cardForwarding, {
    allowedIps: ['127.0.0.1'],
    auth: { publicKey: keys.publicKey, issuer: auth.issuer, audience: auth.audience },
    psps: { stripe: stripe({ apiKey, baseUrl: simulator.url }) },
    resolvePaymentMethod: () => ({ psp: 'stripe', paymentMethod: 'pm_card_visa' }),
    destinations: { 'COM.ROKT.CATALOG': { url: destination.url } },
    allowInsecureUrls: true
  })
  const post = () => app.inject({
    method: 'POST',
    url: '/v1/initiate-payment-sharing',
    remoteAddress: '127.0.0.1',
    headers: { authorization: `Bearer ${mintToken(keys, auth)}` },
    payload: { partnerPaymentReference: 'ORDER_1', destination: 'COM.ROKT.CATALOG' }
  })
  return { destination, post }
}

/** Warnings are emitted on the next tick. */
const settle = () => new Promise(resolve => setImmediate(resolve))

t.test('a Stripe simulator started without destinations: 502 as Stripe answers, and a warning names the option', async t => {
  warnings.length = 0
  const { destination, post } = await forwardThrough(t, () => ({}))
  const first = await post()
  t.equal(first.statusCode, 502)
  t.equal(first.json().code, 'CARD_FORWARDING_PSP_ERROR')
  await post()
  await settle()
  t.equal(warnings.length, 1, 'once per simulator and URL, not once per request')
  t.equal(warnings[0].message, `Stripe simulator: refused a forward to ${destination.url} (400 forwarding_api_invalid_parameter): ` +
    `it is not an onboarded destination. Start the simulator with { destinations: [{ url: '${destination.url}' }] }, ` +
    'as Stripe onboards each destination URL for an account.')
  t.equal(destination.calls, 0, 'nothing reached the destination')
})

t.test('the same, onboarded: 200, and no warning', async t => {
  warnings.length = 0
  const { post } = await forwardThrough(t, url => ({ destinations: [{ url }] }))
  const res = await post()
  t.equal(res.statusCode, 200)
  t.equal(res.json().body.last4, '4242')
  await settle()
  t.same(warnings, [])
})

t.test('an adapter given another key than the simulator\'s: 502, and a warning names the sandbox key', async t => {
  warnings.length = 0
  const { post } = await forwardThrough(t, url => ({ destinations: [{ url }] }), 'sk_test_notTheSandboxKey1234')
  t.equal((await post()).statusCode, 502)
  await settle()
  t.equal(warnings.length, 1)
  t.equal(warnings[0].message, 'Stripe simulator: refused an API key that is not its own (401). ' +
    'Give the adapter STRIPE_SANDBOX_API_KEY, or start the simulator with { apiKey }.')
  t.notMatch(warnings[0].message, 'notTheSandboxKey', 'the key itself is never shown')
})
