/**
 * npm run soak -- --instances N [--duration 60] [--concurrency 16] [--throughput 15]
 *
 * The scale-out soak: N plugin processes (bench/soak-instance.ts) share one redis-server behind
 * nginx (bench/soak-nginx.ts), their Stripe adapter pointed at the fault proxy of
 * bench/soak-backends.ts. Rokt (127.0.0.2, allowlisted) sends purchases and retries them by its
 * rules; an attacker (127.0.0.3) sends purchases with a valid token and X-Forwarded-For: 127.0.0.2.
 *
 * 1. throughput: faults off, `--throughput` seconds of purchases at `--concurrency`, through an
 *    nginx in front of the first instance alone, then through one in front of all N;
 * 2. chaos: `--duration` seconds with PSP faults at random (5xx, resets, hangs), one instance killed
 *    with SIGKILL and restarted 2 s later (at 25 %), Redis killed and restarted 1 s later (at 55 %).
 *
 * The run fails unless no reference reached the destination twice, every purchase ended in a 200
 * or a final error, every 200 had its forward, and nothing of the attacker's was forwarded.
 */
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { mintToken } from '../lib/sandbox/tokens.ts'
import { freePort, REDIS_SERVER, RedisServer } from '../test/helpers/redis-server.ts'
import { startChild, type BenchChild } from './processes.ts'
import { AUDIENCE, ISSUER } from './shared.ts'
import { attack, client, purchases, type Purchase } from './soak-client.ts'
import { INSTANCE_ENV, type InstanceConfig } from './soak-instance-config.ts'
import { findNginx, startNginx } from './soak-nginx.ts'

const ROKT = '127.0.0.2'
const ATTACKER = '127.0.0.3'
const SECRET = 'soak-cluster-secret-0123456789-abcdefghij'

const count = (values: Array<string | number>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const v of values.map(String)) out[v] = (out[v] ?? 0) + 1
  return out
}
const show = (counts: Record<string, number>) => Object.entries(counts).sort().map(([k, n]) => `${k}: ${n}`).join(', ')
const percentile = (sorted: number[], p: number) => sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))])

export async function soakCluster (argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { instances: { type: 'string', default: '3' }, duration: { type: 'string', default: '60' }, concurrency: { type: 'string', default: '16' }, throughput: { type: 'string', default: '15' } } })
  const instances = Number(values.instances)
  const duration = Number(values.duration) * 1000
  const concurrency = Number(values.concurrency)
  const throughputMs = Number(values.throughput) * 1000
  const nginxBinary = findNginx()
  if (nginxBinary === null) throw new Error('nginx not found: apt-get install -y nginx (as root), or set NGINX')
  const redis = await new RedisServer().start().catch(err => { throw new Error(`${REDIS_SERVER}: ${(err as Error).message}; apt-get install -y redis-server (as root)`) })
  const backends = await startChild('soak-backends.ts')
  const children: BenchChild[] = []
  const configs: InstanceConfig[] = []
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined
  try {
    for (let i = 0; i < instances; i++) {
      configs.push({
        port: await freePort(),
        proxyAddress: '127.0.0.1',
        roktAddress: ROKT,
        pspUrl: backends.info.url,
        destinationUrl: backends.info.destinationUrl,
        redisPort: redis.port,
        secret: SECRET,
        forwardTimeoutMs: 10_000
      })
    }
    const start = (config: InstanceConfig) => startChild('soak-instance.ts', { [INSTANCE_ENV]: JSON.stringify(config) })
    children.push(...await Promise.all(configs.map(start)))
    const token = mintToken({ secret: SECRET, issuer: ISSUER, audience: AUDIENCE, clientId: 'rokt', subject: 'rokt', scope: 'payment-sharing', expiresInSeconds: 3600 })

    // 1. Throughput, faults off: with the first instance alone, then with all of them.
    await backends.ask('faults-off')
    const throughput: Throughput[] = []
    const measure = async (url: string, behind: number) => {
      const c = client(url, ROKT, token)
      const measured = performance.now()
      const done = await purchases(c, concurrency, Date.now() + throughputMs, `CLEAN${behind}`)
      throughput.push({ instances: behind, purchases: done, seconds: (performance.now() - measured) / 1000 })
      await c.agent.close()
    }
    if (instances > 1) {
      const single = await startNginx(nginxBinary, await freePort(), [configs[0].port])
      await measure(single.url, 1).finally(single.stop)
    }
    nginx = await startNginx(nginxBinary, await freePort(), configs.map(c => c.port))
    await measure(nginx.url, instances)
    const rokt = client(nginx.url, ROKT, token)
    const attacker = client(nginx.url, ATTACKER, token, { 'x-forwarded-for': ROKT })

    // 2. Chaos.
    await backends.ask('faults-on')
    const began = Date.now()
    const until = began + duration
    const events: string[] = []
    const at = (fraction: number, what: () => Promise<void>) => new Promise<void>((resolve, reject) => {
      setTimeout(() => { what().then(resolve, reject) }, duration * fraction)
    })
    const victim = Math.floor(Math.random() * instances)
    const chaos = Promise.all([
      at(0.25, async () => {
        process.kill(children[victim].info.pid, 'SIGKILL')
        events.push(`${((Date.now() - began) / 1000).toFixed(1)} s: instance ${victim + 1} killed (SIGKILL)`)
        await new Promise(resolve => setTimeout(resolve, 2000))
        children[victim] = await start(configs[victim])
        events.push(`${((Date.now() - began) / 1000).toFixed(1)} s: instance ${victim + 1} restarted`)
      }),
      at(0.55, async () => {
        await redis.kill()
        events.push(`${((Date.now() - began) / 1000).toFixed(1)} s: Redis killed (SIGKILL; no persistence: every claim and stored answer lost)`)
        await new Promise(resolve => setTimeout(resolve, 1000))
        await redis.start(redis.port)
        events.push(`${((Date.now() - began) / 1000).toFixed(1)} s: Redis restarted`)
      })
    ])
    const [done, attacks] = await Promise.all([purchases(rokt, concurrency, until, 'SOAK'), attack(attacker, 100, until), chaos])
    const chaosSeconds = (Date.now() - began) / 1000

    const report = await backends.ask('report') as { faults: Record<string, number>, forwards: Record<string, number> }
    const memory = await Promise.all(children.map(async c => await c.ask('memory')))
    const lines = summary({ instances, concurrency, duration, throughput, done, chaosSeconds, attacks, events, report, memory })
    console.log(lines.text)
    process.exitCode = lines.ok ? 0 : 1
    await Promise.all([rokt.agent.close(), attacker.agent.close()])
  } finally {
    await nginx?.stop()
    await Promise.all(children.map(async c => await c.stop()))
    await backends.stop()
    await redis.stop()
  }
}

interface Throughput { instances: number, purchases: Purchase[], seconds: number }

interface Results {
  instances: number
  concurrency: number
  duration: number
  throughput: Throughput[]
  done: Purchase[]
  chaosSeconds: number
  attacks: Record<string, number>
  events: string[]
  report: { faults: Record<string, number>, forwards: Record<string, number> }
  memory: Array<Record<string, any>>
}

function summary (r: Results): { text: string, ok: boolean } {
  const forwards = r.report.forwards
  const all = [...r.throughput.flatMap(run => run.purchases), ...r.done]
  const ok200 = all.filter(p => p.final === 200)
  const duplicated = Object.entries(forwards).filter(([, n]) => n > 1)
  const lost = ok200.filter(p => forwards[p.reference] !== 1)
  const unfinished = all.filter(p => p.final === undefined)
  const failed = r.done.filter(p => p.final !== 200)
  const attackerForwards = Object.keys(forwards).filter(ref => ref.startsWith('ATTACK_')).length
  const attempts = r.done.reduce((n, p) => n + p.attempts.length, 0)
  const faults = Object.entries(r.report.faults).filter(([f]) => f !== 'none')
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`
  const text = [
    `Command: npm run soak -- --instances ${r.instances} --duration ${r.duration / 1000} --concurrency ${r.concurrency}   (Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average at the end ${loadavg().map(n => n.toFixed(1)).join(' ')})`,
    '',
    ...r.throughput.map(run => {
      const ok = run.purchases.filter(p => p.final === 200).length
      const latencies = run.purchases.map(p => p.ms).sort((a, b) => a - b)
      return `Throughput, faults off, ${run.instances} instance(s) behind nginx: ${ok} purchases answered 200 in ${run.seconds.toFixed(1)} s = ${Math.round(ok / run.seconds)} purchases/s, ${r.concurrency} at a time; latency p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms`
    }),
    `Chaos, ${r.chaosSeconds.toFixed(0)} s: ${r.done.length} purchases, ${attempts} requests (${attempts - r.done.length} retries by Rokt's rules)`,
    `  events: ${r.events.join('; ')}`,
    `  PSP calls through the fault proxy: ${Object.values(r.report.faults).reduce((a, b) => a + b, 0)}, faults injected ${faults.reduce((a, [, n]) => a + n, 0)} (${faults.map(([f, n]) => `${f} ${n}`).join(', ')})`,
    `  statuses of every attempt: ${show(count(r.done.flatMap(p => p.attempts)))}`,
    `  final answers: ${show(count(r.done.map(p => String(p.final))))}`,
    `  purchases that ended in an error: ${failed.length}, of which the destination received the card: ${failed.filter(p => forwards[p.reference] === 1).length} (the card went but Rokt's final answer was an error: reconcile at the PSP)`,
    `Destination: ${Object.values(forwards).reduce((a, b) => a + b, 0)} forwards for ${Object.keys(forwards).length} references; cards forwarded twice for one key: ${duplicated.length}; 200s without their forward: ${lost.length}; purchases without a final answer: ${unfinished.length}`,
    `Attacker (${ATTACKER}, valid token, X-Forwarded-For: ${ROKT}): ${show(r.attacks)}; forwarded: ${attackerForwards}`,
    `Instances at the end: ${r.memory.map((m, i) => `#${i + 1} RSS ${mb(m.rss)}`).join(', ')}`
  ].join('\n')
  const ok = duplicated.length === 0 && lost.length === 0 && unfinished.length === 0 && attackerForwards === 0
  return { text: text + (ok ? '\n\nOK: no card forwarded twice, no purchase lost, nothing of the attacker\'s forwarded.' : '\n\nFAILED: see the counts above.'), ok }
}
