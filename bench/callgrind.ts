import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/**
 * Reading callgrind's counts for bench:instructions: each function's own instructions per request,
 * the JIT-compiled JavaScript named from Node's `--perf-basic-prof` map (valgrind knows only
 * Node's own symbols), and grouped by what the code does.
 */

/** Instructions per request by function, from callgrind's output and the process's perf map. */
export function functionCosts (callgrindFile: string, perfMapFile: string, requests: number): Map<string, number> {
  const name = symbolizer(perfMapFile)
  const annotated = execFileSync('callgrind_annotate', ['--threshold=100', callgrindFile], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  const costs = new Map<string, number>()
  for (const line of annotated.split('\n')) {
    const match = /^\s*([\d,]+) \([ \d.]+%\)\s+(.*)$/.exec(line)
    if (match === null || match[2].includes('PROGRAM TOTALS')) continue
    const jitted = /0x([0-9a-f]+) \[\?\?\?\]/.exec(match[2])
    const fn = jitted === null ? nativeName(match[2]) : `JS ${name(Number.parseInt(jitted[1], 16)) ?? '(unnamed JIT code)'}`
    costs.set(fn, (costs.get(fn) ?? 0) + Number(match[1].replaceAll(',', '')) / requests)
  }
  return costs
}

/** callgrind's "file:function [object]" as "function" (C++ signatures cut at their argument list). */
function nativeName (entry: string): string {
  const fn = entry.replace(/^[^:]*:/, '').replace(/ \[[^\]]*\]$/, '')
  const args = fn.indexOf('(')
  return args > 0 && !fn.startsWith('(') ? fn.slice(0, args) : fn
}

/**
 * Address -> JavaScript function, from the perf map. Code is freed and its space reused, so an
 * address is named by the last code created there: the code that ran there at the end, when the
 * counting was on. This package's files are named from its build directory ("package:lib/…"), so
 * a reference checkout's functions compare with the same functions here.
 */
function symbolizer (perfMapFile: string): (address: number) => string | undefined {
  const entries = readFileSync(perfMapFile, 'utf8').split('\n').flatMap(line => {
    const [start, size, ...rest] = line.split(' ')
    return rest.length === 0 ? [] : [{ start: Number.parseInt(start, 16), end: Number.parseInt(start, 16) + Number.parseInt(size, 16), name: rest.join(' ') }]
  })
  const named = new Map<number, string | undefined>()
  return address => {
    if (!named.has(address)) named.set(address, entries.findLast(e => e.start <= address && address < e.end)?.name.replace(/^JS:[*^~]?/, '').replace(/file:\/\/\S*?\/dist\/esm\//, 'package:'))
    return named.get(address)
  }
}

const OWNERS: Array<[string, RegExp]> = [
  ['JS: this package', /package:|\/lib\/[\w/-]+\.ts/],
  ['JS: fastify and its parts', /node_modules\/(?:fastify|@fastify|find-my-way|avvio|light-my-request|fast-json-stringify|ajv)/],
  ['JS: fast-jwt', /node_modules\/fast-jwt/],
  ['JS: undici', /node_modules\/undici/],
  ['JS: pino', /node_modules\/(?:pino|sonic-boom)/],
  ['JS: Node internals', /node:|^JS [^/]*$/]
]

export const GC = 'garbage collection'
export const JIT_COMPILER = 'JIT compiler (warm-up not over)'

const NATIVE: Array<[string, RegExp]> = [
  [JIT_COMPILER, /compiler::|maglev::|baseline::/],
  [GC, /Scaveng|MarkCompact|Evacuat|Promot|IteratePointers|BodyDescriptor|Marking|Sweep|Pretenuring|Heap::|Heap_|RememberedSet|SlotSet/],
  ['JSON parse and stringify', /Json/],
  ['hashing (SHA-256 and the like)', /sha\d|SHA\d|EVP_|crypto::|CRYPTO_|OPENSSL_/],
  ['regular expressions', /RegExp|Irregexp/],
  ['promises and async functions', /Promise|Microtask|Await|AsyncFunction|ResumeGenerator/],
  ['property access (inline caches, lookups)', /IC(?:_|$)|LookupIterator|GetProperty|SetProperty|Transition|DataProperties|Dictionary|FastGetOwn/],
  ['strings', /String|Uri::|CopyChars|Utf8/],
  ['allocation (V8 and malloc)', /Factory|Allocat|malloc|free|realloc|memset|memcpy|memmove|memcmp/],
  ['sockets, HTTP parsing, event loop', /llhttp|uv_|epoll|Stream|TCP|writev|read|write/i],
  ['load shedding samples (clock-driven)', /^hdr_|all_values_iter/]
]

/** What the code does: who owns a JavaScript function, or the kind of work a native one does. */
export function categoryOf (fn: string): string {
  if (fn.startsWith('JS RegExp:')) return 'regular expressions'
  if (fn.startsWith('JS ')) return OWNERS.find(([, pattern]) => pattern.test(fn))?.[0] ?? 'JS: other packages'
  return NATIVE.find(([, pattern]) => pattern.test(fn))?.[0] ?? 'other native code'
}

/** Sums of `costs` by category. */
export function byCategory (costs: Map<string, number>): Map<string, number> {
  const sums = new Map<string, number>()
  for (const [fn, n] of costs) sums.set(categoryOf(fn), (sums.get(categoryOf(fn)) ?? 0) + n)
  return sums
}

/** Each key's value in `b` minus its value in `a`, the largest change (either way) first. */
export function differences (a: Map<string, number>, b: Map<string, number>): Array<[string, number]> {
  const keys = new Set([...a.keys(), ...b.keys()])
  return [...keys].map((k): [string, number] => [k, (b.get(k) ?? 0) - (a.get(k) ?? 0)]).sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]))
}
