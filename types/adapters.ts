import type { PspTransportOptions } from './psp.ts'

export interface StripeOptions extends PspTransportOptions {
  /** A secret (sk_) or restricted (rk_) key with forwarding_request_write (and payment_method read). Default baseUrl https://api.stripe.com. */
  apiKey: string
  /**
   * Sent as `Stripe-Version` on every call, so the answers do not depend on the account's default
   * version. Default `2025-03-31.basil`, the first version that answers a timeout before Stripe
   * connects to the destination with 402 (nothing sent) rather than 502/504; earlier ones are refused.
   */
  apiVersion?: string
  /**
   * `'blank'` (default): `{{card.cvc}}` goes out empty and Stripe is not asked for the CVC.
   * `'when-stored'`: Stripe is asked to fill it (`card_cvc`). Stripe keeps a CVC only for a while
   * and only until its first forward, and does not document what a forward asking for a CVC it no
   * longer holds does: use it only right after the customer entered the card.
   */
  cvc?: 'blank' | 'when-stored'
  /**
   * Destination headers Stripe adds itself from the destination's onboarding configuration (Rokt's
   * API key, say): the adapter does not send them, so the secret never travels in a forward request.
   */
  onboardedHeaders?: string[]
}

export interface AdyenOptions extends PspTransportOptions {
  /** A Checkout API key with the Checkout webservice and Merchant Recurring roles. */
  apiKey: string
  merchantAccount: string
  /** Picks the default baseUrl (which, when given, overrides it). */
  environment: 'test' | 'live'
  /** Your live endpoint prefix (Customer Area > Developers > API URLs); required for 'live'. */
  liveUrlPrefix?: string
  /**
   * The one destination header (Rokt's API key, say) whose value travels as Adyen's
   * `request.credentials` and is written `{{credentials}}` in the header, so Adyen handles it as a
   * credential rather than as an ordinary header value.
   */
  credentialsHeader?: string
}

export interface BraintreeOptions extends PspTransportOptions {
  merchantId: string
  publicKey: string
  privateKey: string
  /** Picks the default baseUrl: https://forwarding.sandbox.braintreegateway.com or https://forwarding.braintreegateway.com */
  environment: 'sandbox' | 'production'
  /**
   * The name of the config Braintree loaded (required in production): one name for every destination,
   * or one per destination id. In sandbox it only names the inline config.
   */
  configName?: string | Record<string, string>
}

export interface CheckoutComOptions extends PspTransportOptions {
  /** A secret API key (`sk_sbox_…`, `sk_…`, or a previous-platform `sk_test_<uuid>` / `sk_<uuid>`) with Forward API access. */
  secretKey: string
  /** Picks the default baseUrl, the environment's forward host. */
  environment: 'sandbox' | 'production'
  /** `pc_…`: the processing channel the forward is billed to. */
  processingChannelId?: string
  /**
   * Destination header name -> the name of a secret you created with Checkout.com's Secrets API
   * (`POST /secrets` on the forward host) holding its value: the header goes out as
   * `{{secret_<name>}}` and its value never travels in a forward request.
   */
  secretHeaders?: Record<string, string>
}

/** A value of Braintree's transformation language: a literal, a `$variable`, or a function call `["name", …args]`. */
export type BraintreeValue = string | number | boolean | null | BraintreeValue[]

export interface BraintreeTransformation {
  path: string
  value: BraintreeValue
}

/** A Braintree Forward API config, as Braintree documents it (developer.paypal.com/braintree/docs/reference/forward-api). */
export interface BraintreeForwardConfig {
  name: string
  methods: string[]
  /** A regular expression the request's url must match. */
  url: string
  types: string[]
  request_format: Record<string, 'json' | 'urlencode' | 'xml'>
  transformations: BraintreeTransformation[]
}
