/**
 * One plugin instance of the scale-out soak (bench/soak-cluster.ts starts several): a Fastify host
 * configured as a partner behind nginx would configure it. It trusts only the load balancer's
 * address for X-Forwarded-For, allowlists Rokt's address, and keeps its idempotency records in the
 * shared Redis with the client options the README recommends.
 */
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import cardForwarding from '../index.ts'
import { redisIdempotencyStore } from '../lib/stores/redis.ts'
import { serveCommands } from './child.ts'
import { INSTANCE_ENV, soakPluginOptions, type InstanceConfig } from './soak-instance-config.ts'

const config = JSON.parse(process.env[INSTANCE_ENV] ?? 'null') as InstanceConfig
if (config === null) throw new Error(`${INSTANCE_ENV} is not set: start this file from bench/soak-cluster.ts`)

const redis = new Redis({
  host: '127.0.0.1',
  port: config.redisPort,
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: times => Math.min(times * 100, 1000)
})
let redisErrors = 0
redis.on('error', () => { redisErrors++ })
await redis.connect()

const app = Fastify({ logger: false, trustProxy: config.proxyAddress })
await app.register(cardForwarding, {
  ...soakPluginOptions(config.pspUrl, config.destinationUrl, config.secret),
  allowedIps: [config.roktAddress],
  idempotencyStore: redisIdempotencyStore({ client: redis }),
  forwardTimeoutMs: config.forwardTimeoutMs,
  // The host's event loop shares two cores with everything else in the soak: shed only on memory.
  loadShedding: { maxEventLoopDelay: 0 }
})
app.get('/health', async () => ({ ok: true }))
await app.listen({ host: '127.0.0.1', port: config.port })

serveCommands({ port: config.port }, {
  memory: () => ({ rss: process.memoryUsage().rss, redisErrors })
}, async () => {
  await app.close()
  redis.disconnect()
})
