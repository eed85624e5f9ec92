// A production server: the plugin in a Fastify app configured from the environment, behind a load
// balancer, with structured logs, a health check and graceful shutdown on SIGTERM.
//
// Run: node --import tsx examples/production.ts, with these variables set (secrets from your
// secret manager, never from a file in the repository):
//
//   PORT, HOST                      where to listen (default 3000, 0.0.0.0)
//   TRUSTED_PROXIES                 your load balancers' addresses or CIDRs, comma-separated; unset
//                                   when Rokt reaches this process directly
//   ROKT_ALLOWED_IPS                Rokt's static IPs, comma-separated (Rokt gives you the list)
//   AUTH_JWKS_URL                   the JWKS of whoever issues Rokt's tokens (README "Who issues the tokens")
//   AUTH_ISSUER, AUTH_AUDIENCE      the tokens' exact iss and aud
//   AUTH_REQUIRED_SCOPE             optional: the scope Rokt's client is granted
//   STRIPE_FORWARDING_KEY           your Stripe restricted key (forwarding_request_write, PaymentMethod read)
//   STRIPE_API_BASE_URL             optional: only to point the adapter at a proxy or the sandbox
//   ROKT_DESTINATION_URL            Rokt's PCI endpoint, exactly as Stripe onboarded it
//   ROKT_DESTINATION_KEY            the x-rokt-api-key Rokt gave you
//   VAULT_DATABASE                  the SQLite file of vaulted cards (your own database in real life)
//   LOG_LEVEL                       default info
import Database from 'better-sqlite3'
import Fastify from 'fastify'
import cardForwarding, { stripe, type VaultedPaymentMethod } from '../index.ts' // 'fastify-rokt-card-forwarding' in your app

/** A required variable: a missing one stops the start, naming it (never its value). */
function env (name: string): string {
  const value = process.env[name]
  if (value === undefined || value.trim() === '') throw new Error(`${name} is not set`)
  return value.trim()
}
const list = (value: string) => value.split(',').map(item => item.trim()).filter(item => item !== '')

// The shutdown grace of the plugin's forwards in flight, and a little more for the rest of close().
const SHUTDOWN_GRACE_MS = 8000
const HARD_STOP_MS = SHUTDOWN_GRACE_MS + 2000

const trustedProxies = list(process.env.TRUSTED_PROXIES ?? '')
const app = Fastify({
  // One JSON line per event on stdout, for your log shipper. Fastify's default serializers log no
  // headers and no bodies; the plugin never logs a card, a token, a key or an email.
  logger: { level: process.env.LOG_LEVEL ?? 'info' },
  // Behind a load balancer: trust exactly its addresses, never `true` or a hop count (the plugin
  // refuses both), so that request.ip is the client the balancer saw.
  trustProxy: trustedProxies.length > 0 ? trustedProxies : false,
  // Slow clients do not hold sockets open forever.
  requestTimeout: 30_000
})

// The vault: the card the shopper used at the first purchase, by the reference given to Rokt's SDK.
const db = new Database(env('VAULT_DATABASE'), { readonly: true, fileMustExist: true })
const findByReference = db.prepare<[string], { payment_method: string, email: string | null }>(
  'SELECT payment_method, email FROM vaulted_cards WHERE reference = ?'
)
const psps = {
  stripe: stripe({ apiKey: env('STRIPE_FORWARDING_KEY'), ...(process.env.STRIPE_API_BASE_URL ? { baseUrl: process.env.STRIPE_API_BASE_URL } : {}) })
}

async function resolvePaymentMethod ({ partnerPaymentReference }: { partnerPaymentReference: string }): Promise<VaultedPaymentMethod<typeof psps> | null> {
  const row = findByReference.get(partnerPaymentReference)
  if (row === undefined) return null
  return { psp: 'stripe', paymentMethod: row.payment_method, customerIdentifiers: { email: row.email ?? undefined } }
}

await app.register(cardForwarding, {
  allowedIps: list(env('ROKT_ALLOWED_IPS')),
  auth: {
    jwksUrl: env('AUTH_JWKS_URL'),
    issuer: env('AUTH_ISSUER'),
    audience: env('AUTH_AUDIENCE'),
    ...(process.env.AUTH_REQUIRED_SCOPE ? { requiredScope: process.env.AUTH_REQUIRED_SCOPE } : {})
  },
  psps,
  resolvePaymentMethod,
  destinations: {
    'COM.ROKT.CATALOG': { url: env('ROKT_DESTINATION_URL'), headers: { 'x-rokt-api-key': env('ROKT_DESTINATION_KEY') } }
  },
  // Every outcome is also one info line under `audit`: ship those to your audit log store (PCI DSS
  // 10.5.1: 12 months, 3 of them at hand), or pass onAudit to send them elsewhere.
  shutdownGraceMs: SHUTDOWN_GRACE_MS
})

// For the load balancer: 200 while serving; Fastify answers 503 on its own once close() began,
// so the balancer stops sending before the process goes.
app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }))
app.addHook('onClose', async () => { db.close() })

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.log.info({ signal }, 'shutting down: new requests get 503, forwards in flight may finish')
    // A close that outlives the grace is stuck: stop anyway, and say so.
    const hardStop = setTimeout(() => {
      app.log.error('shutdown did not finish in time, exiting')
      process.exit(1)
    }, HARD_STOP_MS).unref()
    app.close().then(() => {
      clearTimeout(hardStop)
      app.log.info('closed')
    }, (err: Error) => {
      app.log.error({ err }, 'close failed')
      process.exit(1)
    })
  })
}

await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '0.0.0.0' })
