import { stripe } from '../index.ts'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { AUDIENCE, DESTINATION, ISSUER, ROKT_API_KEY } from './shared.ts'

/** What bench/soak-cluster.ts tells each bench/soak-instance.ts process (through the environment). */
export const INSTANCE_ENV = 'SOAK_INSTANCE'

export interface InstanceConfig {
  port: number
  /** The load balancer's address: the only peer whose X-Forwarded-For is believed. */
  proxyAddress: string
  roktAddress: string
  pspUrl: string
  destinationUrl: string
  redisPort: number
  secret: string
  forwardTimeoutMs: number
}

/**
 * What both soaks' plugin hosts share: one HMAC token for the whole run, a vault where every
 * reference is a card whose billing line1 is the reference itself (the destination's bodies then
 * say which order each forward was for), and a Stripe adapter with short timeouts pointed at the
 * fault proxy.
 */
export function soakPluginOptions (pspUrl: string, destinationUrl: string, secret: string) {
  return {
    auth: { secret, issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing', maxTokenAgeSeconds: 3600 },
    resolvePaymentMethod: async ({ partnerPaymentReference }: { partnerPaymentReference: string }) => ({
      psp: 'stripe',
      paymentMethod: 'pm_card_visa',
      billingAddress: { line1: partnerPaymentReference, country: 'US' }
    }),
    psps: {
      stripe: stripe({
        apiKey: STRIPE_SANDBOX_API_KEY,
        baseUrl: pspUrl,
        timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
        circuitBreaker: { failureThreshold: 5, coolDownMs: 1000 }
      })
    },
    destinations: { [DESTINATION]: { url: destinationUrl, headers: { 'x-rokt-api-key': ROKT_API_KEY } } },
    allowInsecureUrls: true
  }
}
