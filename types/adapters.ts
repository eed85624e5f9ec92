import type { PspTransportOptions } from './psp.ts'

export interface StripeOptions extends PspTransportOptions {
  /** A secret (sk_) or restricted (rk_) key with forwarding_request_write (and payment_method read). Default baseUrl https://api.stripe.com. */
  apiKey: string
}

export interface AdyenOptions extends PspTransportOptions {
  /** A Checkout API key with the Checkout webservice and Merchant Recurring roles. */
  apiKey: string
  merchantAccount: string
  /** Picks the default baseUrl (which, when given, overrides it). */
  environment: 'test' | 'live'
  /** Your live endpoint prefix (Customer Area > Developers > API URLs); required for 'live'. */
  liveUrlPrefix?: string
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
}

export interface BraintreeTransformation {
  path: string
  value: string | number | boolean | null
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
