/** Helpers every adapter uses to turn a PSP's relayed destination answer into the route's response. */

/** Header names lower-cased; PSPs that give arrays (Checkout.com) or name/value lists (Stripe) are flattened. */
export function headerMap (headers: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (Array.isArray(headers)) {
    for (const h of headers) {
      if (h !== null && typeof h === 'object' && typeof h.name === 'string') out[h.name.toLowerCase()] = String(h.value)
    }
  } else if (headers !== null && typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers)) {
      out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
    }
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
