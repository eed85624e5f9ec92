import Fastify, { type FastifyInstance } from 'fastify'
import cardForwarding, { stripe, type AuthOptions } from '../index.ts'
import { AUDIENCE, DESTINATION, ISSUER, ROKT_API_KEY, SCOPE, VAULT } from './shared.ts'

export interface PluginAppOptions {
  simUrl: string
  destinationUrl: string
  stripeApiKey: string
  allowedIps: string[]
  /** The key source; issuer, audience and scope are the bench's. */
  key: Pick<AuthOptions, 'publicKey' | 'secret'>
}

/** A partner's host app: Fastify with the plugin registered as the README shows, nothing else. */
export async function buildPluginApp (options: PluginAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(cardForwarding, {
    allowedIps: options.allowedIps,
    auth: { ...options.key, issuer: ISSUER, audience: AUDIENCE, requiredScope: SCOPE },
    resolvePaymentMethod: async ({ partnerPaymentReference }) => VAULT.get(partnerPaymentReference) ?? null,
    psps: { stripe: stripe({ apiKey: options.stripeApiKey, baseUrl: options.simUrl }) },
    destinations: { [DESTINATION]: { url: options.destinationUrl, headers: { 'x-rokt-api-key': ROKT_API_KEY } } },
    allowInsecureUrls: true
  })
  return app
}
