import { isJsonObject as isObject } from '../json.ts'
import { ValidationFailure, type Json } from './config.ts'

/** A config's `transformations`: how Braintree builds the outgoing body, headers and url parameters. */

interface Outgoing {
  body: unknown
  header: Json
  urlparam: Json
  var: Json
}

/** The vaulted card's expiry, as `format_expiration` reads it. */
export interface Expiry { month: string, year: string }

/**
 * `["format_expiration", format]`: "the format string may include any combination of the
 * following: %Y, %y, %m, %-m, %%" (reference/forward-api/functions): year with century, year
 * modulo 100, month, month without padding, a percent sign. Not documented: how a two-digit
 * vaulted year gets its century (assumed 20xx), and the padding of %m (assumed zero-padded, as
 * strftime, which %-m implies).
 */
function formatExpiration (format: unknown, { month, year }: Expiry): string {
  if (typeof format !== 'string') throw new ValidationFailure('Invalid format_expiration format', { format }) // reading
  const fullYear = year.length === 2 ? `20${year}` : year
  const directives: Record<string, string> = { '%Y': fullYear, '%y': fullYear.slice(-2), '%m': month.padStart(2, '0'), '%-m': String(Number(month)), '%%': '%' }
  return format.replace(/%-m|%[Yym%]/g, d => directives[d])
}

/**
 * A lookup's value. "When template lookups are evaluated the relevant section of the template is
 * fetched, serialized according to the rules in request_format, and returned as a string"; `/var`
 * is "a special section of the template … which is not serialized" (reference/forward-api/variables).
 * Not documented: what a lookup of a single value gives (assumed its text: a form cannot encode a
 * lone value), and the format of `/header` and `/urlparam` (assumed their text too).
 */
function serialized (node: unknown, base: string, format: Json | undefined): unknown {
  if (base === 'var') return structuredClone(node)
  if (node === null || typeof node !== 'object') return String(node)
  if (format?.[`/${base}`] === 'urlencode') return new URLSearchParams(Object.entries(node).map(([k, v]): [string, string] => [k, String(v)])).toString()
  return JSON.stringify(node)
}

export function applyTransformations (config: Json, vars: Map<string, unknown>, expiry: Expiry): Outgoing {
  const out: Outgoing = { body: {}, header: {}, urlparam: {}, var: {} }
  const list = Array.isArray(config.transformations) ? config.transformations : []
  const format = isObject(config.request_format) ? config.request_format : undefined
  for (const t of list) {
    if (!isObject(t) || typeof t.path !== 'string') throw new ValidationFailure('Invalid transformation', { transformation: t }) // reading
    const [base, ...segments] = parsePath(t.path)
    const value = evaluate(t.value)
    if (base === 'body') {
      out.body = segments.length === 0 ? value : setIn(out.body, segments, value)
    } else if ((base === 'header' || base === 'urlparam' || base === 'var') && segments.length === 1) {
      out[base][segments[0]] = value
    } else {
      throw new ValidationFailure('Invalid transformation path', { path: t.path }) // reading
    }
  }
  return out

  function evaluate (value: unknown): unknown {
    if (typeof value === 'string' && value.startsWith('$/')) {
      const [base, ...segments] = parsePath(value.slice(1))
      let node: unknown = (out as unknown as Json)[base]
      for (const s of segments) node = isObject(node) || Array.isArray(node) ? (node as Json)[s] : undefined
      if (node === undefined) throw new ValidationFailure('Undefined variable', { variable: value }) // reading
      return serialized(node, base, format)
    }
    if (typeof value === 'string' && value.startsWith('$')) {
      const name = value.slice(1)
      if (!vars.has(name)) throw new ValidationFailure('Undefined variable', { variable: value }) // reading
      return vars.get(name)
    }
    if (Array.isArray(value)) {
      const [fn, ...args] = value
      if (fn === 'array') return args.map(evaluate)
      if (fn === 'join') {
        const list = evaluate(args[1])
        return (Array.isArray(list) ? list : [list]).join(String(evaluate(args[0])))
      }
      if (fn === 'base64') return Buffer.from(String(evaluate(args[0]))).toString('base64')
      if (fn === 'format_expiration') return formatExpiration(evaluate(args[0]), expiry)
      throw new ValidationFailure('Unknown function', { function: fn }) // reading
    }
    return value
  }
}

/** "/body/a~1b/0" -> ['body', 'a/b', '0'] (RFC 6901 unescaping). */
function parsePath (path: string): string[] {
  const segments = path.split('/').slice(1).map(s => s.replaceAll('~1', '/').replaceAll('~0', '~'))
  if (path[0] !== '/' || segments.includes('__proto__')) throw new ValidationFailure('Invalid transformation path', { path })
  return segments
}

function setIn (root: unknown, segments: string[], value: unknown): unknown {
  const top: any = isObject(root) || Array.isArray(root) ? root : {}
  let node = top
  for (let i = 0; i < segments.length - 1; i++) {
    const key = segments[i]
    if (node[key] === null || typeof node[key] !== 'object') node[key] = /^\d+$/.test(segments[i + 1]) ? [] : {}
    node = node[key]
  }
  node[segments[segments.length - 1]] = value
  return top
}
