/**
 * Stripe API versions, as far as the Forward API depends on them. A caller pins one with the
 * Stripe-Version header; without it the account's default applies
 * (https://docs.stripe.com/api/versioning).
 */

/** The default version of the simulated account: before basil, as an account opened in 2024 keeps it. */
export const STRIPE_SANDBOX_ACCOUNT_VERSION = '2024-12-18.acacia'
const VERSION = /^(\d{4}-\d{2}-\d{2})\.[a-z]+$/

/** From this version a timeout before connecting to the destination is a 402 (changelog 2025-03-31.basil). */
export const UPSTREAM_402_SINCE = '2025-03-31'
/** From this version ForwardingRequests take `metadata` (changelog 2024-10-28.acacia). */
export const METADATA_SINCE = '2024-10-28'

/** The date part of the version a request runs under; undefined when the header is not a version. */
export function versionOf (header: string | string[] | undefined, accountVersion: string): string | undefined {
  return VERSION.exec(typeof header === 'string' ? header : accountVersion)?.[1]
}
