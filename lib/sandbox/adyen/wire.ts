import type { RecordedRequest } from '../recorder.ts'
import type { RecordingServer, SandboxServerOptions } from '../server.ts'
import { TEST_CARDS, type SandboxCard } from '../test-cards.ts'

/** The Adyen simulator's public types and constants, and Adyen's Checkout error object. */

export interface AdyenStoredPaymentMethod {
  shopperReference: string
  storedPaymentMethodId: string
  card: SandboxCard
}

/** What the simulator received, for tests ("nothing reached the PSP"). Bodies hold placeholders, never card data. */
export type AdyenRecordedRequest = RecordedRequest

export interface AdyenSimulatorOptions extends SandboxServerOptions<AdyenRecordedRequest> {
  /** Accepted `X-API-Key`. Default ADYEN_SANDBOX.apiKey. */
  apiKey?: string
  /** A web service user accepted through HTTP Basic. */
  basicAuth?: { username: string, password: string }
  /** Keys that authenticate but lack the Checkout webservice / Merchant Recurring roles: 403 010. */
  keysWithoutRecurringRole?: string[]
  /** Merchant accounts the credential may use. Default [ADYEN_SANDBOX.merchantAccount]. */
  merchantAccounts?: string[]
  /** The token vault. Default ADYEN_SANDBOX.storedPaymentMethods. */
  storedPaymentMethods?: AdyenStoredPaymentMethod[]
  /** `options.dryRun` is a test-environment feature; 'live' refuses it. Default 'test'. */
  environment?: 'test' | 'live'
  /** How long the simulated Adyen waits for the third party, ms. Default 15000. */
  destinationTimeoutMs?: number
  /** How substituted values are written (not documented by Adyen): `'json-escaped'` (default) or `'raw'`. */
  substitution?: 'json-escaped' | 'raw'
  /**
   * The array received requests are recorded into (the most recent `maxRecorded` kept). Default a new array.
   * Ignored when `recorder` is given.
   * @deprecated Pass a `recorder` (createRecorder()), as every simulator takes.
   */
  requests?: AdyenRecordedRequest[]
}

export interface AdyenSimulator extends RecordingServer<AdyenRecordedRequest> {
  /** How many `POST .../v71/forward` were received (authenticated or not). */
  readonly calls: number
}

/** Sandbox credentials and tokens. Not secrets: they only open the local simulator. */
export const ADYEN_SANDBOX = {
  apiKey: 'sandbox_adyen_api_key',
  merchantAccount: 'RoktSandboxECOM',
  shopperReference: 'sandbox-shopper-0001',
  storedPaymentMethods: [
    { shopperReference: 'sandbox-shopper-0001', storedPaymentMethodId: 'M5N7TQ4TG5PFWR50', card: TEST_CARDS.visa },
    { shopperReference: 'sandbox-shopper-0001', storedPaymentMethodId: 'QX7ZK2M4P9LBV3TD', card: TEST_CARDS.mastercard },
    { shopperReference: 'sandbox-shopper-0002', storedPaymentMethodId: 'H8C3RW6JT1NZ5QKA', card: TEST_CARDS.amex },
    { shopperReference: 'sandbox-shopper-0002', storedPaymentMethodId: 'Q7UOTEDNAME0001A', card: TEST_CARDS.quotedName }
  ] satisfies AdyenStoredPaymentMethod[]
} as const

export const ADYEN_FORWARD_PATHS = ['/v71/forward', '/checkout/v71/forward'] as const

/**
 * Adyen's Checkout error object, without the `pspReference` each answer adds
 * (docs.adyen.com "Error codes and messages" and the ServiceError model of @adyen/api-library).
 */
export interface AdyenError {
  status: number
  errorCode: string
  message: string
  errorType: 'validation' | 'security' | 'internal' | 'configuration'
}

/**
 * Codes: 000 "Unauthorised" / "Unable to parse message", 010 "Not allowed", 901 "Invalid Merchant Account" (403,
 * security), 800 "Contract not found" and 803 "PaymentDetail not found" are Adyen's documented generic codes.
 * Adyen does not publish codes for a malformed /forward body: 702 (its generic code for input it cannot
 * accept) with a message naming the field is this simulator's choice, as is 704 for a key still in flight.
 */
export const errors = {
  unauthorized: (): AdyenError => ({
    status: 401, errorCode: '000', message: 'HTTP Status Response - Unauthorized', errorType: 'security'
  }),
  notAllowed: (): AdyenError => ({ status: 403, errorCode: '010', message: 'Not allowed', errorType: 'security' }),
  invalidMerchant: (): AdyenError => ({ status: 403, errorCode: '901', message: 'Invalid Merchant Account', errorType: 'security' }),
  notFound: (): AdyenError => ({ status: 404, errorCode: '000', message: 'Not Found', errorType: 'validation' }),
  unparsable: (): AdyenError => ({ status: 400, errorCode: '000', message: 'Unable to parse message', errorType: 'validation' }),
  tooLarge: (): AdyenError => ({ status: 413, errorCode: '000', message: 'Request Entity Too Large', errorType: 'validation' }),
  invalid: (message: string): AdyenError => ({ status: 422, errorCode: '702', message, errorType: 'validation' }),
  contractNotFound: (): AdyenError => ({ status: 422, errorCode: '800', message: 'Contract not found', errorType: 'validation' }),
  paymentDetailNotFound: (): AdyenError => ({ status: 422, errorCode: '803', message: 'PaymentDetail not found', errorType: 'validation' }),
  inProgress: (): AdyenError => ({
    status: 409, errorCode: '704', message: 'request already processed or in progress', errorType: 'validation'
  }),
  // Adyen documents no answer for an unreachable third party. The documented meaning of 500 ("the server
  // could not process the request") with errorType "internal" is the closest fit; the message says which.
  unreachable: (timedOut: boolean): AdyenError => ({
    status: 500,
    errorCode: '000',
    message: timedOut ? 'Third party did not respond in time' : 'Unable to reach third party',
    errorType: 'internal'
  })
}
