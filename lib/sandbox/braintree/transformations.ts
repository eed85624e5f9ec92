import { isJsonObject as isObject } from '../json.ts'
import { ValidationFailure, type Json } from './config.ts'

/** A config's `transformations`: how Braintree builds the outgoing body, headers and url parameters. */

interface Outgoing {
  body: unknown
  header: Json
  urlparam: Json
  var: Json
}

export function applyTransformations (config: Json, vars: Map<string, unknown>): Outgoing {
  const out: Outgoing = { body: {}, header: {}, urlparam: {}, var: {} }
  const list = Array.isArray(config.transformations) ? config.transformations : []
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
      return structuredClone(node)
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
