// Adyen /forward, against the sandbox's Adyen simulator. Run: npx tsx examples/adyen.ts
import Fastify from 'fastify'
import cardForwarding, { adyen } from '../index.ts'
import { ADYEN_SANDBOX, startAdyenSimulator } from '../lib/sandbox/index.ts'
import { auth, callAsRokt, destination } from './demo.ts'

const simulator = await startAdyenSimulator()

const app = Fastify()
app.addHook('onClose', () => simulator.close())
await app.register(cardForwarding, {
  allowedIps: ['127.0.0.1'],
  auth,
  // in production: environment 'live' with your liveUrlPrefix, and no baseUrl
  psps: { adyen: adyen({ apiKey: ADYEN_SANDBOX.apiKey, merchantAccount: ADYEN_SANDBOX.merchantAccount, environment: 'test', baseUrl: simulator.url }) },
  // Adyen has no billing placeholders: the vault record carries the billing address.
  resolvePaymentMethod: async () => ({
    psp: 'adyen',
    storedPaymentMethodId: ADYEN_SANDBOX.storedPaymentMethods[0].storedPaymentMethodId,
    shopperReference: ADYEN_SANDBOX.shopperReference,
    billingAddress: { line1: '1 Rokt Way', city: 'New York', state: 'NY', postalCode: '10001', country: 'US' },
    customerIdentifiers: { email: 'john.smith@example.com' }
  }),
  destinations: { 'COM.ROKT.CATALOG': { url: destination.url } },
  allowInsecureUrls: true
})
await callAsRokt(app, 'ORDER_ADYEN')
