import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generateTestKeys, mintToken, type TestKeyPair } from '../lib/sandbox/tokens.ts'
import { runLoad, type LoadOptions } from './load.ts'
import { startChild, type BenchChild } from './processes.ts'
import { summariseProfile, type ProfileSummary } from './profile.ts'
import { AUDIENCE, CONFIG_ENV, ISSUER, REQUEST_BODY, ROUTE, SCOPE, type ServerConfig } from './shared.ts'

/**
 * `npm run bench`: each workload gets a fresh server under test and a fresh backend (Stripe
 * simulator + fake destination), each in its own process; this process is the load generator.
 */

const USAGE = `npm run bench -- [--duration s] [--warmup s] [--connections n] [--only name,...] [--long] [--long-duration s] [--profile]
  env: BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_ONLY, BENCH_LONG=1, BENCH_LONG_DURATION, BENCH_PROFILE=1`

const { values } = parseArgs({
  options: {
    duration: { type: 'string', short: 'd' },
    warmup: { type: 'string', short: 'w' },
    connections: { type: 'string', short: 'c' },
    only: { type: 'string' },
    long: { type: 'boolean' },
    'long-duration': { type: 'string' },
    profile: { type: 'boolean' },
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
  warmupSeconds: positive('warmup', values.warmup ?? env.BENCH_WARMUP, 3),
  connections: positive('connections', values.connections ?? env.BENCH_CONNECTIONS, 32),
  long: values.long === true || env.BENCH_LONG === '1',
  longDurationSeconds: positive('long-duration', values['long-duration'] ?? env.BENCH_LONG_DURATION, 60),
  profile: values.profile === true || env.BENCH_PROFILE === '1'
}
const only = (values.only ?? env.BENCH_ONLY)?.split(',').map(s => s.trim())

/** The plugin's Stripe adapter keeps this many connections to the PSP (lib/psp-http.ts), as does the baseline. */
const POOL_SIZE = 64
const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
const PROFILE_DIR = `${BENCH_DIR}profiles`
const OUT = settings.profile ? `${PROFILE_DIR}/results.json` : `${BENCH_DIR}results.json`
const ALLOW_LOOPBACK = ['127.0.0.1/32']

interface Workload {
  name: string
  label: string
  server: 'plugin' | 'baseline' | 'express'
  alg: 'RS256' | 'ES256'
  /** Sign the token with a key the server does not know. */
  forged?: boolean
  allowedIps?: string[]
  expect: number
}

const WORKLOADS: Workload[] = [
  { name: 'full-rs256', label: 'plugin full route, RS256 token', server: 'plugin', alg: 'RS256', expect: 200 },
  { name: 'full-es256', label: 'plugin full route, ES256 token', server: 'plugin', alg: 'ES256', expect: 200 },
  { name: 'baseline', label: 'bare Fastify route + the same undici call', server: 'baseline', alg: 'RS256', expect: 200 },
  { name: 'express', label: 'hand-rolled Express 5 + jsonwebtoken + fetch', server: 'express', alg: 'RS256', expect: 200 },
  { name: 'reject-token', label: 'plugin, forged RS256 token -> 401', server: 'plugin', alg: 'RS256', forged: true, expect: 401 },
  { name: 'reject-ip', label: 'plugin, client IP not allowed -> 403', server: 'plugin', alg: 'RS256', allowedIps: ['203.0.113.0/24'], expect: 403 }
]
const LONG: Workload = { ...WORKLOADS[0], name: 'full-rs256-long', label: `plugin full route, RS256, ${settings.longDurationSeconds} s` }

const keys: Record<Workload['alg'], TestKeyPair> = { RS256: generateTestKeys('RS256', 'rokt-rsa-1'), ES256: generateTestKeys('ES256', 'rokt-ec-1') }
const forger = generateTestKeys('RS256', 'rokt-rsa-1')

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
  cpuMicrosPerRequest: number
  rssMB: number
  heapUsedMB: number
  simConnections: number
  simRequests: number
  connectionsPer10k: number | null
  profile?: ProfileSummary
}

interface LongRun {
  rssMBAt: Array<{ seconds: number, rssMB: number, heapUsedMB: number, rps: number, p99: number }>
  growthPercent: number
}

function token (w: Workload): string {
  const key = keys[w.alg]
  return mintToken({
    privateKey: w.forged === true ? forger.privateKey : key.privateKey,
    algorithm: w.alg,
    kid: key.jwk.kid,
    issuer: ISSUER,
    audience: AUDIENCE,
    scope: SCOPE,
    clientId: 'rokt',
    subject: 'rokt',
    expiresInSeconds: 900
  })
}

async function startPair (w: Workload): Promise<{ backend: BenchChild, server: BenchChild, load: Omit<LoadOptions, 'durationSeconds'> }> {
  const backend = await startChild('backend.ts')
  const config: ServerConfig = {
    simUrl: backend.info.simUrl,
    destinationUrl: backend.info.destinationUrl,
    stripeApiKey: backend.info.stripeApiKey,
    stripeForm: backend.info.stripeForm,
    publicKey: keys[w.alg].publicKey,
    allowedIps: w.allowedIps ?? ALLOW_LOOPBACK
  }
  // One directory per workload: tsx's loader thread writes a profile of its own beside the main thread's.
  const profiling = settings.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir(w)}`] : []
  let server: BenchChild
  try {
    server = await startChild(`servers/${w.server}.ts`, { [CONFIG_ENV]: JSON.stringify(config) }, profiling)
  } catch (err) {
    await backend.stop()
    throw err
  }
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token(w)}` }
  return { backend, server, load: { url: server.info.url + ROUTE, headers, body: REQUEST_BODY, connections: settings.connections } }
}

/** One request first: a workload that does not answer what it should is a broken bench, not a figure. */
async function check (w: Workload, load: Omit<LoadOptions, 'durationSeconds'>): Promise<void> {
  const res = await fetch(load.url, { method: 'POST', headers: load.headers, body: load.body })
  const text = await res.text()
  if (res.status !== w.expect || (w.expect === 200 && !text.includes('4242'))) {
    throw new Error(`${w.name}: expected ${w.expect}, got ${res.status} ${text.slice(0, 300)}`)
  }
}

async function measure (w: Workload): Promise<Measured> {
  process.stdout.write(`${w.name}: ${w.label} ... `)
  const { backend, server, load } = await startPair(w)
  let result: Omit<Measured, 'profile'>
  const window = { from: 0, to: 0 }
  try {
    await check(w, load)
    await runLoad({ ...load, durationSeconds: settings.warmupSeconds })
    window.from = (await server.ask('probe-start')).clockMicros
    const run = await runLoad({ ...load, durationSeconds: settings.durationSeconds })
    const probe = await server.ask('probe-stop')
    window.to = probe.clockMicros
    const sim = await backend.ask('stats')
    const expected = run.statuses[w.expect] ?? 0
    result = {
      name: w.name,
      label: w.label,
      rps: round(run.rps, 0),
      p50: round(run.p50, 2),
      p97_5: round(run.p97_5, 2),
      p99: round(run.p99, 2),
      mean: round(run.mean, 2),
      requests: run.requests,
      unexpected: run.requests - expected + run.errors + run.timeouts,
      cpuMicrosPerRequest: round(probe.cpuMicros / Math.max(run.requests, 1), 0),
      rssMB: mb(probe.rss),
      heapUsedMB: mb(probe.heapUsed),
      simConnections: sim.connections,
      simRequests: sim.requests,
      connectionsPer10k: sim.requests === 0 ? null : round(sim.connections * 10_000 / sim.requests, 1)
    }
  } finally {
    await server.stop()
    await backend.stop()
  }
  console.log(`${result.rps} req/s, p99 ${result.p99} ms`)
  return settings.profile ? { ...result, profile: summariseProfile(mainThreadProfile(w), window) } : result
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

/** The same server under load for 10 s, then on to the long duration: does its memory settle? */
async function measureLong (w: Workload): Promise<LongRun> {
  process.stdout.write(`${w.name}: ${w.label} ... `)
  const { backend, server, load } = await startPair(w)
  const rssMBAt: LongRun['rssMBAt'] = []
  try {
    await check(w, load)
    await runLoad({ ...load, durationSeconds: settings.warmupSeconds })
    let seconds = 0
    for (const step of [10, settings.longDurationSeconds - 10]) {
      const run = await runLoad({ ...load, durationSeconds: step })
      const probe = await server.ask('probe-stop')
      seconds += step
      rssMBAt.push({ seconds, rssMB: mb(probe.rss), heapUsedMB: mb(probe.heapUsed), rps: round(run.rps, 0), p99: round(run.p99, 2) })
    }
  } finally {
    await server.stop()
    await backend.stop()
  }
  const [first, last] = [rssMBAt[0], rssMBAt[rssMBAt.length - 1]]
  const growthPercent = round(100 * (last.rssMB - first.rssMB) / first.rssMB, 1)
  console.log(`RSS ${first.rssMB} MB at ${first.seconds} s, ${last.rssMB} MB at ${last.seconds} s`)
  return { rssMBAt, growthPercent }
}

interface Target { name: string, measured: string, target: string, met: boolean }

function targets (results: Measured[], long: LongRun | null): Target[] {
  const get = (name: string) => results.find(r => r.name === name)
  const out: Target[] = []
  const base = get('baseline')
  const express = get('express')
  for (const full of [get('full-rs256'), get('full-es256')]) {
    if (full === undefined) continue
    if (base !== undefined) {
      const ratio = full.rps / base.rps
      out.push({ name: `${full.name} / baseline throughput`, measured: `${round(100 * ratio, 1)} %`, target: '>= 85 %', met: ratio >= 0.85 })
      const extra = full.p99 - base.p99
      out.push({ name: `${full.name} p99 - baseline p99`, measured: `${round(extra, 2)} ms`, target: '<= 2 ms', met: extra <= 2 })
    }
    if (express !== undefined && full.name === 'full-rs256') {
      const ratio = full.rps / express.rps
      out.push({ name: `${full.name} / express throughput`, measured: `${round(ratio, 2)} x`, target: '>= 1.5 x', met: ratio >= 1.5 })
    }
  }
  const forward = get('full-rs256')
  for (const reject of [get('reject-token'), get('reject-ip')]) {
    if (reject === undefined || forward === undefined) continue
    const ratio = reject.rps / forward.rps
    out.push({ name: `${reject.name} / full-rs256 throughput`, measured: `${round(ratio, 2)} x`, target: '>= 3 x', met: ratio >= 3 })
  }
  for (const r of results) {
    if (r.connectionsPer10k === null) continue
    out.push({ name: `${r.name} PSP connections per 10k requests`, measured: `${r.connectionsPer10k} (${r.simConnections} for ${r.simRequests})`, target: `<= ${POOL_SIZE} (pool size)`, met: r.connectionsPer10k <= POOL_SIZE })
  }
  if (long !== null) {
    const [first, last] = [long.rssMBAt[0], long.rssMBAt[long.rssMBAt.length - 1]]
    out.push({ name: `RSS growth ${first.seconds} s -> ${last.seconds} s (full-rs256)`, measured: `${long.growthPercent} % (${first.rssMB} -> ${last.rssMB} MB)`, target: '<= 10 %', met: Math.abs(long.growthPercent) <= 10 })
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
if (settings.profile) {
  for (const w of selected) rmSync(profileDir(w), { recursive: true, force: true })
  mkdirSync(PROFILE_DIR, { recursive: true })
}
const machine = { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', memoryGB: round(totalmem() / 1024 ** 3, 1), loadAverageAtStart: round(loadavg()[0], 2) }
console.log(`${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGB} GB, Node ${process.version}, load average ${machine.loadAverageAtStart}`)
if (machine.loadAverageAtStart > 0.5) console.log('warning: the machine is busy; other processes share the CPUs with the bench, figures will be noisy')
console.log(`${settings.durationSeconds} s per workload after ${settings.warmupSeconds} s warm-up, ${settings.connections} connections${settings.profile ? ', servers under --cpu-prof (figures inflated)' : ''}\n`)

const results: Measured[] = []
for (const w of selected) results.push(await measure(w))
const long = settings.long ? await measureLong(LONG) : null

const base = results.find(r => r.name === 'baseline')
const checks = targets(results, long)
console.log('\n' + table(
  ['workload', 'req/s', 'p50 ms', 'p97.5 ms', 'p99 ms', 'CPU µs/req', 'CPU µs/req over baseline', 'RSS MB', 'PSP conns', 'conns/10k req', 'unexpected'],
  results.map(r => [r.name, r.rps, r.p50, r.p97_5, r.p99, r.cpuMicrosPerRequest,
    base === undefined ? null : r.cpuMicrosPerRequest - base.cpuMicrosPerRequest, r.rssMB, r.simConnections, r.connectionsPer10k, r.unexpected])
))
if (long !== null) {
  console.log('\n' + table(['long run: after', 'RSS MB', 'heap used MB', 'req/s', 'p99 ms'], long.rssMBAt.map(s => [`${s.seconds} s`, s.rssMB, s.heapUsedMB, s.rps, s.p99])))
}
console.log('\n' + table(['target', 'measured', 'target', 'met'], checks.map(c => [c.name, c.measured, c.target, c.met ? 'yes' : 'NO'])))
for (const r of results) {
  if (r.profile === undefined) continue
  console.log(`\n${r.name}: top self time (${r.profile.busyMs} ms busy)\n` + table(['function', 'self ms', '%'], r.profile.functions.map(f => [f.name, f.selfMs, f.percent])))
  console.log(table(['owner', 'self ms', '%'], r.profile.owners.map(f => [f.name, f.selfMs, f.percent])))
}

const report = { date: new Date().toISOString(), command: command(), machine, node: process.version, settings, poolSize: POOL_SIZE, workloads: results, long, targets: checks }
writeFileSync(`${OUT}.tmp`, JSON.stringify(report, null, 2) + '\n')
renameSync(`${OUT}.tmp`, OUT)
console.log(`\nwritten to ${OUT}`)
const broken = results.filter(r => r.unexpected > 0)
if (broken.length > 0) {
  console.error(`unexpected responses in ${broken.map(r => r.name).join(', ')}: those figures are not valid`)
  process.exitCode = 1
}
