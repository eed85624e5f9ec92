import { invalidRequest, invalidType, unknownParam } from './errors.ts'
import type { FormValue } from './form.ts'

/**
 * `GET /v1/forwarding/requests`, as Stripe lists objects (https://docs.stripe.com/api/pagination and
 * stripe-node Forwarding.RequestListParams): newest first, `limit` 1 to 100 (default 10), cursors
 * `starting_after` / `ending_before` (one of them), a `created` range (`gt`, `gte`, `lt`, `lte`, or
 * an exact timestamp). There is no metadata filter: `metadata` is an unknown parameter.
 */

export interface ListedObject { id: string, created: number }

const PARAMS = new Set(['created', 'limit', 'starting_after', 'ending_before', 'expand'])
const RANGE = new Set(['gt', 'gte', 'lt', 'lte'])
const INTEGER = /^\d{1,12}$/

function integer (value: FormValue | undefined, param: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !INTEGER.test(value)) throw invalidRequest(400, `Invalid integer: ${String(value).slice(0, 20)}`, undefined, param)
  return Number(value)
}

function createdFilter (value: FormValue | undefined): (created: number) => boolean {
  if (value === undefined) return () => true
  if (typeof value === 'string') {
    const exact = integer(value, 'created') as number
    return created => created === exact
  }
  if (Array.isArray(value)) throw invalidType('created', 'hash')
  for (const k of Object.keys(value)) if (!RANGE.has(k)) throw unknownParam(`created[${k}]`)
  const gt = integer(value.gt, 'created[gt]')
  const gte = integer(value.gte, 'created[gte]')
  const lt = integer(value.lt, 'created[lt]')
  const lte = integer(value.lte, 'created[lte]')
  return created => (gt === undefined || created > gt) && (gte === undefined || created >= gte) &&
    (lt === undefined || created < lt) && (lte === undefined || created <= lte)
}

/** One page of `all` (oldest first, as created) for the query, in Stripe's list envelope. */
export function listPage<T extends ListedObject> (all: readonly T[], query: Record<string, FormValue>, url: string) {
  for (const k of Object.keys(query)) if (!PARAMS.has(k)) throw unknownParam(k)
  const limit = integer(query.limit, 'limit') ?? 10
  if (limit < 1 || limit > 100) throw invalidRequest(400, 'Invalid limit: must be between 1 and 100', undefined, 'limit')
  const after = query.starting_after
  const before = query.ending_before
  if (after !== undefined && before !== undefined) {
    throw invalidRequest(400, 'You may only specify one of these parameters: ending_before, starting_after.', undefined, 'ending_before')
  }
  const inRange = createdFilter(query.created)
  const newestFirst = [...all].reverse().filter(o => inRange(o.created))
  const cursor = after ?? before
  let start = 0
  let end = newestFirst.length
  if (cursor !== undefined) {
    const at = newestFirst.findIndex(o => o.id === cursor)
    const param = after === undefined ? 'ending_before' : 'starting_after'
    if (at === -1) throw invalidRequest(404, `No such forwarding request: '${String(cursor).slice(0, 64)}'`, 'resource_missing', param)
    if (after !== undefined) start = at + 1
    else end = at
  }
  const data = before === undefined ? newestFirst.slice(start, start + limit) : newestFirst.slice(Math.max(0, end - limit), end)
  const hasMore = before === undefined ? start + limit < newestFirst.length : end - limit > 0
  return { object: 'list', data, has_more: hasMore, url }
}
