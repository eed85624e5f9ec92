import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { createSigner } from 'fast-jwt'
import { Agent, request } from 'undici'
import { generateTestKeys } from '../lib/sandbox/tokens.ts'
import { byCategory, categoryOf, differences, functionCosts, GC } from './callgrind.ts'
import { startChild, type BenchChild } from './processes.ts'
import { AUDIENCE, backendConfig, CONFIG_ENV, ISSUER, PACKAGE_ENV, REQUEST_BODIES, ROUTE, SCOPE, type ServerConfig } from './shared.ts'

/**
 * `npm run bench:instructions`: the instructions each server executes per request, counted by
 * valgrind's callgrind. A count does not depend on what else the machine runs, so it resolves
 * differences far smaller than the timed bench can (which sees about 80 µs per request on this
 * machine); it counts work, not time, so cache misses and waits are not in it. Each server runs
 * under callgrind with its instrumentation off; it is warmed up, instrumentation is switched on for the measured
 * requests only, and off again. The backend (simulator and destination) runs outside valgrind.
 *
 * Garbage collection comes in whole scavenges, a few per thousand requests, whose cost depends on
 * what is live at that moment: it moves a run's total by 2 to 3 %, so a small change is judged on
 * the count without it (and its allocations on the allocation rows). JIT compiler work still in
 * the count means the warm-up was too short for that server.
 */

const USAGE = `npm run bench:instructions -- [--requests n] [--warmup n] [--connections n] [--reference dir] [--logged] [--keep dir]
  --requests    measured requests per server (default 2000)
  --warmup      requests per server before counting starts (default 4000: fewer leaves the JIT compiling inside the count)
  --connections concurrent requests (default 1: one at a time, the most repeatable)
  --reference   a built checkout of another commit: its plugin is counted too (plugin-ref)
  --logged      every server with the host's logger at info writing to a file (the logged workloads of npm run bench)
  --keep        a directory to keep callgrind's output and each server's perf map in (for callgrind_annotate), instead of discarding them`

const { values } = parseArgs({ options: { requests: { type: 'string' }, warmup: { type: 'string' }, connections: { type: 'string' }, reference: { type: 'string' }, keep: { type: 'string' }, logged: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } })
if (values.help === true) {
  console.log(USAGE)
  process.exit(0)
}
for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
  } catch {
    console.error(`${tool} not found: install it with  apt-get install -y valgrind`)
    process.exit(1)
  }
}
const measured = count('requests', values.requests, 2000)
const warmup = count('warmup', values.warmup, 4000)
const connections = count('connections', values.connections, 1)

const keys = generateTestKeys('RS256', 'rokt-rsa-1')
const sign = createSigner({ key: keys.privateKey, algorithm: 'RS256', kid: 'rokt-rsa-1', header: { alg: 'RS256', typ: 'at+jwt' } })
/** One token reused, as Rokt does, minted per server: the plugin accepts one for 15 minutes at most. */
function mint (): string {
  const iat = Math.floor(Date.now() / 1000)
  return `Bearer ${sign({ iss: ISSUER, aud: AUDIENCE, scope: SCOPE, client_id: 'rokt', sub: 'rokt', jti: randomUUID(), iat, exp: iat + 900 })}`
}

interface Server { name: string, file: string, env: Record<string, string> }

const servers: Server[] = [
  { name: 'baseline', file: 'servers/baseline.ts', env: {} },
  { name: 'plugin', file: 'servers/plugin.ts', env: {} },
  ...(values.reference === undefined ? [] : [{ name: 'plugin-ref', file: 'servers/plugin.ts', env: { [PACKAGE_ENV]: pathToFileURL(resolve(values.reference, 'dist/esm/index.js')).href } }])
]

const out = values.keep === undefined ? mkdtempSync(join(tmpdir(), 'bench-instructions-')) : resolve(values.keep)
mkdirSync(out, { recursive: true })
const backend = await startChild('backend.ts')
const counts: Record<string, Counted> = {}
try {
  for (const server of servers) counts[server.name] = await countServer(server, backend)
} finally {
  await backend.stop()
  if (values.keep === undefined) rmSync(out, { recursive: true, force: true })
}

const base = counts.baseline
console.log(`instructions per request (callgrind, ${measured} requests after ${warmup}, ${connections} at a time, ${values.logged === true ? 'host logger at info to a file' : 'no logger'}, Node ${process.version})\n`)
table(['server', 'instructions / request', 'over baseline', 'without garbage collection', 'over baseline'], Object.entries(counts).map(([name, c]) => [
  name, c.perRequest, name === 'baseline' ? '' : c.perRequest - base.perRequest,
  c.perRequest - c.gc, name === 'baseline' ? '' : c.perRequest - c.gc - (base.perRequest - base.gc)
]))
console.log('\nyoung-generation GC over the same requests (V8\'s GC profiler; bytes per request):\n')
table(['server', 'scavenges', 'full GCs', 'allocated', 'promoted to the old generation'], Object.entries(counts).map(([name, c]) => [
  name, c.young.scavenges, c.young.fullGcs, c.young.allocated / measured, c.young.promoted / measured
]))
compare('baseline', 'plugin')
if (counts['plugin-ref'] !== undefined) compare('plugin-ref', 'plugin')

/** What `b` executes per request beyond `a`, by kind of work and by function. */
function compare (a: string, b: string): void {
  const [from, to] = [counts[a].functions, counts[b].functions]
  const [fromKinds, toKinds] = [byCategory(from), byCategory(to)]
  console.log(`\n${b} against ${a}, by kind of work (instructions / request):\n`)
  table(['kind', a, b, 'difference'], differences(fromKinds, toKinds).map(([kind, d]) => [kind, fromKinds.get(kind) ?? 0, toKinds.get(kind) ?? 0, d]))
  console.log(`\n${b} against ${a}, the 30 functions with the largest difference (own instructions / request):\n`)
  table(['function', 'kind', 'difference'], differences(from, to).slice(0, 30).map(([fn, d]) => [fn.slice(0, 110), categoryOf(fn), d]))
}

function table (header: string[], rows: Array<Array<string | number>>): void {
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---|').join('')}`)
  for (const row of rows) console.log(`| ${row.map(cell => typeof cell === 'number' ? Math.round(cell) : cell.replaceAll('|', '\\|')).join(' | ')} |`)
}

interface Counted { perRequest: number, gc: number, functions: Map<string, number>, young: Record<string, any> }

async function countServer (server: Server, backend: BenchChild): Promise<Counted> {
  const config: ServerConfig = {
    ...backendConfig(backend.info),
    publicKey: keys.publicKey,
    allowedIps: ['127.0.0.1'],
    underValgrind: true,
    ...(values.logged === true ? { logFile: join(out, `${server.name}.log`) } : {})
  }
  const file = join(out, `${server.name}.callgrind`)
  // The perf map names the JIT-compiled functions (bench/callgrind.ts); V8's own log, which that flag also writes, goes to `out`.
  const nodeArgs = ['--perf-basic-prof', `--logfile=${join(out, `${server.name}-v8.log`)}`, '--no-logfile-per-isolate']
  const child = await startChild(server.file, { [CONFIG_ENV]: JSON.stringify(config), ...server.env }, nodeArgs, ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${file}`])
  const agent = new Agent({ connections })
  const authorization = mint()
  let young: Record<string, any> = {}
  try {
    await send(child.info.url + ROUTE, agent, authorization, warmup)
    // V8's GC profiler over the same requests, started and read outside the counted span.
    await child.ask('gc-start')
    execFileSync('callgrind_control', ['--instr=on', String(child.pid)], { stdio: 'ignore' })
    await send(child.info.url + ROUTE, agent, authorization, measured)
    execFileSync('callgrind_control', ['--instr=off', String(child.pid)], { stdio: 'ignore' })
    young = await child.ask('gc-stop')
  } finally {
    await agent.close()
    await child.stop()
  }
  const perfMap = `/tmp/perf-${child.pid}.map`
  try {
    const total = totalOf(file)
    console.error(`${server.name}: ${total} instructions over ${measured} requests`)
    const functions = functionCosts(file, perfMap, measured)
    return { perRequest: total / measured, gc: byCategory(functions).get(GC) ?? 0, functions, young }
  } finally {
    if (values.keep !== undefined) copyFileSync(perfMap, join(out, `${server.name}.perf.map`))
    rmSync(perfMap, { force: true })
  }
}

/** `n` requests, `connections` at a time, each with its own reference; any answer but 200 stops the run. */
async function send (url: string, dispatcher: Agent, authorization: string, n: number): Promise<void> {
  let next = 0
  async function loop (): Promise<void> {
    while (next < n) {
      const body = REQUEST_BODIES[next++ % REQUEST_BODIES.length]
      const res = await request(url, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body, dispatcher })
      const text = await res.body.text()
      if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}: ${text.slice(0, 200)}`)
    }
  }
  await Promise.all(Array.from({ length: connections }, loop))
}

function totalOf (file: string): number {
  const line = readFileSync(file, 'utf8').split('\n').find(l => l.startsWith('totals:'))
  if (line === undefined) throw new Error(`${file}: no totals line`)
  return Number(line.split(/\s+/)[1])
}

function count (name: string, raw: string | undefined, fallback: number): number {
  const n = raw === undefined ? fallback : Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number\n${USAGE}`)
  return n
}
