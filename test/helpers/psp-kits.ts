import type { PspAdapter } from '../../types/index.ts'
import { adyen } from '../../lib/psp/adapters/adyen.ts'
import { braintree } from '../../lib/psp/adapters/braintree.ts'
import { checkoutCom } from '../../lib/psp/adapters/checkout-com.ts'
import { stripe } from '../../lib/psp/adapters/stripe.ts'
import {
  ADYEN_SANDBOX, BRAINTREE_SANDBOX_CREDENTIALS, BRAINTREE_TEST_TOKENS, CHECKOUT_COM_SANDBOX_SECRET_KEY, CHECKOUT_COM_TEST_SOURCES,
  startAdyenSimulator, startBraintreeSimulator, startCheckoutComSimulator, startStripeSimulator, STRIPE_SANDBOX_API_KEY
} from '../../lib/sandbox/index.ts'
import { TEST_CARDS, type SandboxCard } from '../../lib/sandbox/test-cards.ts'

export interface RunningSimulator {
  url: string
  close: () => Promise<void>
  readonly requests: ReadonlyArray<{ path: string }>
  readonly calls: number
}

/**
 * What the end-to-end suites need to run one PSP: its simulator, its adapter and a vault record.
 * The simulators keep every request (maxRecorded: Infinity): "nothing reached the PSP" compares counts.
 */
export interface PspKit {
  name: string
  start: (destinationUrl: string) => Promise<RunningSimulator>
  adapter: (simulatorUrl: string) => PspAdapter<any>
  /** The PSP-specific part of a vault record holding `card` */
  record: Record<string, string>
  /** A well-formed handle the PSP does not know (gives the PSP's 404-like error) */
  unknownRecord: Record<string, string>
  card: SandboxCard
}

export const PSP_KITS: PspKit[] = [
  {
    name: 'stripe',
    start: url => startStripeSimulator({ destinations: [{ url }], maxRecorded: Infinity }),
    adapter: url => stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: url }),
    record: { paymentMethod: 'pm_card_visa' },
    unknownRecord: { paymentMethod: 'pm_unknown' },
    card: TEST_CARDS.visa
  },
  {
    name: 'adyen',
    start: () => startAdyenSimulator({ maxRecorded: Infinity }),
    adapter: url => adyen({ apiKey: ADYEN_SANDBOX.apiKey, merchantAccount: ADYEN_SANDBOX.merchantAccount, environment: 'test', baseUrl: url }),
    record: { storedPaymentMethodId: ADYEN_SANDBOX.storedPaymentMethods[0].storedPaymentMethodId, shopperReference: ADYEN_SANDBOX.shopperReference },
    unknownRecord: { storedPaymentMethodId: 'ZZZZZZZZZZZZZZZZ', shopperReference: ADYEN_SANDBOX.shopperReference },
    card: TEST_CARDS.visa
  },
  {
    name: 'braintree',
    start: () => startBraintreeSimulator({ maxRecorded: Infinity }),
    adapter: url => braintree({ ...BRAINTREE_SANDBOX_CREDENTIALS, environment: 'sandbox', baseUrl: url }),
    record: { paymentMethodToken: BRAINTREE_TEST_TOKENS.visa },
    unknownRecord: { paymentMethodToken: 'bt_unknown' },
    card: TEST_CARDS.visa
  },
  {
    name: 'checkout.com',
    start: () => startCheckoutComSimulator({ maxRecorded: Infinity }),
    adapter: url => checkoutCom({ secretKey: CHECKOUT_COM_SANDBOX_SECRET_KEY, environment: 'sandbox', baseUrl: url }),
    record: { sourceId: CHECKOUT_COM_TEST_SOURCES.visa },
    unknownRecord: { sourceId: 'src_aaaaaaaaaaaaaaaaaaaaaaaaaa' },
    card: TEST_CARDS.visa
  }
]

/** A correlation id as the route derives one, for tests that call an adapter directly. */
export const CORRELATION_ID = 'rcf_0123456789abcdef0123456789abcdef'
