import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** A V8 .cpuprofile (what node --cpu-prof writes). */
interface CpuProfile {
  startTime: number
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number } }>
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileEntry {
  name: string
  /** Milliseconds of self time */
  selfMs: number
  /** Share of the busy (non-idle) time, percent */
  percent: number
}

export interface ProfileSummary {
  busyMs: number
  functions: ProfileEntry[]
  /** Self time grouped by package (node_modules/<name>), our own files, Node internals, GC. */
  owners: ProfileEntry[]
}

const ROOT = fileURLToPath(new URL('..', import.meta.url))

export interface ClockWindow { from: number, to: number }

/**
 * Top self-time functions and owners of a CPU profile, idle time excluded, counting only the
 * samples taken within `windows` (µs of the monotonic clock the profile's timestamps use).
 */
export function summariseProfile (file: string, windows: ClockWindow[], top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const frames = new Map(profile.nodes.map(n => [n.id, n.callFrame]))
  const byFunction = new Map<string, number>()
  const byOwner = new Map<string, number>()
  let busy = 0
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id)
    const micros = profile.timeDeltas[i] ?? 0
    at += micros
    if (!windows.some(w => at >= w.from && at <= w.to) || frame === undefined || frame.functionName === '(idle)') return
    busy += micros
    const where = shortUrl(frame.url)
    // tsx-compiled files have no useful line numbers: name them by file.
    const line = where === '' || where.endsWith('.ts') ? '' : `:${frame.lineNumber + 1}`
    const name = `${frame.functionName || '(anonymous)'}${where === '' ? '' : ` ${where}${line}`}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros)
    const owner = ownerOf(frame.url, frame.functionName)
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + micros)
  })
  const rank = (map: Map<string, number>, n: number) => [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, micros]) => ({ name, selfMs: round(micros / 1000), percent: round(100 * micros / busy) }))
  return { busyMs: round(busy / 1000), functions: rank(byFunction, top), owners: rank(byOwner, top) }
}

function shortUrl (url: string): string {
  const path = url.replace(/^file:\/\//, '')
  const modules = path.lastIndexOf('node_modules/')
  if (modules !== -1) return path.slice(modules + 'node_modules/'.length)
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path
}

function ownerOf (url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  if (url.startsWith('node:')) return 'node:internals'
  const path = shortUrl(url)
  if (url.includes('/node_modules/')) {
    const [scope, name] = path.split('/')
    return scope.startsWith('@') ? `${scope}/${name}` : scope
  }
  if (path.startsWith('bench/')) return 'bench (server)'
  if (path.startsWith('dist/') || path.startsWith('lib/') || path === 'index.ts') return 'this package'
  return path
}

function round (n: number): number {
  return Math.round(n * 10) / 10
}
