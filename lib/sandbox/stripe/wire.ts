import type { RecordedRequest } from '../recorder.ts'
import type { RecordingServer, SandboxServerOptions } from '../server.ts'
import type { SandboxCard } from '../test-cards.ts'

/** The Stripe simulator's public types and constants, in Stripe's wire shape where Stripe has one. */

export const STRIPE_SANDBOX_API_KEY = 'sk_test_sandbox'

/** The path of Stripe's create-ForwardingRequest call. */
export const FORWARD_PATH = '/v1/forwarding/requests'

/** Replacements the simulator fills; `request_signature` is in Stripe's enum but needs a destination config for it. */
export const STRIPE_REPLACEMENTS = ['card_cvc', 'card_expiry', 'card_number', 'cardholder_name'] as const
export type StripeReplacement = typeof STRIPE_REPLACEMENTS[number]

/** Where Stripe writes each card value in a destination's JSON body: dot paths such as `card.number`. */
export interface StripeDestinationFields {
  card_number?: string[]
  card_expiry_month?: string[]
  card_expiry_year?: string[]
  card_cvc?: string[]
  cardholder_name?: string[]
}

/** A destination Stripe has onboarded for the account (Stripe configures these; callers cannot). */
export interface StripeDestinationConfig {
  url: string
  fields?: StripeDestinationFields
  /**
   * The destination credentials given to Stripe at onboarding ("Stripe verifies requests with your
   * credentials provided during onboarding", https://docs.stripe.com/api/forwarding/request), sent
   * with every forward to this destination. Not documented: how Stripe sends them; assumed as these
   * headers, overriding a caller's header of the same name.
   */
  headers?: Record<string, string>
}

/** Stripe's "your own PCI token vault" profile: `{"card":{"number","exp_month","exp_year","cvc","name"}}`. */
export const STRIPE_TOKEN_VAULT_FIELDS: Required<StripeDestinationFields> = {
  card_number: ['card.number'],
  card_expiry_month: ['card.exp_month'],
  card_expiry_year: ['card.exp_year'],
  card_cvc: ['card.cvc'],
  cardholder_name: ['card.name']
}

export interface StripeAddress {
  line1: string | null
  line2: string | null
  city: string | null
  state: string | null
  postal_code: string | null
  country: string | null
}

/** `PaymentMethod.billing_details`, in Stripe's wire shape. */
export interface StripeBillingDetails {
  address: StripeAddress
  email: string | null
  name: string | null
  phone: string | null
}

export interface StripeSandboxPaymentMethod {
  card: SandboxCard
  /** Merged over what the card implies (address from `card.billing`, name from `card.holderName`). */
  billingDetails?: Partial<StripeBillingDetails>
  funding?: 'credit' | 'debit' | 'prepaid' | 'unknown'
}

export interface StripeSimulatorOptions extends SandboxServerOptions<StripeRecordedRequest> {
  /** The secret key callers must present. Default `sk_test_sandbox`. */
  apiKey?: string
  /** Added to (or overriding) the built-in test PaymentMethods, by id. */
  paymentMethods?: Record<string, StripeSandboxPaymentMethod>
  /** The onboarded destinations; a forward to any other URL is refused. Default: none. */
  destinations?: StripeDestinationConfig[]
  /**
   * How long Stripe waits for the destination. Not documented ("time out according to Stripe's
   * limits", https://docs.stripe.com/api/forwarding/request): default 30 000 ms, an assumption.
   */
  destinationTimeoutMs?: number
  /** The account's default API version, for requests without Stripe-Version. Default `2024-12-18.acacia` (before basil). */
  accountApiVersion?: string
  /**
   * What a forward asking for `card_cvc` gets once the PaymentMethod's CVC is gone (Stripe keeps it
   * "for a certain time period" and until its first forward, https://docs.stripe.com/payments/vault-and-forward).
   * Not documented: `'blank'` (default) leaves the CVC field as sent, `'refuse'` answers 400
   * `forwarding_api_invalid_parameter`. Tests run both.
   */
  missingCvc?: 'blank' | 'refuse'
}

/** One request the simulator received, whatever its path. */
export interface StripeRecordedRequest extends RecordedRequest<Record<string, string>, string> {
  /** The path, without the query string. */
  path: string
  /** The raw body ('' when there was none). */
  body: string
}

export interface StripeSimulator extends RecordingServer<StripeRecordedRequest> {
  /** How many `POST /v1/forwarding/requests` were received (authenticated or not). */
  readonly calls: number
}

/** Stripe's error object (the value of `error` in the envelope). */
export interface StripeErrorObject {
  type: 'invalid_request_error' | 'api_error' | 'idempotency_error'
  message: string
  code?: string
  param?: string
  doc_url?: string
}
