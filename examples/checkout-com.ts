// Checkout.com Forward API, against the sandbox's Checkout.com simulator. Run: npx tsx examples/checkout-com.ts
import Fastify from 'fastify'
import cardForwarding, { checkoutCom } from '../index.ts'
import { CHECKOUT_COM_SANDBOX_SECRET_KEY, CHECKOUT_COM_TEST_SOURCES, startCheckoutComSimulator } from '../lib/sandbox/index.ts'
import { auth, callAsRokt, destination } from './demo.ts'

const simulator = await startCheckoutComSimulator()

const app = Fastify()
app.addHook('onClose', () => simulator.close())
await app.register(cardForwarding, {
  allowedIps: ['127.0.0.1'],
  auth,
  // in production: environment 'production' and no baseUrl
  psps: { checkoutCom: checkoutCom({ secretKey: CHECKOUT_COM_SANDBOX_SECRET_KEY, environment: 'sandbox', baseUrl: simulator.url }) },
  // Checkout.com fills the billing address from its stored card ({{billing_address_*}} placeholders).
  resolvePaymentMethod: async () => ({ psp: 'checkoutCom', sourceId: CHECKOUT_COM_TEST_SOURCES.visa, customerIdentifiers: { email: 'john.smith@example.com' } }),
  destinations: { 'COM.ROKT.CATALOG': { url: destination.url } },
  allowInsecureUrls: true
})
await callAsRokt(app, 'ORDER_CHECKOUT')
