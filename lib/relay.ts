/** Helpers every adapter uses to turn a PSP's relayed destination answer into the route's response. */

/** Hop-by-hop headers describe the PSP's connection to the destination, not the answer (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'])

/**
 * Header names lower-cased, hop-by-hop headers dropped; PSPs that give arrays (Checkout.com) or
 * name/value lists (Stripe) are flattened.
 */
export function headerMap (headers: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  const entries: Array<[unknown, unknown]> = Array.isArray(headers)
    ? headers.map(h => [h?.name, h?.value])
    : Object.entries(headers !== null && typeof headers === 'object' ? headers : {})
  for (const [name, value] of entries) {
    if (typeof name !== 'string' || HOP_BY_HOP.has(name.toLowerCase())) continue
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}

/** DESIGN §4: `body` is parsed JSON when the destination answered JSON, else the raw string. */
export function destinationBody (raw: unknown, headers: Record<string, string>): unknown {
  if (typeof raw !== 'string') return raw ?? null
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(headers['content-type'] ?? '')) return raw
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}
