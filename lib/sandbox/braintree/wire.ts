import type { RecordedRequest } from '../recorder.ts'
import type { RecordingServer, SandboxServerOptions } from '../server.ts'
import { TEST_CARDS, type SandboxCard } from '../test-cards.ts'

/** The Braintree simulator's public types and constants, and its default vault. */

/** A vault entry that is not an exportable card: the two documented 422 cases. */
export type BraintreeVaultFault = 'no_payment_data' | 'not_exportable'

/** Tokens the simulator's vault holds by default. */
export const BRAINTREE_TEST_TOKENS = {
  visa: 'bt_visa',
  mastercard: 'bt_mastercard',
  amex: 'bt_amex',
  visaWithCvc: 'bt_visa_cvc',
  /** A card vaulted with a two-digit year ("2- or 4-digit"). */
  twoDigitYear: 'bt_two_digit_year',
  quotedName: 'bt_quoted_name',
  noPaymentData: 'bt_no_payment_data',
  notExportable: 'bt_not_exportable'
} as const

/** Default sandbox credentials of the simulator. */
export const BRAINTREE_SANDBOX_CREDENTIALS = {
  merchantId: 'sandbox_merchant',
  publicKey: 'sandbox_public_key',
  privateKey: 'sandbox_private_key'
} as const

export interface BraintreeSimulatorOptions extends SandboxServerOptions<BraintreeRecordedRequest> {
  merchantId?: string
  publicKey?: string
  privateKey?: string
  /** 'production' refuses inline configs, as Braintree's production does. Default 'sandbox'. */
  environment?: 'sandbox' | 'production'
  /** false: the credentials lack the Forward API right (403). Default true. */
  forwardApiRight?: boolean
  /** Extra vault entries, token -> card (added to the defaults of BRAINTREE_TEST_TOKENS). */
  vault?: Record<string, SandboxCard | BraintreeVaultFault>
  /** Configs "reviewed and loaded", looked up by `name`. */
  configs?: ReadonlyArray<{ name: string } & object>
  /** Destination timeout when the config sets no `request_timeout`, ms. Default 10000 (Braintree's). */
  destinationTimeoutMs?: number
}

/** A request that reached the Forward API route (`POST /`, its JSON body parsed). */
export type BraintreeRecordedRequest = RecordedRequest

export interface BraintreeSimulator extends RecordingServer<BraintreeRecordedRequest> {
  /** How many requests reached the Forward API route: every recorded one. */
  readonly calls: number
}

export const DEFAULT_VAULT: Record<string, SandboxCard | BraintreeVaultFault> = {
  [BRAINTREE_TEST_TOKENS.visa]: TEST_CARDS.visa,
  [BRAINTREE_TEST_TOKENS.mastercard]: TEST_CARDS.mastercard,
  [BRAINTREE_TEST_TOKENS.amex]: TEST_CARDS.amex,
  [BRAINTREE_TEST_TOKENS.visaWithCvc]: TEST_CARDS.visaWithCvc,
  [BRAINTREE_TEST_TOKENS.twoDigitYear]: TEST_CARDS.twoDigitYear,
  [BRAINTREE_TEST_TOKENS.quotedName]: TEST_CARDS.quotedName,
  [BRAINTREE_TEST_TOKENS.noPaymentData]: 'no_payment_data',
  [BRAINTREE_TEST_TOKENS.notExportable]: 'not_exportable'
}
