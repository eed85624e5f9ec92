import { invalidRequest, invalidType } from './errors.ts'

/** application/x-www-form-urlencoded with Stripe's bracket notation. */

export type FormValue = string | FormValue[] | { [key: string]: FormValue }
type FormNode = string | { [key: string]: FormNode }

/** Stripe's deepest parameter here is request[headers][0][name]: 4 levels. */
const MAX_FORM_DEPTH = 8
const FORM_KEY = /^([^[\]]+)((?:\[[^[\]]*\])*)$/

/**
 * Decodes Stripe's form encoding: `a[b][0][c]=x` nests, `a[0]=x&a[1]=y` and `a[]=x&a[]=y` are
 * arrays. A key that is not of that form, or that both holds a value and nests, is refused.
 */
export function decodeStripeForm (raw: string): Record<string, FormValue> {
  const root: Record<string, FormNode> = Object.create(null)
  for (const [key, value] of new URLSearchParams(raw)) {
    const m = FORM_KEY.exec(key)
    if (!m) throw invalidRequest(400, `Invalid parameter name: ${key}`, undefined, key)
    const segments = [m[1], ...[...m[2].matchAll(/\[([^[\]]*)\]/g)].map((s) => s[1])]
    if (segments.length > MAX_FORM_DEPTH) {
      throw invalidRequest(400, `Invalid parameter name: nested deeper than ${MAX_FORM_DEPTH} levels`, undefined, m[1])
    }
    let node = root
    for (let i = 0; i < segments.length; i++) {
      let segment = segments[i]
      if (segment === '') {
        if (i !== segments.length - 1) throw invalidRequest(400, `Invalid parameter name: ${key}`, undefined, key)
        segment = String(Object.keys(node).length)
      }
      if (i === segments.length - 1) {
        if (typeof node[segment] === 'object') throw invalidType(key, 'string')
        node[segment] = value
      } else {
        const next = node[segment] ?? Object.create(null)
        if (typeof next === 'string') throw invalidType(key, 'hash')
        node = node[segment] = next
      }
    }
  }
  return finish(root) as Record<string, FormValue>
}

/** Turns index-keyed objects into arrays and null-prototype objects into plain ones. */
function finish (node: FormNode): FormValue {
  if (typeof node === 'string') return node
  const keys = Object.keys(node)
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.map(Number).sort((a, b) => a - b).map((k) => finish(node[String(k)]))
  }
  return Object.fromEntries(keys.map((k) => [k, finish(node[k])]))
}

/** Same parameters, same fingerprint, whatever their order. */
export function canonical (value: FormValue): unknown {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return value.map(canonical)
  return Object.keys(value).sort().map((k) => [k, canonical(value[k])])
}
