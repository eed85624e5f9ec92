import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { cardForwardingPlugin } from './lib/plugin.ts'
import type { CardForwardingOptions, PspAdapter } from './types/index.ts'

/** Rokt card forwarding: POST /v1/initiate-payment-sharing answered through the PSP's Forward API. */
const cardForwarding: FastifyPluginAsync<CardForwardingOptions<any>> = fp(cardForwardingPlugin, {
  name: 'fastify-rokt-card-forwarding',
  fastify: '5.x',
  encapsulate: true
})

/**
 * Returns `options` unchanged; it exists for TypeScript. Fastify's `register` typings cannot infer
 * the adapters from `psps`, so there a resolver returning a record for an unregistered PSP (or
 * with the wrong handle) type-checks. Through this helper it is a compile error:
 * `app.register(cardForwarding, cardForwardingOptions({ psps, resolvePaymentMethod, ... }))`.
 */
export function cardForwardingOptions<Psps extends Record<string, PspAdapter<any>>> (options: CardForwardingOptions<Psps>): CardForwardingOptions<any> {
  // The return type is deliberately not generic: a generic one would let register's contextual
  // type flow back into the inference and widen `psp: 'stripe'` to string.
  return options
}

export default cardForwarding
export { cardForwarding }
export { stripe } from './lib/psp/adapters/stripe.ts'
export { adyen } from './lib/psp/adapters/adyen.ts'
export { braintree, braintreeForwardConfig } from './lib/psp/adapters/braintree.ts'
export { checkoutCom } from './lib/psp/adapters/checkout-com.ts'
export * as errors from './lib/errors.ts'
// Every error class by name, and the toolkit for another PSP's adapter (README "Any other PSP").
export * from './lib/errors.ts'
export { createPspClient } from './lib/psp/client.ts'
export { DEFAULT_TEMPLATE, billingValue, isCardToken, renderTemplate } from './lib/template.ts'
export { destinationBody, forwardFailure, forwardResult, headerMap, isDestinationAnswer } from './lib/psp/relay.ts'
export { memoryIdempotencyStore } from './lib/stores/memory.ts'
// For the host's logger: no query string, card number, JWT, key or email from a URL on any route (README, Security).
export { redactingLogHooks, redactingSerializers } from './lib/logging.ts'
// Bearer-token conventions of common authorization servers, and the built-in token endpoint's secrets.
export { authPresets } from './lib/edge/auth-presets.ts'
export { generateClientSecret, hashClientSecret } from './lib/edge/token-endpoint/clients.ts'
export type * from './types/index.ts'
