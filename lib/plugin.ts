import type { FastifyInstance } from 'fastify'
import type { CardForwardingOptions } from '../types/index.ts'
import { createAuditor } from './audit.ts'
import { errorForLog } from './logging.ts'
import { registerAuth } from './edge/auth.ts'
import { registerTokenEndpoint } from './edge/token-endpoint/route.ts'
import { resolveOptions } from './options/index.ts'
import { serverTimeoutWarnings } from './options/server.ts'
import { createErrorHandler } from './route/error-handler.ts'
import { registerPaymentRoute } from './route/index.ts'
import { registerLoadShedding } from './route/load-shedding.ts'

/** Registration only: every option is read and checked once, then the parts are wired in this (encapsulated) scope. */
export async function cardForwardingPlugin (fastify: FastifyInstance, options: CardForwardingOptions<any>): Promise<void> {
  const resolved = resolveOptions(options, { trustProxy: hostOption(fastify, 'trustProxy') })
  for (const warning of serverTimeoutWarnings(fastify.initialConfig)) fastify.log.warn(`card-forwarding: the server's ${warning}`)
  // First: its onRequest hook runs before every other hook of this scope (no crypto, no PSP work when shedding).
  await registerLoadShedding(fastify, resolved.loadShedding)
  // Without `logger` or `loggerInstance` Fastify's logger is a no-op (abstract-logging, no
  // isLevelEnabled; `logger: true` makes a pino one): then only onAudit can hear an event.
  const hostLogs = hostOption(fastify, 'loggerInstance') !== undefined || typeof (fastify.log as { isLevelEnabled?: unknown }).isLevelEnabled === 'function'
  const audit = createAuditor(resolved.onAudit, hostLogs)
  // Set before the token endpoint's scope is created: a child scope keeps the parent's handler of that moment.
  fastify.setErrorHandler(createErrorHandler(audit))
  if (resolved.tokenEndpoint !== null) await registerTokenEndpoint(fastify, resolved.tokenEndpoint, audit)
  const authenticate = await registerAuth(fastify, resolved.auth, resolved.tokenEndpoint?.keyRing)
  fastify.addHook('onClose', async () => {
    // An adapter's close is partner code for custom adapters: its failure is logged, the app still closes.
    const adapters = [...new Set(resolved.adapters.values())]
    const closed = await Promise.allSettled(adapters.map(async adapter => await adapter.close?.()))
    closed.forEach((result, i) => {
      if (result.status === 'rejected') fastify.log.error({ psp: adapters[i].name, error: errorForLog(result.reason) }, 'card-forwarding: could not close an adapter')
    })
  })
  registerPaymentRoute(fastify, resolved, authenticate, audit)
}

/** Fastify keeps its server options under a private symbol and initialConfig omits trustProxy. */
function hostOption (fastify: FastifyInstance, name: string): unknown {
  for (let o: any = fastify; o !== null; o = Object.getPrototypeOf(o)) {
    const symbol = Object.getOwnPropertySymbols(o).find(s => s.description === 'fastify.options')
    if (symbol !== undefined) return o[symbol][name]
  }
  /* c8 ignore next 2 */
  throw new Error('cannot read the server options of this Fastify version')
}
