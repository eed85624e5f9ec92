import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import { describe, expect, test } from 'tstyche'
import cardForwarding, {
  cardForwarding as namedCardForwarding,
  cardForwardingOptions,
  errors,
  PaymentMethodNotFoundError,
  PspError,
  PspTimeoutError,
  stripe,
  UnauthorizedError,
  type AdyenVaultRecord,
  type ReconcileResult,
  type BraintreeVaultRecord,
  type CardForwardingOptions,
  type CheckoutComVaultRecord,
  type ForwardMetric,
  type ForwardResult,
  type PspAdapter,
  type StripeVaultRecord,
  type VaultedPaymentMethod,
  type VaultedPaymentMethodBase
} from '../index.ts'

// Small adapters typed like the shipped ones, so these tests do not depend on which adapters
// index.ts exports today.
declare const adyen: PspAdapter<AdyenVaultRecord>
declare const braintree: PspAdapter<BraintreeVaultRecord>
declare const checkoutCom: PspAdapter<CheckoutComVaultRecord>

const app = Fastify()
const base = {
  allowedIps: ['203.0.113.0/24'],
  auth: { jwksUrl: 'https://idp.example/.well-known/jwks.json', issuer: 'https://idp.example/', audience: 'rokt-payment-sharing' },
  destinations: { 'COM.ROKT.CATALOG': { url: 'https://rokt.example/cards' } }
}
const psps = { stripe: stripe({ apiKey: 'sk_test_0000' }), adyen, braintree, checkoutCom }
type Psps = typeof psps

describe('exports', () => {
  test('the plugin is a Fastify async plugin, default and named', () => {
    expect(cardForwarding).type.toBeAssignableTo<FastifyPluginAsync<CardForwardingOptions<any>>>()
    expect(namedCardForwarding).type.toBe(cardForwarding)
  })

  test('the error classes are exported by name and under errors', () => {
    expect(new PspError('stripe', 'card_declined')).type.toBeAssignableTo<FastifyError>()
    expect(new PspTimeoutError('adyen').code).type.toBe<'CARD_FORWARDING_PSP_TIMEOUT'>()
    expect(new UnauthorizedError().code).type.toBe<'CARD_FORWARDING_UNAUTHORIZED'>()
    expect(errors.PaymentMethodNotFoundError).type.toBe(PaymentMethodNotFoundError)
    expect(PspError).type.not.toBeConstructableWith('stripe')
  })

  test('the plugin decorates nothing: no module augmentation', () => {
    expect<FastifyInstance>().type.not.toHaveProperty('cardForwarding')
    expect<FastifyInstance>().type.not.toHaveProperty('roktCardForwarding')
  })
})

describe('a custom adapter typed against PspAdapter', () => {
  interface SpreedlyRecord { spreedlyToken: string }

  test('implements the interface and sees its own record shape', () => {
    const spreedly: PspAdapter<SpreedlyRecord> = {
      name: 'spreedly',
      isRecord: (record): record is VaultedPaymentMethodBase & SpreedlyRecord & Record<string, unknown> => typeof record.spreedlyToken === 'string',
      forward: async ({ record, destination, idempotencyKey, correlationId }) => {
        expect(record.spreedlyToken).type.toBe<string>()
        expect(record.psp).type.toBe<string>()
        expect(destination.url).type.toBe<string>()
        expect(idempotencyKey).type.toBe<string | undefined>()
        expect(correlationId).type.toBe<string>()
        return { status: 200, headers: {}, body: { ok: true }, requestTime: 12, pspBody: null }
      },
      reconcile: async (correlationId, options) => {
        expect(options?.pspReference).type.toBe<string | undefined>()
        expect(options?.since).type.toBe<Date | undefined>()
        return { outcome: 'cannot_tell', how: `ask Spreedly about ${correlationId}` }
      },
      onboarding: destination => [`register ${destination.url}`]
    }
    expect(app.register(cardForwarding, cardForwardingOptions({
      ...base,
      psps: { spreedly },
      resolvePaymentMethod: () => ({ psp: 'spreedly', spreedlyToken: 'tok_1' })
    }))).type.not.toRaiseError()
  })

  test('reconcile, when there is one, answers a ReconcileResult', () => {
    const result = {} as ReconcileResult
    if (result.outcome === 'found') expect(result.forwards[0].destination?.status).type.toBe<number | undefined>()
    expect<PspAdapter<SpreedlyRecord>['reconcile']>().type.not.toBeAssignableFrom(async () => ({ outcome: 'maybe' }))
    expect<PspAdapter<SpreedlyRecord>['reconcile']>().type.toBeAssignableFrom(async () => ({ outcome: 'not_found' as const, searched: 'all' }))
  })

  test('must return a ForwardResult', () => {
    expect<PspAdapter<SpreedlyRecord>>().type.toBeAssignableFrom({
      name: 'spreedly',
      isRecord: (_record: VaultedPaymentMethodBase & Record<string, unknown>): _record is any => true,
      forward: async (): Promise<ForwardResult> => ({ status: 200, headers: {}, body: '', requestTime: 1, pspBody: '' })
    })
    expect<PspAdapter<SpreedlyRecord>>().type.not.toBeAssignableFrom({
      name: 'spreedly',
      isRecord: (_record: VaultedPaymentMethodBase & Record<string, unknown>): _record is any => true,
      forward: async () => ({ status: '200', body: '' })
    })
  })
})

describe('a resolver returning each PSP\'s record shape', () => {
  test('is accepted, and narrows on psp', () => {
    expect(app.register(cardForwarding, cardForwardingOptions({
      ...base,
      psps,
      resolvePaymentMethod: async ({ partnerPaymentReference }) => {
        const [psp, handle] = partnerPaymentReference.split(':')
        if (psp === 'stripe') return { psp: 'stripe', paymentMethod: handle }
        if (psp === 'adyen') return { psp: 'adyen', storedPaymentMethodId: handle, shopperReference: 'shopper-1' }
        if (psp === 'braintree') return { psp: 'braintree', paymentMethodToken: handle, cardholderName: 'Jenny Rosen' }
        if (psp === 'checkoutCom') return { psp: 'checkoutCom', sourceId: handle, billingAddress: { country: 'GB' } }
        return null
      }
    }))).type.not.toRaiseError()

    const record = {} as VaultedPaymentMethod<Psps>
    if (record.psp === 'stripe') expect(record).type.toBeAssignableTo<StripeVaultRecord>()
    if (record.psp === 'adyen') {
      expect(record).type.toHaveProperty('shopperReference')
      expect(record).type.not.toHaveProperty('paymentMethod')
    }
    expect<VaultedPaymentMethod<Psps>['psp']>().type.toBe<'stripe' | 'adyen' | 'braintree' | 'checkoutCom'>()
  })

  test('plain options objects and inline resolvers still type-check without the helper', () => {
    const options: CardForwardingOptions<Psps> = { ...base, psps, resolvePaymentMethod: () => ({ psp: 'braintree', paymentMethodToken: 'tok' }) }
    expect(app.register(cardForwarding, options)).type.not.toRaiseError()
    expect(app.register(cardForwarding, {
      ...base,
      psps,
      resolvePaymentMethod: async ({ destination }) => ({ psp: 'checkoutCom', sourceId: destination })
    })).type.not.toRaiseError()
  })
})

describe('type errors', () => {
  test('a record naming a PSP that is not registered', () => {
    expect(app.register(cardForwarding, cardForwardingOptions({
      ...base,
      psps: { stripe: psps.stripe },
      resolvePaymentMethod: async () => ({ psp: 'adyen', storedPaymentMethodId: 'ABC123', shopperReference: 'shopper-1' })
    }))).type.toRaiseError("'\"adyen\"' is not assignable to type '\"stripe\"'")
  })

  test('a record with another PSP\'s handle', () => {
    expect(cardForwardingOptions({
      ...base,
      psps: { stripe: psps.stripe, adyen },
      resolvePaymentMethod: () => ({ psp: 'adyen', paymentMethod: 'pm_card_visa' })
    })).type.toRaiseError('missing the following properties from type \'AdyenVaultRecord\'')
  })

  test('an Adyen record without its shopperReference', () => {
    expect(cardForwardingOptions({
      ...base,
      psps: { adyen },
      resolvePaymentMethod: () => ({ psp: 'adyen', storedPaymentMethodId: 'ABC123' })
    })).type.toRaiseError('Property \'shopperReference\' is missing')
  })

  test('options without a resolver', () => {
    expect(app.register(cardForwarding, { ...base, psps })).type.toRaiseError('No overload matches this call')
  })
})

describe('onForward', () => {
  test('receives a ForwardMetric with a closed outcome', () => {
    expect(app.register(cardForwarding, cardForwardingOptions({
      ...base,
      psps,
      resolvePaymentMethod: () => null,
      onForward: metric => {
        expect(metric).type.toBe<ForwardMetric>()
        expect(metric.outcome).type.toBe<'ok' | 'failed' | 'unknown'>()
        expect(metric.durationMs).type.toBe<number>()
      }
    }))).type.not.toRaiseError()
    expect<ForwardMetric>().type.not.toHaveProperty('partnerPaymentReference')
  })
})
