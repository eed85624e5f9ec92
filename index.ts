import fp from 'fastify-plugin'
import { cardForwardingPlugin } from './lib/plugin.ts'

/** Rokt card forwarding: POST /v1/initiate-payment-sharing answered through the PSP's Forward API. */
const cardForwarding = fp(cardForwardingPlugin, {
  name: 'fastify-rokt-card-forwarding',
  fastify: '5.x',
  encapsulate: true
})

export default cardForwarding
export { cardForwarding }
export { stripe, type StripeOptions } from './lib/adapters/stripe.ts'
export { adyen, type AdyenOptions } from './lib/adapters/adyen.ts'
export { braintree, braintreeForwardConfig, type BraintreeOptions, type BraintreeForwardConfig } from './lib/adapters/braintree.ts'
export { checkoutCom, type CheckoutComOptions } from './lib/adapters/checkout-com.ts'
export * as errors from './lib/errors.ts'
// The toolkit for writing an adapter for another PSP (see the README's "Any other PSP").
export { PspError, PspTimeoutError, safeCode } from './lib/errors.ts'
export { createPspClient, type PspClient, type PspClientOptions, type PspTimeouts } from './lib/psp-http.ts'
export { DEFAULT_TEMPLATE, billingValue, isCardToken, renderTemplate } from './lib/template.ts'
export { destinationBody, headerMap } from './lib/relay.ts'
export type * from './types/index.ts'
