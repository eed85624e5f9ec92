// The sandbox: the plugin in a Fastify server, with a Stripe Forward API simulator, a fake Rokt
// destination and an in-memory vault, all on 127.0.0.1. Run: npm start
import Fastify from 'fastify'
import cardForwarding, { stripe, type VaultedPaymentMethod } from '../index.ts'
import { generateTestKeys, mintToken, startFakeDestination, startStripeSimulator, STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'

const port = Number(process.env.PORT ?? 3000)
const issuer = 'https://rokt-sandbox.example/'
const audience = 'rokt-payment-sharing'

const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': 'sandbox-destination-key' } })
const stripeSimulator = await startStripeSimulator({ destinations: [{ url: destination.url }] })
const keys = generateTestKeys('RS256', 'sandbox-key')

const psps = { stripe: stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: stripeSimulator.url }) }

// What the partner vaulted at the first purchase, by the reference it gave Rokt's SDK.
const vault = new Map<string, VaultedPaymentMethod<typeof psps>>([
  ['ORDER_67890', { psp: 'stripe', paymentMethod: 'pm_card_visa', customerIdentifiers: { email: 'john.smith@example.com' } }],
  ['ORDER_STRIPE_MC', { psp: 'stripe', paymentMethod: 'pm_card_mastercard', billingAddress: { line1: '1 Rokt Way', city: 'New York', state: 'NY', postalCode: '10001', country: 'US' } }]
])

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
await app.register(cardForwarding, {
  allowedIps: ['127.0.0.1', '::1'],
  auth: { publicKey: keys.publicKey, issuer, audience, requiredScope: 'payment-sharing' },
  resolvePaymentMethod: ({ partnerPaymentReference }) => vault.get(partnerPaymentReference) ?? null,
  psps,
  destinations: {
    'COM.ROKT.CATALOG': { url: destination.url, headers: { 'x-rokt-api-key': 'sandbox-destination-key' } }
  },
  allowInsecureUrls: true // the simulators speak plain http on loopback; never in production
})

const mint = () => mintToken({ privateKey: keys.privateKey, kid: 'sandbox-key', issuer, audience, clientId: 'rokt-sandbox', subject: 'rokt-sandbox', scope: 'payment-sharing' })
// Sandbox only: a fresh 5-minute token for the next curl.
app.get('/sandbox/token', async () => ({ access_token: mint(), token_type: 'Bearer', expires_in: 300 }))

app.addHook('onClose', async () => {
  await Promise.all([destination.close(), stripeSimulator.close()])
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}

const address = await app.listen({ host: '127.0.0.1', port })
const body = JSON.stringify({ customerIdentifiers: { email: 'john.smith@example.com' }, partnerPaymentReference: 'ORDER_67890', destination: 'COM.ROKT.CATALOG' })
process.stdout.write(`
Sandbox ready: ${address}
  Stripe simulator  ${stripeSimulator.url}
  Rokt destination  ${destination.url}

Forward the vaulted test Visa to the fake Rokt destination (the token is valid for 5 minutes;
GET ${address}/sandbox/token mints another):

curl -s -X POST ${address}/v1/initiate-payment-sharing \\
  -H 'Authorization: Bearer ${mint()}' \\
  -H 'Content-Type: application/json' \\
  -d '${body}'

`)
