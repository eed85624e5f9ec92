import type { PspClient, ReconciledForward, ReconcileOptions, ReconcileResult } from '../../../types/index.ts'
import { destinationBody, headerMap, isDestinationAnswer } from '../relay.ts'

/** The ForwardingRequest metadata key the correlation id travels under (Stripe: keys of at most 40 characters, no brackets). */
export const STRIPE_CORRELATION_KEY = 'rokt_correlation_id'
/** Stripe's largest page (`limit` 1 to 100), and how many pages one lookup reads at most. */
const PAGE = 100
const MAX_PAGES = 50
const DAY_MS = 24 * 60 * 60 * 1000

/** The window searched: `since` (default a day ago) to `until` (default now), both valid dates, in order. */
function windowOf ({ since, until }: ReconcileOptions): { since: Date, until: Date } {
  const end = until ?? new Date()
  const start = since ?? new Date(end.getTime() - DAY_MS)
  if (!(start instanceof Date) || !(end instanceof Date) || Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || start > end) {
    throw new Error('stripe: reconcile needs since and until to be dates, since first')
  }
  return { since: start, until: end }
}

/**
 * Finds the ForwardingRequests carrying this correlation id. Stripe lists them with a `created`
 * range and cursor pagination (`GET /v1/forwarding/requests`, stripe-node
 * Forwarding.RequestListParams: `created`, `limit`, `starting_after`) but has no metadata filter,
 * so the list is read page by page and filtered here. Stripe keeps them 30 days
 * (https://docs.stripe.com/api/forwarding/request).
 */
export async function reconcileStripe (
  client: PspClient, headers: Record<string, string>, fail: (status: number, body: unknown) => Error,
  correlationId: string, options: ReconcileOptions = {}
): Promise<ReconcileResult> {
  const { since, until } = windowOf(options)
  const query = new URLSearchParams({ 'created[gte]': String(Math.floor(since.getTime() / 1000)), 'created[lte]': String(Math.floor(until.getTime() / 1000)), limit: String(PAGE) })
  const forwards: ReconciledForward[] = []
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await client.get(`/v1/forwarding/requests?${query.toString()}`, { headers, signal: options.signal })
    if (res.statusCode !== 200) throw fail(res.statusCode, res.body)
    const list = Object(res.body)
    const data: any[] = Array.isArray(list.data) ? list.data : []
    for (const item of data) {
      if (Object(item.metadata)[STRIPE_CORRELATION_KEY] === correlationId) forwards.push(forwardOf(item))
    }
    if (list.has_more !== true || data.length === 0) {
      return forwards.length > 0
        ? { outcome: 'found', forwards }
        : { outcome: 'not_found', searched: `Stripe ForwardingRequests created from ${since.toISOString()} to ${until.toISOString()} (Stripe keeps them 30 days)` }
    }
    query.set('starting_after', String(data[data.length - 1].id))
  }
  return forwards.length > 0
    ? { outcome: 'found', forwards }
    : { outcome: 'cannot_tell', how: `more than ${PAGE * MAX_PAGES} ForwardingRequests in the window: narrow it (since, until)` }
}

function forwardOf (item: any): ReconciledForward {
  const forward: ReconciledForward = { pspReference: String(item.id), createdAt: new Date(Number(item.created) * 1000).toISOString() }
  const details = item.response_details
  if (isDestinationAnswer(details)) {
    const headers = headerMap(details.headers)
    forward.destination = { status: details.status, headers, body: destinationBody(details.body, headers) }
  }
  return forward
}
