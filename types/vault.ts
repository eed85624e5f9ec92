import type { FastifyRequest } from 'fastify'
import type { PspAdapter } from './psp.ts'

/** A billing address as the partner's vault (or the PSP) knows it. Never card data. */
export interface BillingAddress {
  line1?: string
  line2?: string
  city?: string
  state?: string
  postalCode?: string
  /** ISO 3166-1 alpha-2 */
  country?: string
}

/** What Rokt sends, and what the vault knows, to tie a reference to one customer. */
export interface CustomerIdentifiers {
  email?: string
  customerId?: string
}

/** Fields every vault record may carry, whatever the PSP. */
export interface VaultedPaymentMethodBase {
  /** The key under `psps` of the adapter that holds this card. */
  psp: string
  billingAddress?: BillingAddress
  cardholderName?: string
  /** What the vault knows about the customer; every identifier Rokt sends must match one of these. */
  customerIdentifiers?: CustomerIdentifiers
}

export interface StripeVaultRecord { paymentMethod: string }
export interface AdyenVaultRecord { storedPaymentMethodId: string, shopperReference: string }
export interface BraintreeVaultRecord { paymentMethodToken: string }
export interface CheckoutComVaultRecord { sourceId: string }

/** A vault record: a discriminated union on `psp`, one member per registered adapter. */
export type VaultedPaymentMethod<Psps extends Record<string, PspAdapter<any>> = Record<string, PspAdapter<any>>> = {
  // The record shape is read inline: through a helper alias, TypeScript widens a resolver's
  // `psp: 'stripe'` to `string` while it infers Psps, and valid records fail to type-check.
  [K in keyof Psps & string]: Omit<VaultedPaymentMethodBase, 'psp'> & { psp: K } & (Psps[K] extends PspAdapter<infer R> ? R : never)
}[keyof Psps & string]

/** The body Rokt posts, after validation. */
export interface PaymentSharingRequest {
  partnerPaymentReference: string
  destination: string
  customerIdentifiers?: CustomerIdentifiers
}

/** What the route gives `resolvePaymentMethod` besides the body and the request. */
export interface ResolveContext {
  /**
   * Aborted at the forward's deadline (`forwardTimeoutMs`): pass it to your
   * database or HTTP client. A resolver that ignores it is cut off at the deadline anyway (504
   * `CARD_FORWARDING_VAULT_TIMEOUT`, nothing forwarded), but its work keeps running.
   */
  signal: AbortSignal
}

export type ResolvePaymentMethod<Psps extends Record<string, PspAdapter<any>>> = (
  body: PaymentSharingRequest,
  request: FastifyRequest,
  context: ResolveContext
) => Promise<VaultedPaymentMethod<Psps> | null | undefined> | VaultedPaymentMethod<Psps> | null | undefined
