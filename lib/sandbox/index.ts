/**
 * fastify-rokt-card-forwarding/sandbox: local simulators of each PSP's Forward API, a fake Rokt
 * destination and test-token helpers, for tests and the example server. Never for production.
 */
export { startFakeDestination, tokenizedResponse, type FakeDestination, type FakeDestinationOptions, type DestinationReceived, type DestinationResponse } from './destination.ts'
export { buildStripeSimulator, startStripeSimulator, STRIPE_SANDBOX_API_KEY, STRIPE_TEST_PAYMENT_METHODS, type StripeSimulator, type StripeSimulatorOptions } from './stripe.ts'
export { generateTestKeys, mintToken, startJwksServer, type JwksServer, type MintTokenOptions, type TestKeyPair } from './tokens.ts'
export { TEST_CARDS, type SandboxCard } from './test-cards.ts'
export { listen, type RunningServer } from './server.ts'
