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
export * as errors from './lib/errors.ts'
export { DEFAULT_TEMPLATE } from './lib/template.ts'
export type { PspTimeouts } from './lib/psp-http.ts'
export type { CircuitBreakerOptions } from './lib/circuit-breaker.ts'
export { memoryIdempotencyStore, type MemoryIdempotencyStoreOptions } from './lib/idempotency.ts'
export type * from './types/index.ts'
