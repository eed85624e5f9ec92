// Stripe Vault and Forward, against the sandbox's Stripe simulator. Run: npx tsx examples/stripe.ts
import Fastify from 'fastify'
import cardForwarding, { stripe } from '../index.ts'
import { startStripeSimulator, STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { auth, callAsRokt, destination } from './demo.ts'

// Stripe onboards the destination URL for your account; the simulator does the same.
const simulator = await startStripeSimulator({ destinations: [{ url: destination.url }] })

const app = Fastify()
app.addHook('onClose', () => simulator.close())
await app.register(cardForwarding, {
  allowedIps: ['127.0.0.1'],
  auth,
  psps: { stripe: stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: simulator.url }) }, // in production: just { apiKey }
  resolvePaymentMethod: async () => ({ psp: 'stripe', paymentMethod: 'pm_card_visa', customerIdentifiers: { email: 'john.smith@example.com' } }),
  destinations: { 'COM.ROKT.CATALOG': { url: destination.url } },
  allowInsecureUrls: true // the sandbox speaks http on loopback
})
await callAsRokt(app, 'ORDER_67890')
