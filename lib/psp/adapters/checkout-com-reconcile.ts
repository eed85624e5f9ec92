import type { PspClient, ReconciledForward, ReconcileOptions, ReconcileResult } from '../../../types/index.ts'
import { PspError } from '../../errors.ts'
import { destinationBody, headerMap, isDestinationAnswer } from '../relay.ts'

/** A forward request's id (the API reference: `^fwd_[A-Z0-9]{26}$`). */
export const FORWARD_ID = /^fwd_[A-Z0-9]{26}$/

/** Checkout.com's envelope `{ request_id, error_type, error_codes: [...] }`: the first code, else the type, else the status. */
export function errorCode (status: number, envelope: any): string {
  const first = Array.isArray(envelope?.error_codes) ? envelope.error_codes[0] : undefined
  if (typeof first === 'string') return first
  if (typeof envelope?.error_type === 'string') return envelope.error_type
  return `http_${status}`
}

/**
 * Checkout.com looks a forward up only by its id: `GET /forward/{id}`, "the details of a
 * successfully forwarded API request … for up to 14 days after the request was initiated"
 * (checkout-sdk-node src/api/forward/forward.js `get`), with the `reference` it was sent with and
 * the `destination_response`, if the destination answered. It has no search by reference.
 */
export async function reconcileCheckoutCom (
  client: PspClient, headers: Record<string, string>, correlationId: string, options: ReconcileOptions = {}
): Promise<ReconcileResult> {
  const id = options.pspReference
  if (id === undefined) {
    return {
      outcome: 'cannot_tell',
      how: `Checkout.com looks a forward up only by its id (fwd_…): take it from the audit event's pspReference, or find the forward with reference ${correlationId} in the Dashboard, and pass it as pspReference`
    }
  }
  if (!FORWARD_ID.test(id)) throw new Error('checkout.com: pspReference must be a forward request id (fwd_ and 26 letters or digits)')
  const res = await client.get(`/forward/${id}`, { headers, signal: options.signal })
  if (res.statusCode === 404) return { outcome: 'not_found', searched: `Checkout.com forward ${id} (Checkout.com keeps forwards 14 days)` }
  if (res.statusCode !== 200) throw new PspError('checkout.com', errorCode(res.statusCode, res.body))
  const found = Object(res.body)
  if (found.reference !== undefined && found.reference !== correlationId) {
    throw new Error(`checkout.com: forward ${id} carries another reference, not ${correlationId}`)
  }
  const forward: ReconciledForward = { pspReference: id, createdAt: String(found.created_on) }
  const answer = found.destination_response
  if (isDestinationAnswer(answer)) {
    const answerHeaders = headerMap(answer.headers)
    forward.destination = { status: answer.status, headers: answerHeaders, body: destinationBody(answer.body, answerHeaders) }
  }
  return { outcome: 'found', forwards: [forward] }
}
