/** Stripe's API key authentication, as the simulator checks it. */

export const NO_API_KEY = 'You did not provide an API key. You need to provide your API key in the Authorization header, ' +
  "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). " +
  'See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.'

/** The key from `Authorization: Bearer sk_…` or HTTP Basic `sk_…:` (the password is ignored, as Stripe does). */
export function apiKeyFrom (authorization: string | undefined): string | undefined {
  const m = /^(\S+)\s+(.+)$/.exec(authorization ?? '')
  if (!m) return undefined
  const scheme = m[1].toLowerCase()
  if (scheme === 'bearer') return m[2].trim()
  if (scheme === 'basic') return Buffer.from(m[2], 'base64').toString('utf8').split(':')[0]
  return undefined
}
