import Fastify, { type FastifyInstance } from 'fastify'
import type { AuthOptions } from '../index.ts'
import { AUDIENCE, DESTINATION, hostLogger, ISSUER, PACKAGE_ENV, ROKT_API_KEY, SCOPE, VAULT } from './shared.ts'

export interface PluginAppOptions {
  simUrl: string
  destinationUrl: string
  stripeApiKey: string
  allowedIps: string[]
  /** The key source; issuer, audience and scope are the bench's. */
  key: Pick<AuthOptions, 'publicKey' | 'secret'>
  /** See ServerConfig.logFile */
  logFile?: string
  /** See ServerConfig.underValgrind */
  underValgrind?: boolean
}

/**
 * The package as partners run it: the build (`npm run bench` builds first), not the TypeScript
 * sources through tsx, whose output wraps every closure a request creates in a naming call.
 * `--reference` points one server at another commit's build.
 */
const PACKAGE = process.env[PACKAGE_ENV] ?? new URL('../dist/esm/index.js', import.meta.url).href
const { default: cardForwarding, stripe } = await import(PACKAGE) as typeof import('../index.ts')

/** A partner's host app: Fastify with the plugin registered as the README shows, nothing else. */
export async function buildPluginApp (options: PluginAppOptions): Promise<FastifyInstance> {
  const app = Fastify(hostLogger(options.logFile))
  await app.register(cardForwarding, {
    allowedIps: options.allowedIps,
    auth: { ...options.key, issuer: ISSUER, audience: AUDIENCE, requiredScope: SCOPE },
    resolvePaymentMethod: async ({ partnerPaymentReference }) => VAULT.get(partnerPaymentReference) ?? null,
    psps: { stripe: stripe({ apiKey: options.stripeApiKey, baseUrl: options.simUrl }) },
    destinations: { [DESTINATION]: { url: options.destinationUrl, headers: { 'x-rokt-api-key': ROKT_API_KEY } } },
    allowInsecureUrls: true,
    ...(options.underValgrind === true ? { loadShedding: { maxEventLoopDelay: 0, sampleInterval: 60_000 } } : {})
  })
  return app
}
