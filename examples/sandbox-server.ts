// The sandbox: the plugin in a Fastify server, with a Stripe Forward API simulator, a fake Rokt
// destination and an in-memory vault, all on 127.0.0.1. Run: npm start
import Fastify from 'fastify'
import cardForwarding, { adyen, braintree, checkoutCom, stripe, type VaultedPaymentMethod } from '../index.ts'
import {
  ADYEN_SANDBOX, BRAINTREE_SANDBOX_CREDENTIALS, BRAINTREE_TEST_TOKENS, CHECKOUT_COM_SANDBOX_SECRET_KEY, CHECKOUT_COM_TEST_SOURCES,
  generateTestKeys, mintToken, startAdyenSimulator, startBraintreeSimulator, startCheckoutComSimulator, startFakeDestination,
  startStripeSimulator, STRIPE_SANDBOX_API_KEY
} from '../lib/sandbox/index.ts'

const port = Number(process.env.PORT ?? 3000)
const issuer = 'https://rokt-sandbox.example/'
const audience = 'rokt-payment-sharing'

const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': 'sandbox-destination-key' } })
const simulators = {
  stripe: await startStripeSimulator({ destinations: [{ url: destination.url }] }),
  adyen: await startAdyenSimulator(),
  braintree: await startBraintreeSimulator(),
  checkoutCom: await startCheckoutComSimulator()
}
const keys = generateTestKeys('RS256', 'sandbox-key')

// A real partner has one of these; the sandbox offers all four.
const psps = {
  stripe: stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: simulators.stripe.url }),
  adyen: adyen({ apiKey: ADYEN_SANDBOX.apiKey, merchantAccount: ADYEN_SANDBOX.merchantAccount, environment: 'test', baseUrl: simulators.adyen.url }),
  braintree: braintree({ ...BRAINTREE_SANDBOX_CREDENTIALS, environment: 'sandbox', baseUrl: simulators.braintree.url }),
  checkoutCom: checkoutCom({ secretKey: CHECKOUT_COM_SANDBOX_SECRET_KEY, environment: 'sandbox', baseUrl: simulators.checkoutCom.url })
}

// What the partner vaulted at the first purchase, by the reference it gave Rokt's SDK.
const billingAddress = { line1: '1 Rokt Way', city: 'New York', state: 'NY', postalCode: '10001', country: 'US' }
const customerIdentifiers = { email: 'john.smith@example.com' }
const vault = new Map<string, VaultedPaymentMethod<typeof psps>>([
  ['ORDER_67890', { psp: 'stripe', paymentMethod: 'pm_card_visa', customerIdentifiers }],
  ['ORDER_ADYEN', { psp: 'adyen', storedPaymentMethodId: ADYEN_SANDBOX.storedPaymentMethods[1].storedPaymentMethodId, shopperReference: ADYEN_SANDBOX.shopperReference, billingAddress, customerIdentifiers }],
  ['ORDER_BRAINTREE', { psp: 'braintree', paymentMethodToken: BRAINTREE_TEST_TOKENS.amex, billingAddress, customerIdentifiers }],
  ['ORDER_CHECKOUT', { psp: 'checkoutCom', sourceId: CHECKOUT_COM_TEST_SOURCES.visa, customerIdentifiers }]
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
  await Promise.all([destination.close(), ...Object.values(simulators).map(s => s.close())])
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}

const address = await app.listen({ host: '127.0.0.1', port })
const body = JSON.stringify({ customerIdentifiers: { email: 'john.smith@example.com' }, partnerPaymentReference: 'ORDER_67890', destination: 'COM.ROKT.CATALOG' })
process.stdout.write(`
Sandbox ready: ${address}
  Rokt destination  ${destination.url}
  PSP simulators    ${Object.entries(simulators).map(([name, s]) => `${name} ${s.url}`).join(', ')}

Forward the vaulted test Visa to the fake Rokt destination (the token is valid for 5 minutes;
GET ${address}/sandbox/token mints another):

curl -s -X POST ${address}/v1/initiate-payment-sharing \\
  -H 'Authorization: Bearer ${mint()}' \\
  -H 'Content-Type: application/json' \\
  -d '${body}'

The same with "partnerPaymentReference" set to ORDER_ADYEN, ORDER_BRAINTREE or ORDER_CHECKOUT
forwards through the Adyen, Braintree or Checkout.com simulator.

`)
