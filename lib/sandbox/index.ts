/**
 * fastify-rokt-card-forwarding/sandbox: local simulators of each PSP's Forward API, a fake Rokt
 * destination and test-token helpers, for tests and the example server. Never for production.
 */
export {
  startFakeDestination, tokenizedResponse,
  type FakeDestination, type FakeDestinationOptions, type DestinationReceived, type DestinationResponse
} from './destination.ts'
export { buildStripeSimulator, startStripeSimulator } from './stripe/simulator.ts'
export { STRIPE_TEST_PAYMENT_METHODS } from './stripe/payment-methods.ts'
export { STRIPE_SANDBOX_API_KEY, type StripeSimulator, type StripeSimulatorOptions, type StripeRecordedRequest } from './stripe/wire.ts'
export {
  generateTestKeys, mintToken, startJwksServer,
  type Jwk, type JwksServer, type MintTokenClaims, type MintTokenOptions, type TestJwk, type TestKeyKind, type TestKeyPair, type TokenKey
} from './tokens.ts'
export { TEST_CARDS, type SandboxCard } from './test-cards.ts'
export { listen, type RunningServer, type RecordingServer, type SandboxServerOptions } from './server.ts'
export { createRecorder, type Recorder, type RecorderOptions, type RecordedRequest } from './recorder.ts'
export { buildAdyenSimulator, startAdyenSimulator } from './adyen/simulator.ts'
export { ADYEN_SANDBOX, type AdyenSimulator, type AdyenSimulatorOptions, type AdyenRecordedRequest } from './adyen/wire.ts'
export { buildBraintreeSimulator, startBraintreeSimulator } from './braintree/simulator.ts'
export {
  BRAINTREE_SANDBOX_CREDENTIALS, BRAINTREE_TEST_TOKENS,
  type BraintreeSimulator, type BraintreeSimulatorOptions, type BraintreeRecordedRequest
} from './braintree/wire.ts'
export { buildCheckoutComSimulator, startCheckoutComSimulator } from './checkout-com/simulator.ts'
export {
  CHECKOUT_COM_SANDBOX_SECRET_KEY, CHECKOUT_COM_TEST_SOURCES,
  type CheckoutComSimulator, type CheckoutComSimulatorOptions, type CheckoutComRecordedRequest
} from './checkout-com/wire.ts'
