import Fastify from 'fastify'
import { Agent, request } from 'undici'
import { serveCommands, serverProbe } from '../child.ts'
import { FORWARD_PATH, hostLogger, readConfig, ROUTE } from '../shared.ts'

/**
 * Workload 2, the floor for any Node implementation: a bare Fastify route that makes only the
 * Stripe call the plugin makes (same form body, same undici pool settings) and returns its body.
 */
const config = readConfig()
const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000, connectTimeout: 3000, headersTimeout: 20_000, bodyTimeout: 10_000 })
const target = config.simUrl + FORWARD_PATH
const headers = { authorization: `Bearer ${config.stripeApiKey}`, 'content-type': 'application/x-www-form-urlencoded' }

const app = Fastify(hostLogger(config.logFile))
app.post(ROUTE, async (_request, reply) => {
  const res = await request(target, { method: 'POST', headers, body: config.stripeForm, dispatcher: agent })
  reply.code(res.statusCode).type('application/json')
  return res.body.text()
})
app.addHook('onClose', () => agent.close())

const url = await app.listen({ host: '127.0.0.1', port: 0 })
serveCommands({ url }, serverProbe(), () => app.close())
