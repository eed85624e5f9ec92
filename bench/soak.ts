/**
 * npm run soak [-- <requests> <connections>]: drives POST /v1/initiate-payment-sharing with
 * autocannon for a fixed number of requests against the Stripe simulator, with PSP faults injected
 * at random by a proxy in front of it, then checks that every reference was forwarded exactly once
 * and reports statuses, destination forwards and the server's memory.
 *
 * Three processes, so the server's memory is the plugin's alone:
 *   - this one (autocannon, the Rokt side, retrying failures with the same Idempotency-Key),
 *   - bench/soak-backends.ts: fake Rokt destination + Stripe simulator + the fault-injecting proxy,
 *   - `server`: a Fastify host with the plugin (in memory), pointed at the proxy.
 *
 * npm run soak -- --instances N [...]: the scale-out soak instead (several instances sharing one
 * Redis behind nginx, with Rokt's retries, an attacker and instance and Redis crashes): see
 * bench/soak-cluster.ts.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import Fastify from 'fastify'
import { Agent, request } from 'undici'
import cardForwarding from '../index.ts'
import { mintToken } from '../lib/sandbox/tokens.ts'
import { startChild } from './processes.ts'
import { AUDIENCE, DESTINATION, ISSUER } from './shared.ts'
import type { Fault } from './soak-backends.ts'
import { soakPluginOptions } from './soak-instance-config.ts'

const SECRET = 'soak-test-secret-0123456789-abcdefghij'
const PATH = '/v1/initiate-payment-sharing'

type Message =
  | { type: 'ready', url: string }
  | { type: 'memory', gc?: boolean }
  | { type: 'memory', rss: number, heapUsed: number }

function ask<T> (child: ChildProcess, message: Message): Promise<T> {
  return new Promise(resolve => {
    child.once('message', reply => resolve(reply as T))
    child.send(message)
  })
}

// ---------------------------------------------------------------------------------------------
// server: the host app with the plugin

async function server (): Promise<void> {
  const { url: pspUrl, destinationUrl } = await new Promise<{ url: string, destinationUrl: string }>(resolve => {
    process.once('message', message => resolve(message as any))
  })
  const app = Fastify({ logger: false })
  await app.register(cardForwarding, { ...soakPluginOptions(pspUrl, destinationUrl, SECRET), allowedIps: ['127.0.0.1/32'] })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  process.on('message', (message: Message) => {
    if (message.type !== 'memory') return
    if ('gc' in message && message.gc === true) (globalThis as any).gc?.()
    const { rss, heapUsed } = process.memoryUsage()
    process.send?.({ type: 'memory', rss, heapUsed })
  })
  process.send?.({ type: 'ready', url })
}

// ---------------------------------------------------------------------------------------------
// the Rokt side: autocannon, then a settling pass, then the report

interface Job { reference: string, key: string, attempts: number }

async function main (): Promise<void> {
  const amount = Number(process.argv[2] ?? 20_000)
  const connections = Number(process.argv[3] ?? 32)
  const self = fileURLToPath(import.meta.url)
  const backendsChild = await startChild('soak-backends.ts')
  const serverChild = fork(self, ['server'], { execArgv: [...process.execArgv, '--expose-gc'] })
  try {
    serverChild.send({ url: backendsChild.info.url, destinationUrl: backendsChild.info.destinationUrl })
    const { url } = await new Promise<{ url: string }>(resolve => serverChild.once('message', m => resolve(m as any)))
    const memory = (gc = false) => ask<{ rss: number, heapUsed: number }>(serverChild, { type: 'memory', gc })
    const startMemory = await memory(true)

    const token = mintToken({ secret: SECRET, issuer: ISSUER, audience: AUDIENCE, clientId: 'rokt', subject: 'rokt', scope: 'payment-sharing', expiresInSeconds: 3600 })
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` }
    const jobs = new Map<string, Job>()
    const completed = new Set<string>()
    const retries: Job[] = []
    const statuses: Record<string, number> = {}
    let sequence = 0
    let responses = 0
    const samples: Array<{ at: number, rss: number, heapUsed: number }> = []
    const checkpoints = [0.1, 0.25, 0.5, 0.75].map(f => Math.floor(amount * f))

    const started = performance.now()
    const result = await autocannon({
      url: url + PATH,
      connections,
      amount,
      timeout: 10,
      requests: [{
        method: 'POST',
        setupRequest: (req: any, context: any) => {
          let job = retries.shift()
          if (job === undefined) {
            job = { reference: `SOAK_${++sequence}`, key: randomUUID(), attempts: 0 }
            jobs.set(job.reference, job)
          }
          job.attempts++
          context.job = job
          return { ...req, headers: { ...headers, 'idempotency-key': job.key }, body: JSON.stringify({ partnerPaymentReference: job.reference, destination: DESTINATION }) }
        },
        onResponse: (status: number, _body: string, context: any) => {
          statuses[status] = (statuses[status] ?? 0) + 1
          if (status === 200) completed.add(context.job.reference)
          else retries.push(context.job)
          if (checkpoints.includes(++responses)) memory(true).then(m => { samples.push({ at: responses, ...m }) }, () => {})
        }
      }]
    })
    const seconds = (performance.now() - started) / 1000

    // Settle: every reference not yet answered 200 is retried with its own key, faults off, as Rokt would.
    await backendsChild.ask('faults-off')
    const client = new Agent()
    let settled = 0
    for (const job of jobs.values()) {
      for (let attempt = 0; attempt < 20 && !completed.has(job.reference); attempt++) {
        const res = await request(url + PATH, { method: 'POST', dispatcher: client, headers: { ...headers, 'idempotency-key': job.key }, body: JSON.stringify({ partnerPaymentReference: job.reference, destination: DESTINATION }) })
        await res.body.dump()
        if (res.statusCode === 200) {
          completed.add(job.reference)
          settled++
        } else {
          await new Promise(resolve => setTimeout(resolve, 250))
        }
      }
    }
    await client.close()
    const endMemory = await memory(true)
    const report = await backendsChild.ask('report') as { faults: Record<Fault, number>, forwards: Record<string, number> }

    const ok200 = statuses[200] ?? 0
    const forwarded = Object.values(report.forwards).reduce((a, b) => a + b, 0)
    const duplicated = Object.values(report.forwards).filter(n => n > 1).length
    const lost = [...completed].filter(r => report.forwards[r] === undefined).length
    const unanswered = [...jobs.keys()].filter(r => !completed.has(r)).length
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`
    const faultTotal = Object.entries(report.faults).filter(([f]) => f !== 'none').reduce((a, [, n]) => a + n, 0)
    const lines = [
      `Command: npm run soak -- ${amount} ${connections}   (Node ${process.version}, ${new Date().toISOString().slice(0, 10)})`,
      '',
      `Requests sent by autocannon: ${result.requests.total} in ${seconds.toFixed(1)} s (${Math.round(result.requests.total / seconds)} req/s, ${connections} connections), ` +
        `latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, errors ${result.errors}, timeouts ${result.timeouts}`,
      `Statuses: ${Object.entries(statuses).sort().map(([s, n]) => `${s}: ${n}`).join(', ')}`,
      `PSP calls through the fault proxy: ${Object.values(report.faults).reduce((a, b) => a + b, 0)}, faults injected: ${faultTotal} ` +
        `(${Object.entries(report.faults).filter(([f]) => f !== 'none').map(([f, n]) => `${f} ${n}`).join(', ')})`,
      `References: ${jobs.size} issued, ${completed.size} answered 200 (${settled} of them in the settling pass, faults off), ${unanswered} never answered`,
      `Destination: ${forwarded} forwards (successful responses: ${ok200 + settled}) for ${Object.keys(report.forwards).length} references; duplicated: ${duplicated}; lost (200 without a forward): ${lost}`,
      `Server RSS: start ${mb(startMemory.rss)}, ${samples.sort((a, b) => a.at - b.at).map(s => `after ${s.at} responses ${mb(s.rss)}`).join(', ')}, end ${mb(endMemory.rss)}`,
      `Server heap used after GC: start ${mb(startMemory.heapUsed)}, ${samples.map(s => `after ${s.at} ${mb(s.heapUsed)}`).join(', ')}, end ${mb(endMemory.heapUsed)}`,
      'The idempotency store keeps at most 10 000 completed responses (the default): the heap grows until it is full, then stays flat.'
    ]
    console.log(lines.join('\n'))
    const ok = duplicated === 0 && lost === 0 && unanswered === 0 && forwarded === completed.size && ok200 + settled === completed.size
    console.log(ok ? '\nOK: every reference forwarded exactly once, and answered 200 exactly once.' : '\nFAILED: see the counts above.')
    process.exitCode = ok ? 0 : 1
  } finally {
    await backendsChild.stop()
    serverChild.kill()
  }
}

const role = process.argv[2]
if (role === 'server') await server()
else if (process.argv.includes('--instances')) await (await import('./soak-cluster.ts')).soakCluster(process.argv.slice(2))
else await main()
