import type { FastifyInstance } from 'fastify'
import type { RecordedRequest } from '../recorder.ts'
import type { RecordingServer, SandboxServerOptions } from '../server.ts'
import { TEST_CARDS, type SandboxCard } from '../test-cards.ts'

/** The Checkout.com simulator's public types and constants, and its default vault. */

/** A NAS sandbox secret key shape (`sk_sbox_` + 27 base32 characters), as checkout-sdk-node recognises it. */
export const CHECKOUT_COM_SANDBOX_SECRET_KEY = 'sk_sbox_m73dzbpy7cf3gfd46xr4yj5xo4e'

/** Stored payment instruments (`src_` + 26 characters, the documented pattern), one per test card. */
export const CHECKOUT_COM_TEST_SOURCES = {
  visa: 'src_v5rgkf3gdtpuzjqesyxmyodnya',
  mastercard: 'src_mc4xk2hq7wbpz3nyt6lfa5rjve',
  amex: 'src_am3pq7rt2vkx6yzb4nwc5hjgle',
  visaWithCvc: 'src_vc2nw6jk3pqz7xbt4mrh5ylfda',
  // Checkout.com holds expiry_month as an integer: a one-digit month.
  shortExpiry: 'src_sx6pq2mk7vtz3nbw4hrj5yafdc',
  quotedName: 'src_qn5wt3pk7mxz2vbr6hjc4ylaed'
} as const

/** A card token (`tok_`, type "token" source) holding TEST_CARDS.visaWithCvc, CVC included. */
export const CHECKOUT_COM_TEST_TOKEN = 'tok_ubfj2q76miwundwlk72vxt23zm'

/** A CVV token (Frames tokenises the CVV alone) for `source.cvv_token`. */
export const CHECKOUT_COM_TEST_CVV_TOKEN = 'tok_cvvq2m7fjw3lk4xd5nt6pzrbya'

export interface CheckoutComSimulatorOptions extends SandboxServerOptions<CheckoutComRecordedRequest> {
  /** The account's secret key. Default CHECKOUT_COM_SANDBOX_SECRET_KEY. */
  secretKey?: string
  /** Vaulted instruments (`src_…`) and tokens (`tok_…`) by id. Default: the test cards above. */
  sources?: Record<string, SandboxCard>
  /** CVV tokens and the CVV each stands for. Default: CHECKOUT_COM_TEST_CVV_TOKEN -> '100'. */
  cvvTokens?: Record<string, string>
  /** How long the simulated PSP waits for the destination, ms. Default 10000. */
  destinationTimeoutMs?: number
  /** Secrets already created with the Secrets API, name -> value. Default none. */
  secrets?: Record<string, string>
  /** How substituted body values are written (not documented by Checkout.com): `'json-escaped'` (default) or `'raw'`. */
  substitution?: 'json-escaped' | 'raw'
  /**
   * Honour Cko-Idempotency-Key on /forward as Checkout.com's idempotency page describes it for its
   * payment endpoints (a 2xx replayed, a concurrent duplicate 409). Default false: that page does
   * not list /forward.
   */
  idempotency?: boolean
}

/** A request that reached the simulator, whatever its path. */
export type CheckoutComRecordedRequest = RecordedRequest

/** @deprecated The type of `buildCheckoutComSimulator(…).recorder`: pass `options.recorder` instead, as every simulator takes. */
export interface CheckoutComRecorder {
  /** Every request that reached the simulator, in order. */
  readonly requests: CheckoutComRecordedRequest[]
  readonly calls: number
}

/** The app, with (deprecated) the recorder it records into as `recorder`. */
export type CheckoutComSimulatorApp = FastifyInstance & { recorder: CheckoutComRecorder }

export interface CheckoutComSimulator extends RecordingServer<CheckoutComRecordedRequest> {
  /** How many requests reached the simulator: every recorded one. */
  readonly calls: number
}

export const DEFAULT_SOURCES: Record<string, SandboxCard> = {
  [CHECKOUT_COM_TEST_SOURCES.visa]: TEST_CARDS.visa,
  [CHECKOUT_COM_TEST_SOURCES.mastercard]: TEST_CARDS.mastercard,
  [CHECKOUT_COM_TEST_SOURCES.amex]: TEST_CARDS.amex,
  [CHECKOUT_COM_TEST_SOURCES.visaWithCvc]: TEST_CARDS.visaWithCvc,
  [CHECKOUT_COM_TEST_SOURCES.shortExpiry]: TEST_CARDS.shortExpiry,
  [CHECKOUT_COM_TEST_SOURCES.quotedName]: TEST_CARDS.quotedName,
  [CHECKOUT_COM_TEST_TOKEN]: TEST_CARDS.visaWithCvc
}
