import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { createSigner } from 'fast-jwt'
import { generateTestKeys, type TestKeyPair } from '../lib/sandbox/tokens.ts'
import { runLoad, summariseLatencies, type LoadOptions, type LoadRun } from './load.ts'
import { startChild, type BenchChild } from './processes.ts'
import { summariseProfile, type ClockWindow, type ProfileSummary } from './profile.ts'
import { AUDIENCE, backendConfig, CONFIG_ENV, ISSUER, PACKAGE_ENV, REQUEST_BODIES, ROUTE, SCOPE, type ServerConfig } from './shared.ts'

/**
 * `npm run bench`. This process generates the load (autocannon); each workload's server under
 * test runs in a process of its own; one backend process runs the Stripe simulator and the fake
 * destination. Whatever else runs on the machine changes over time, so the workloads are measured
 * in interleaved slices (round-robin over `--rounds`) and every ratio compares figures taken side
 * by side.
 */

const USAGE = `npm run bench -- [--duration s] [--rounds n] [--warmup s] [--connections n] [--only name,...] [--long] [--long-duration s] [--profile] [--reference dir]
  --duration    measured seconds per workload, split into --rounds interleaved slices (default 10, 5)
  --warmup      seconds of load per server before measuring (default 3)
  --connections concurrent keep-alive connections of the load generator (default 32)
  --only        a comma-separated subset of full-rs256, full-rs256-fresh, full-es256, baseline, full-rs256-logged,
                baseline-logged, express, reject-token, reject-ip (none: only the --long run)
  --long        also load one plugin server for --long-duration seconds (more than 10; default 60) and compare its memory at 10 s and at the end
  --profile     run the servers under node --cpu-prof and summarise the measured slices (figures inflated; written to bench/profiles/)
  --reference   a checkout of another commit, built (npm run build): adds full-rs256-ref, the full-rs256 workload on that
                build's dist/esm, interleaved with the rest, so two versions of the code are compared in one run
  env: BENCH_DURATION, BENCH_ROUNDS, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_ONLY, BENCH_LONG=1, BENCH_LONG_DURATION, BENCH_PROFILE=1, BENCH_REFERENCE`

const { values } = parseArgs({
  options: {
    duration: { type: 'string', short: 'd' },
    rounds: { type: 'string', short: 'r' },
    warmup: { type: 'string', short: 'w' },
    connections: { type: 'string', short: 'c' },
    only: { type: 'string' },
    long: { type: 'boolean' },
    'long-duration': { type: 'string' },
    profile: { type: 'boolean' },
    reference: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (values.help === true) {
  console.log(USAGE)
  process.exit(0)
}
const env = process.env
const settings = {
  durationSeconds: positive('duration', values.duration ?? env.BENCH_DURATION, 10),
  rounds: Math.round(positive('rounds', values.rounds ?? env.BENCH_ROUNDS, 5)),
  warmupSeconds: positive('warmup', values.warmup ?? env.BENCH_WARMUP, 3),
  connections: Math.round(positive('connections', values.connections ?? env.BENCH_CONNECTIONS, 32)),
  long: values.long === true || env.BENCH_LONG === '1',
  longDurationSeconds: positive('long-duration', values['long-duration'] ?? env.BENCH_LONG_DURATION, 60),
  profile: values.profile === true || env.BENCH_PROFILE === '1',
  reference: values.reference ?? env.BENCH_REFERENCE
}
const only = (values.only ?? env.BENCH_ONLY)?.split(',').map(s => s.trim())

/** The plugin's Stripe adapter keeps this many connections to the PSP (lib/psp/client.ts), as does the baseline. */
const POOL_SIZE = 64
const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
const PROFILE_DIR = `${BENCH_DIR}profiles`
const OUT = settings.profile ? `${PROFILE_DIR}/results.json` : `${BENCH_DIR}results.json`
const ALLOW_LOOPBACK = ['127.0.0.1/32']
/** Where the logged workloads' servers write their log files; removed at the end. */
const LOG_DIR = mkdtempSync(join(tmpdir(), 'rcf-bench-logs-'))
/** More than a verified-token cache is likely to hold, so a cycle through them always misses. */
const DISTINCT_TOKENS = 2000

interface Workload {
  name: string
  label: string
  server: 'plugin' | 'baseline' | 'express'
  alg: 'RS256' | 'ES256'
  /** Tokens signed with a key the server does not know. */
  forged?: boolean
  /** A different token on every request (cycling through DISTINCT_TOKENS): no verified-token cache can help. */
  distinct?: boolean
  allowedIps?: string[]
  /** The host's logger on at info, writing to a file (see hostLogger). */
  logged?: boolean
  /** The plugin server loads this build (--reference) instead of the checkout's own. */
  packageUrl?: string
  expect: number
}

const WORKLOADS: Workload[] = [
  { name: 'full-rs256', label: 'plugin full route, one RS256 token reused', server: 'plugin', alg: 'RS256', expect: 200 },
  { name: 'full-rs256-fresh', label: `plugin full route, ${DISTINCT_TOKENS} distinct RS256 tokens`, server: 'plugin', alg: 'RS256', distinct: true, expect: 200 },
  { name: 'full-es256', label: 'plugin full route, one ES256 token reused', server: 'plugin', alg: 'ES256', expect: 200 },
  { name: 'baseline', label: 'bare Fastify route + the same undici call', server: 'baseline', alg: 'RS256', expect: 200 },
  { name: 'full-rs256-logged', label: 'plugin full route, one RS256 token reused, host logger at info to a file', server: 'plugin', alg: 'RS256', logged: true, expect: 200 },
  { name: 'baseline-logged', label: 'bare Fastify route, host logger at info to a file', server: 'baseline', alg: 'RS256', logged: true, expect: 200 },
  { name: 'express', label: 'hand-rolled Express 5 + jsonwebtoken + fetch', server: 'express', alg: 'RS256', expect: 200 },
  { name: 'reject-token', label: `plugin, ${DISTINCT_TOKENS} distinct forged RS256 tokens -> 401`, server: 'plugin', alg: 'RS256', forged: true, distinct: true, expect: 401 },
  { name: 'reject-ip', label: 'plugin, client IP not allowed -> 403', server: 'plugin', alg: 'RS256', allowedIps: ['203.0.113.0/24'], expect: 403 }
]
const LONG: Workload = { ...WORKLOADS[0], name: 'full-rs256-long' }
const REFERENCE: Workload | null = settings.reference === undefined ? null : referenceWorkload(settings.reference)
const unknown = only?.filter(name => name !== 'none' && !WORKLOADS.some(w => w.name === name)) ?? []
if (unknown.length > 0) throw new Error(`--only: no workload ${unknown.join(', ')}\n${USAGE}`)
if (settings.longDurationSeconds <= 10) throw new Error(`--long-duration must be more than 10 (s)\n${USAGE}`)

const keys: Record<Workload['alg'], TestKeyPair> = { RS256: generateTestKeys('RS256', 'rokt-rsa-1'), ES256: generateTestKeys('ES256', 'rokt-ec-1') }
const forger = generateTestKeys('RS256', 'rokt-rsa-1')

/** A workload whose server is running, with what its measured slices added up to. */
interface Subject {
  w: Workload
  server: BenchChild
  load: Omit<LoadOptions, 'durationSeconds'>
  runs: LoadRun[]
  serverCpuMicros: number
  backendCpuMicros: number
  /** New TCP connections and requests the simulator saw while this workload ran, warm-up included */
  simConnections: number
  simRequests: number
  windows: ClockWindow[]
  rss: number
  heapUsed: number
}

interface Measured {
  name: string
  label: string
  rps: number
  p50: number
  p97_5: number
  p99: number
  mean: number
  requests: number
  /** Responses with another status than the workload expects, plus socket errors and timeouts */
  unexpected: number
  statuses: Record<string, number>
  cpuMicrosPerRequest: number
  /** CPU of the simulator + destination process per request: load on the shared cores the route does not own */
  backendCpuMicrosPerRequest: number
  loadCpuMicrosPerRequest: number
  rssMB: number
  heapUsedMB: number
  simConnections: number
  simRequests: number
  connectionsPer10k: number | null
  /** Requests per second of each slice, in order */
  slices: number[]
  /** Logged workloads: the log file's size over every forward the server made (warm-up included) */
  logBytesPerRequest?: number
  profile?: ProfileSummary
}

interface LongRun {
  at: Array<{ seconds: number, rssMB: number, heapUsedMB: number, rps: number, p99: number }>
  growthPercent: number
  /** The simulator + destination process after the first step and at the end */
  backendRssMB: [number, number]
  /** The backend's heap after a full GC: what it retains (its bounded recorders and maps) */
  backendHeapMB: [number, number]
}

/** full-rs256 on another build: `dir` is a checkout with dist/esm/index.js (and node_modules, or a link to ours). */
function referenceWorkload (dir: string): Workload {
  const entry = resolve(dir, 'dist/esm/index.js')
  if (!existsSync(entry)) throw new Error(`--reference: no ${entry}: run npm run build in that checkout first\n${USAGE}`)
  return { ...WORKLOADS[0], name: 'full-rs256-ref', label: `plugin full route, one RS256 token reused, the build in ${dir}`, packageUrl: pathToFileURL(entry).href }
}

/** Access tokens as Rokt's IdP would mint them, each with its own jti. */
function tokens (w: Workload, count: number): string[] {
  const key = keys[w.alg]
  const sign = createSigner({ key: w.forged === true ? forger.privateKey : key.privateKey, algorithm: w.alg, kid: key.jwk.kid, header: { alg: w.alg, typ: 'at+jwt' } })
  const iat = Math.floor(Date.now() / 1000)
  return Array.from({ length: count }, () => `Bearer ${sign({ iss: ISSUER, aud: AUDIENCE, scope: SCOPE, client_id: 'rokt', sub: 'rokt', jti: randomUUID(), iat, exp: iat + 900 })}`)
}

/** Starts the workload's server, checks one request, warms it up. */
async function start (w: Workload, backend: BenchChild): Promise<Subject> {
  const config: ServerConfig = {
    ...backendConfig(backend.info),
    publicKey: keys[w.alg].publicKey,
    allowedIps: w.allowedIps ?? ALLOW_LOOPBACK,
    ...(w.logged === true ? { logFile: join(LOG_DIR, `${w.name}.log`) } : {})
  }
  // One directory per workload: tsx's loader thread writes a profile of its own beside the main thread's.
  if (settings.profile) rmSync(profileDir(w), { recursive: true, force: true })
  const profiling = settings.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir(w)}`] : []
  const server = await startChild(`servers/${w.server}.ts`, { [CONFIG_ENV]: JSON.stringify(config), ...(w.packageUrl === undefined ? {} : { [PACKAGE_ENV]: w.packageUrl }) }, ['--expose-gc', ...profiling])
  const authorizations = tokens(w, w.distinct === true ? DISTINCT_TOKENS : 1)
  const base = { url: server.info.url + ROUTE, headers: { 'content-type': 'application/json', authorization: authorizations[0] }, body: REQUEST_BODIES[0], bodies: REQUEST_BODIES, connections: settings.connections }
  const load = w.distinct === true ? { ...base, authorizations } : base
  const subject: Subject = { w, server, load, runs: [], serverCpuMicros: 0, backendCpuMicros: 0, simConnections: 0, simRequests: 0, windows: [], rss: 0, heapUsed: 0 }
  await counted(subject, backend, async () => {
    await check(subject)
    await runLoad({ ...load, durationSeconds: settings.warmupSeconds })
  })
  return subject
}

/** One request first: a workload that does not answer what it should is a broken bench, not a figure. */
async function check ({ w, load }: Subject): Promise<void> {
  const res = await fetch(load.url, { method: 'POST', headers: load.headers, body: load.body })
  const text = await res.text()
  if (res.status !== w.expect || (w.expect === 200 && !text.includes('4242'))) {
    throw new Error(`${w.name}: expected ${w.expect}, got ${res.status} ${text.slice(0, 300)}`)
  }
}

/** Adds the simulator's new connections and requests during `work` to the subject's count. */
async function counted<T> (s: Subject, backend: BenchChild, work: () => Promise<T>): Promise<T> {
  const before = await backend.ask('stats')
  const outcome = await work()
  const after = await backend.ask('stats')
  s.simConnections += after.connections - before.connections
  s.simRequests += after.requests - before.requests
  return outcome
}

/** One measured slice: load, and the CPU both the server and the backend spent meanwhile. */
async function measureSlice (s: Subject, backend: BenchChild, seconds: number): Promise<LoadRun> {
  const run = await counted(s, backend, async () => {
    await backend.ask('probe-start')
    const from = (await s.server.ask('probe-start')).clockMicros
    const run = await runLoad({ ...s.load, durationSeconds: seconds })
    const probe = await s.server.ask('probe-stop')
    const backendProbe = await backend.ask('probe-stop')
    s.windows.push({ from, to: probe.clockMicros })
    s.serverCpuMicros += probe.cpuMicros
    s.backendCpuMicros += backendProbe.cpuMicros
    s.rss = probe.rss
    s.heapUsed = probe.heapUsed
    return run
  })
  s.runs.push(run)
  return run
}

function rpsOf (run: LoadRun): number {
  return run.latencies.length / run.seconds
}

function result (s: Subject): Measured {
  const latencies = s.runs.flatMap(r => r.latencies)
  const requests = latencies.length
  const per = (micros: number) => round(micros / Math.max(requests, 1), 0)
  const statuses: Record<string, number> = {}
  for (const r of s.runs) for (const [code, count] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + count
  const expected = statuses[s.w.expect] ?? 0
  const failures = s.runs.reduce((n, r) => n + r.errors + r.timeouts, 0)
  const latency = summariseLatencies(latencies)
  return {
    name: s.w.name,
    label: s.w.label,
    rps: round(requests / s.runs.reduce((n, r) => n + r.seconds, 0), 0),
    p50: round(latency.p50, 2),
    p97_5: round(latency.p97_5, 2),
    p99: round(latency.p99, 2),
    mean: round(latency.mean, 2),
    requests,
    unexpected: requests - expected + failures,
    statuses,
    cpuMicrosPerRequest: per(s.serverCpuMicros),
    backendCpuMicrosPerRequest: per(s.backendCpuMicros),
    loadCpuMicrosPerRequest: per(s.runs.reduce((n, r) => n + r.cpuMicros, 0)),
    rssMB: mb(s.rss),
    heapUsedMB: mb(s.heapUsed),
    simConnections: s.simConnections,
    simRequests: s.simRequests,
    connectionsPer10k: s.w.expect !== 200 || s.simRequests === 0 ? null : round(s.simConnections * 10_000 / s.simRequests, 1),
    slices: s.runs.map(r => round(rpsOf(r), 0))
  }
}

/** The workloads, interleaved: round r runs every workload once for duration/rounds seconds, starting one further along. */
async function measureAll (workloads: Workload[]): Promise<Measured[]> {
  const backend = await startChild('backend.ts')
  const subjects: Subject[] = []
  try {
    for (const w of workloads) {
      console.log(`${w.name}: ${w.label}`)
      subjects.push(await start(w, backend))
    }
    const slice = settings.durationSeconds / settings.rounds
    for (let r = 0; r < settings.rounds; r++) {
      const order = subjects.map((_, i) => subjects[(i + r) % subjects.length])
      const line: string[] = []
      for (const s of order) line.push(`${s.w.name} ${Math.round(rpsOf(await measureSlice(s, backend, slice)))}`)
      console.log(`round ${r + 1}/${settings.rounds} (req/s): ${line.join(', ')}`)
    }
    const { rss } = await backend.ask('probe-stop')
    console.log(`simulator + destination process: RSS ${mb(rss)} MB after ${subjects.reduce((n, s) => n + s.simRequests, 0)} PSP requests`)
  } finally {
    for (const s of subjects) await s.server.stop()
    await backend.stop()
  }
  return subjects.map(s => settings.profile ? { ...result(s), profile: summariseProfile(mainThreadProfile(s.w), s.windows) } : result(s))
}

/** One plugin server under load for 10 s, then on to the long duration: does its memory settle? */
async function measureLong (w: Workload): Promise<LongRun> {
  console.log(`${w.name}: ${w.label}, ${settings.longDurationSeconds} s`)
  // --expose-gc: the backend's memory is read after a full GC, as the server's is (what it retains).
  const backend = await startChild('backend.ts', {}, ['--expose-gc'])
  const at: LongRun['at'] = []
  const backendRss: number[] = []
  const backendHeap: number[] = []
  try {
    const s = await start(w, backend)
    try {
      let seconds = 0
      for (const step of [10, settings.longDurationSeconds - 10]) {
        const run = await measureSlice(s, backend, step)
        seconds += step
        at.push({ seconds, rssMB: mb(s.rss), heapUsedMB: mb(s.heapUsed), rps: round(rpsOf(run), 0), p99: round(summariseLatencies(run.latencies).p99, 2) })
        const memory = await backend.ask('probe-stop')
        backendRss.push(mb(memory.rss))
        backendHeap.push(mb(memory.heapUsed))
      }
    } finally {
      await s.server.stop()
    }
  } finally {
    await backend.stop()
  }
  const [first, last] = [at[0], at[at.length - 1]]
  return {
    at,
    growthPercent: round(100 * (last.rssMB - first.rssMB) / first.rssMB, 1),
    backendRssMB: [backendRss[0], backendRss[backendRss.length - 1]],
    backendHeapMB: [backendHeap[0], backendHeap[backendHeap.length - 1]]
  }
}

function profileDir (w: Workload): string {
  return `${PROFILE_DIR}/${w.name}`
}

/** node --cpu-prof names files CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; the main thread is 0. */
function mainThreadProfile (w: Workload): string {
  const file = readdirSync(profileDir(w)).find(f => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f))
  if (file === undefined) throw new Error(`no main-thread profile in ${profileDir(w)}`)
  return `${profileDir(w)}/${file}`
}

interface Target { name: string, measured: string, target: string, met: boolean }

/** Issue 16's targets: the plugin's own CPU, throughput against the bare route, rejections against a forward, latency, memory. */
const OWN_CPU_MICROS = { reused: 120, fresh: 220 }
const MIN_THROUGHPUT = 0.9
const MAX_P99_EXTRA_MS_ONE_CONNECTION = 0.5
const MIN_REJECTION_RATIO: Record<string, number> = { 'reject-token': 5, 'reject-ip': 15 }
const MAX_MEMORY_GROWTH_PERCENT = 10

function targets (results: Measured[], long: LongRun | null): Target[] {
  const get = (name: string) => results.find(r => r.name === name)
  const out: Target[] = []
  const pairs: Array<[string, string, number, boolean]> = [
    ['full-rs256', 'baseline', OWN_CPU_MICROS.reused, true],
    ['full-es256', 'baseline', OWN_CPU_MICROS.reused, true],
    ['full-rs256-fresh', 'baseline', OWN_CPU_MICROS.fresh, false],
    ['full-rs256-logged', 'baseline-logged', OWN_CPU_MICROS.reused, true]
  ]
  for (const [name, baseName, cpuTarget, throughputTarget] of pairs) {
    const full = get(name)
    const base = get(baseName)
    if (full === undefined || base === undefined) continue
    const own = full.cpuMicrosPerRequest - base.cpuMicrosPerRequest
    out.push({ name: `${name}: CPU over ${baseName}`, measured: `${own} µs/req (${round(own / cpuTarget, 2)} x the target)`, target: `<= ${cpuTarget} µs`, met: own <= cpuTarget })
    const ratio = full.rps / base.rps
    if (throughputTarget) out.push({ name: `${name} / ${baseName} throughput`, measured: `${round(100 * ratio, 1)} %`, target: `>= ${100 * MIN_THROUGHPUT} %`, met: ratio >= MIN_THROUGHPUT })
    if (settings.connections === 1) {
      const extra = full.p99 - base.p99
      out.push({ name: `${name} p99 - ${baseName} p99, one connection`, measured: `${round(extra, 2)} ms`, target: `<= ${MAX_P99_EXTRA_MS_ONE_CONNECTION} ms`, met: extra <= MAX_P99_EXTRA_MS_ONE_CONNECTION })
    }
  }
  const express = get('express')
  const forward = get('full-rs256')
  if (express !== undefined && forward !== undefined) {
    const ratio = forward.rps / express.rps
    out.push({ name: 'full-rs256 / express throughput', measured: `${round(ratio, 2)} x`, target: '>= 1.5 x', met: ratio >= 1.5 })
  }
  for (const reject of [get('reject-token'), get('reject-ip')]) {
    if (reject === undefined || forward === undefined) continue
    const ratio = reject.rps / forward.rps
    const min = MIN_REJECTION_RATIO[reject.name]
    out.push({ name: `${reject.name} / full-rs256 throughput`, measured: `${round(ratio, 2)} x`, target: `>= ${min} x`, met: ratio >= min })
  }
  // Keep-alive reuse: a route that forwards opens no more connections to the PSP than its pool holds,
  // however many requests it makes (per 10k is extrapolated when a workload made fewer).
  for (const r of results) {
    if (r.connectionsPer10k === null) continue
    out.push({ name: `${r.name} PSP connections`, measured: `${r.simConnections} for ${r.simRequests} requests (${r.connectionsPer10k} per 10k)`, target: `<= ${POOL_SIZE} (pool size)`, met: r.simConnections <= POOL_SIZE })
  }
  if (long !== null) {
    const [first, last] = [long.at[0], long.at[long.at.length - 1]]
    const heapGrowth = round(100 * (last.heapUsedMB - first.heapUsedMB) / first.heapUsedMB, 1)
    out.push({ name: `RSS growth ${first.seconds} s -> ${last.seconds} s (full-rs256)`, measured: `${long.growthPercent} % (${first.rssMB} -> ${last.rssMB} MB)`, target: `<= ${MAX_MEMORY_GROWTH_PERCENT} %`, met: long.growthPercent <= MAX_MEMORY_GROWTH_PERCENT })
    out.push({ name: `heap growth ${first.seconds} s -> ${last.seconds} s (full-rs256, after GC)`, measured: `${heapGrowth} % (${first.heapUsedMB} -> ${last.heapUsedMB} MB)`, target: `<= ${MAX_MEMORY_GROWTH_PERCENT} %`, met: heapGrowth <= MAX_MEMORY_GROWTH_PERCENT })
    // What the backend retains (its recorders and maps are bounded) is its heap after a full GC; its RSS is reported beside it.
    const [heapBefore, heapAfter] = long.backendHeapMB
    out.push({ name: `backend heap ${first.seconds} s -> ${last.seconds} s (simulator + destination, after GC)`, measured: `${heapBefore} -> ${heapAfter} MB (RSS ${long.backendRssMB[0]} -> ${long.backendRssMB[1]} MB)`, target: `<= ${MAX_MEMORY_GROWTH_PERCENT} % growth`, met: heapAfter <= heapBefore * (1 + MAX_MEMORY_GROWTH_PERCENT / 100) })
  }
  return out
}

function table (header: string[], rows: Array<Array<string | number | null>>): string {
  const cells = [header, ...rows.map(r => r.map(c => c === null ? 'n/a' : String(c)))]
  const widths = header.map((_, i) => Math.max(...cells.map(r => r[i].length)))
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  return [line(cells[0]), `|${widths.map(w => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n')
}

function command (): string {
  const vars = Object.entries(env).filter(([k]) => k.startsWith('BENCH_') && k !== CONFIG_ENV).map(([k, v]) => `${k}=${v} `).join('')
  const args = process.argv.slice(2)
  return `${vars}npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`
}

/** How busy the machine is: load average, and Linux's CPU pressure (share of time some task waited for a CPU). */
function contention (): { loadAverage1m: number, cpuPressureSomeAvg60: number | null } {
  let pressure: number | null = null
  try {
    pressure = Number(/some avg10=[\d.]+ avg60=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? NaN)
  } catch {}
  return { loadAverage1m: round(loadavg()[0], 2), cpuPressureSomeAvg60: pressure !== null && Number.isFinite(pressure) ? pressure : null }
}

function positive (name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number\n${USAGE}`)
  return n
}

function round (n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

function mb (bytes: number): number {
  return round(bytes / 1024 / 1024, 1)
}

// ---------------------------------------------------------------------------------------------

const selected = WORKLOADS.filter(w => only === undefined || only.includes(w.name))
if (REFERENCE !== null) {
  if (selected[0]?.name !== 'full-rs256') throw new Error(`--reference is compared with full-rs256: include it in --only\n${USAGE}`)
  selected.splice(1, 0, REFERENCE)
}
if (settings.profile) mkdirSync(PROFILE_DIR, { recursive: true })
const machine = { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', memoryGB: round(totalmem() / 1024 ** 3, 1), atStart: contention() }
console.log(`${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGB} GB, Node ${process.version}, load average ${machine.atStart.loadAverage1m}`)
if (machine.atStart.loadAverage1m > 0.5) console.log('warning: the machine is busy; other processes share the CPUs with the bench, figures will be noisy')
console.log(`${settings.durationSeconds} s per workload in ${settings.rounds} interleaved slices, after ${settings.warmupSeconds} s warm-up, ${settings.connections} connections${settings.profile ? ', servers under --cpu-prof (figures inflated)' : ''}\n`)

let results: Measured[]
let long: LongRun | null
try {
  results = selected.length > 0 ? await measureAll(selected) : []
  long = settings.long ? await measureLong(LONG) : null
  for (const r of results) {
    const w = selected.find(w => w.name === r.name) as Workload
    if (w.logged === true) r.logBytesPerRequest = round(statSync(join(LOG_DIR, `${w.name}.log`)).size / Math.max(r.simRequests, 1), 0)
  }
} finally {
  rmSync(LOG_DIR, { recursive: true, force: true })
}

const base = results.find(r => r.name === 'baseline')
const checks = targets(results, long)
console.log('\n' + table(
  ['workload', 'req/s', 'p50 ms', 'p97.5 ms', 'p99 ms', 'CPU µs/req', 'over baseline', 'sim+dest CPU µs/req', 'autocannon CPU µs/req', 'RSS MB', 'PSP conns', 'conns/10k req', 'unexpected'],
  results.map(r => [r.name, r.rps, r.p50, r.p97_5, r.p99, r.cpuMicrosPerRequest, base === undefined ? null : r.cpuMicrosPerRequest - base.cpuMicrosPerRequest,
    r.backendCpuMicrosPerRequest, r.loadCpuMicrosPerRequest, r.rssMB, r.simConnections, r.connectionsPer10k, r.unexpected])
))
for (const r of results) if (r.logBytesPerRequest !== undefined) console.log(`${r.name}: ${r.logBytesPerRequest} bytes of log per request`)
const ref = results.find(r => r.name === 'full-rs256-ref')
const current = results.find(r => r.name === 'full-rs256')
if (ref !== undefined && current !== undefined) {
  console.log(`full-rs256 against the reference build: ${round(current.cpuMicrosPerRequest - ref.cpuMicrosPerRequest, 0)} µs/req of CPU, ${round(100 * current.rps / ref.rps, 1)} % of its throughput`)
}
if (long !== null) {
  console.log('\n' + table(['long run: after', 'RSS MB', 'heap used MB', 'req/s', 'p99 ms'], long.at.map(s => [`${s.seconds} s`, s.rssMB, s.heapUsedMB, s.rps, s.p99])))
}
console.log('\n' + table(['target', 'measured', 'target', 'met'], checks.map(c => [c.name, c.measured, c.target, c.met ? 'yes' : 'NO'])))
for (const r of results) {
  if (r.profile === undefined) continue
  const perRequest = (ms: number) => round(ms * 1000 / r.requests, 1)
  console.log(`\n${r.name}: top self time in the measured slices (${r.profile.busyMs} ms busy, ${perRequest(r.profile.busyMs)} µs per request)`)
  console.log(table(['function', 'self ms', 'µs/req', '%'], r.profile.functions.map(f => [f.name, f.selfMs, perRequest(f.selfMs), f.percent])))
  console.log(table(['owner', 'self ms', 'µs/req', '%'], r.profile.owners.map(f => [f.name, f.selfMs, perRequest(f.selfMs), f.percent])))
}

const report = { date: new Date().toISOString(), command: command(), machine: { ...machine, atEnd: contention() }, node: process.version, settings, poolSize: POOL_SIZE, workloads: results, long, targets: checks }
writeFileSync(`${OUT}.tmp`, JSON.stringify(report, null, 2) + '\n')
renameSync(`${OUT}.tmp`, OUT)
console.log(`\nwritten to ${OUT}`)
const broken = results.filter(r => r.unexpected > 0)
if (broken.length > 0) {
  console.error(`unexpected responses (not valid figures): ${broken.map(r => `${r.name} ${JSON.stringify(r.statuses)}`).join(', ')}`)
  process.exitCode = 1
}
