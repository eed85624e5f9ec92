// What doctor prints per PSP (lib/cli/onboarding.ts with each adapter's onboarding lines): what to
// register at the PSP so that the destination's key stays there, and what to ask for.
import t from 'tap'
import { onboardingArtefacts } from '../lib/cli/onboarding.ts'
import { adyen } from '../lib/psp/adapters/adyen.ts'
import { braintree } from '../lib/psp/adapters/braintree.ts'
import { checkoutCom } from '../lib/psp/adapters/checkout-com.ts'
import { stripe } from '../lib/psp/adapters/stripe.ts'
import { ADYEN_SANDBOX, BRAINTREE_SANDBOX_CREDENTIALS, CHECKOUT_COM_SANDBOX_SECRET_KEY } from '../lib/sandbox/index.ts'
import { parseTemplate } from '../lib/template.ts'
import type { BodyTemplate, PreparedDestination, PspAdapter } from '../types/index.ts'

function destination (headers: Record<string, string>, template: BodyTemplate = { card: { number: '{{card.number}}', cvc: '{{card.cvc}}' } }): PreparedDestination {
  return { id: 'D', url: 'https://rokt.example/v1/cards', headers, template, slots: parseTemplate(template, 'D') }
}

const KEY = { 'X-Rokt-Api-Key': 'secret-value', 'X-Trace': 't' }

t.test('Stripe: the headers Stripe must hold, those still sent, the CVC mode; no expiry line without expiry tokens', async t => {
  const held = stripe({ apiKey: 'sk_test_abcd', onboardedHeaders: ['x-rokt-api-key'], cvc: 'when-stored' })
  t.same(held.onboarding?.(destination(KEY)), [
    'credentials give Stripe the value of X-Rokt-Api-Key at onboarding: Stripe adds it, the adapter never sends it',
    'sent        X-Trace travel with each forward (to keep a secret at Stripe instead, give it at onboarding and list it in onboardedHeaders)',
    "cvc         Stripe fills it while it holds the CVC (cvc: 'when-stored')"
  ])
  const plain = stripe({ apiKey: 'sk_test_abcd' })
  t.same(plain.onboarding?.(destination({}, { pan: '{{card.number}}' })), [], 'no headers, no CVC, no expiry: nothing to add')
  t.match(plain.onboarding?.(destination({})), ["cvc         not asked for: sent empty (cvc: 'blank')"])
  await Promise.all([held.close?.(), plain.close?.()])
})

t.test('Adyen, Checkout.com, Braintree: the one credential header, the secrets to create, sensitive_data', async t => {
  const base = { apiKey: ADYEN_SANDBOX.apiKey, merchantAccount: ADYEN_SANDBOX.merchantAccount, environment: 'test' as const }
  const onlyCredential = adyen({ ...base, credentialsHeader: 'x-rokt-api-key' })
  t.same(onlyCredential.onboarding?.(destination({ 'X-Rokt-Api-Key': 'k' })), [
    "credentials X-Rokt-Api-Key travels as Adyen's request.credentials, the header as {{credentials}}: nothing to register",
    'reconcile   subscribe to the forwardApi.notification webhook: Adyen has no lookup of past forwards (merchantReference is the correlation id)'
  ])
  const headersOnly = adyen(base)
  t.match(headersOnly.onboarding?.(destination(KEY))?.[0], /^sent {8}X-Rokt-Api-Key, X-Trace travel as request headers/)

  const cko = checkoutCom({ secretKey: CHECKOUT_COM_SANDBOX_SECRET_KEY, environment: 'sandbox', secretHeaders: { 'x-rokt-api-key': 'rokt_key' } })
  t.same(cko.onboarding?.(destination(KEY)), [
    'secret      create "rokt_key" with the Secrets API (POST https://forward.sandbox.checkout.com/secrets), holding the value of X-Rokt-Api-Key',
    'sent        X-Trace travels with each forward (to keep it at Checkout.com, create a secret and map it in secretHeaders)'
  ])
  const bt = braintree({ ...BRAINTREE_SANDBOX_CREDENTIALS, environment: 'sandbox' })
  t.same(bt.onboarding?.(destination({})), [], 'no headers: nothing travels in sensitive_data')
  await Promise.all([onlyCredential.close?.(), headersOnly.close?.(), cko.close?.(), bt.close?.()])
})

t.test('onboardingArtefacts: an adapter with its own onboarding lines is not told the values travel', async t => {
  const acme: PspAdapter = { name: 'acme', isRecord: (_record): _record is any => true, forward: async () => ({ status: 200, headers: {}, body: null, requestTime: 0, pspBody: null }), onboarding: () => ['vault       register the destination in the Acme dashboard'] }
  const { onboarding: _lines, ...plain } = acme
  const text = onboardingArtefacts({ acme, plain: { ...plain, name: 'plain' } }, new Map(), [destination(KEY)])
  t.match(text, '    headers    X-Rokt-Api-Key, X-Trace (names only)\n')
  t.match(text, 'psps.plain: send plain these destination details for approval\n  D\n    url        https://rokt.example/v1/cards\n    method     POST\n    headers    X-Rokt-Api-Key, X-Trace (names only: the values travel with each forward)\n',
    'without onboarding lines, the adapter is taken to send the values with each forward')
  t.match(text, '    vault       register the destination in the Acme dashboard\n')
  t.notMatch(text, 'secret-value', 'never a header value')
})
