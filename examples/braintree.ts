// Braintree Forward API, against the sandbox's Braintree simulator. Run: npx tsx examples/braintree.ts
import Fastify from 'fastify'
import cardForwarding, { braintree, braintreeForwardConfig } from '../index.ts'
import { BRAINTREE_SANDBOX_CREDENTIALS, BRAINTREE_TEST_TOKENS, startBraintreeSimulator } from '../lib/sandbox/index.ts'
import { auth, callAsRokt, destination } from './demo.ts'

const simulator = await startBraintreeSimulator()
const destinations = { 'COM.ROKT.CATALOG': { url: destination.url } }

// What you submit to Braintree for review before production (configName must then name it):
console.log('config for review:', JSON.stringify(braintreeForwardConfig({ id: 'COM.ROKT.CATALOG', ...destinations['COM.ROKT.CATALOG'] }, { name: 'rokt-catalog' })))

const app = Fastify()
app.addHook('onClose', () => simulator.close())
await app.register(cardForwarding, {
  allowedIps: ['127.0.0.1'],
  auth,
  // in production: environment 'production', configName: 'rokt-catalog', and no baseUrl
  psps: { braintree: braintree({ ...BRAINTREE_SANDBOX_CREDENTIALS, environment: 'sandbox', baseUrl: simulator.url }) },
  resolvePaymentMethod: async () => ({
    psp: 'braintree',
    paymentMethodToken: BRAINTREE_TEST_TOKENS.visa,
    billingAddress: { line1: '1 Rokt Way', city: 'New York', postalCode: '10001', country: 'US' },
    customerIdentifiers: { email: 'john.smith@example.com' }
  }),
  destinations,
  allowInsecureUrls: true
})
await callAsRokt(app, 'ORDER_BRAINTREE')
