/** What every bench process agrees on: the route, Rokt's body, the vault, the credentials. */

export const ROUTE = '/v1/initiate-payment-sharing'
export const FORWARD_PATH = '/v1/forwarding/requests'
export const ISSUER = 'https://idp.rokt.example/'
export const AUDIENCE = 'rokt-payment-sharing'
export const SCOPE = 'payment-sharing'
export const DESTINATION = 'COM.ROKT.CATALOG'
export const ROKT_API_KEY = 'rokt_dest_key_0123456789'
export const EMAIL = 'Jenny.Rosen@example.com'

/**
 * Rokt's calls are for different orders: concurrent forwards for one reference get 409 (README,
 * "Idempotency"), so the load cycles through this many references, all vaulted.
 */
export const REFERENCES = Array.from({ length: 10_000 }, (_, i) => `ORDER_${String(i).padStart(5, '0')}`)
export const REQUEST_BODIES = REFERENCES.map(reference => JSON.stringify({ customerIdentifiers: { email: EMAIL }, partnerPaymentReference: reference, destination: DESTINATION }))

/**
 * The vaulted method. It carries the billing address, so a forward is one Stripe call (without it
 * the adapter first reads the PaymentMethod: two calls).
 */
export const VAULT_RECORD = {
  psp: 'stripe',
  paymentMethod: 'pm_card_visa',
  customerIdentifiers: { email: 'jenny.rosen@example.com' },
  billingAddress: { line1: '1 Vault St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' }
}

/** The partner's vault: Rokt's reference -> the method vaulted at the first purchase. */
export const VAULT = new Map(REFERENCES.map(reference => [reference, VAULT_RECORD]))

/** Environment variable carrying a server's JSON configuration. */
export const CONFIG_ENV = 'BENCH_SERVER_CONFIG'
/** A plugin server loads the package from this file URL when set (--reference), else the checkout's build. */
export const PACKAGE_ENV = 'BENCH_PACKAGE_URL'

/** What the orchestrator gives a server under test. */
export interface ServerConfig {
  simUrl: string
  destinationUrl: string
  stripeApiKey: string
  /** The exact form body the plugin's Stripe adapter sends (captured by the backend). */
  stripeForm: string
  publicKey: string
  allowedIps: string[]
  /** When set, the server logs at info to this file (the host's logger, as partners run it); else no logger. */
  logFile?: string
  /**
   * bench:instructions: the server runs under valgrind, some 50 times slower. Load shedding's
   * event-loop delay check would shed every request, and its sampling timer, which runs by the
   * clock, would count 50 times its share: the check is off and the timer slowed to once a minute
   * (its hook and its memory checks still run on every request).
   */
  underValgrind?: boolean
}

/** The part of a server's config that comes from the backend's announcement (its URLs, key and captured form). */
export function backendConfig (info: Record<string, any>): Pick<ServerConfig, 'simUrl' | 'destinationUrl' | 'stripeApiKey' | 'stripeForm'> {
  return { simUrl: info.simUrl, destinationUrl: info.destinationUrl, stripeApiKey: info.stripeApiKey, stripeForm: info.stripeForm }
}

/** The host's Fastify logger for a server under test: pino at info writing to the file, or none. */
export function hostLogger (logFile: string | undefined): { logger: false } | { logger: { level: 'info', file: string } } {
  return logFile === undefined ? { logger: false } : { logger: { level: 'info', file: logFile } }
}

export function readConfig (): ServerConfig {
  const raw = process.env[CONFIG_ENV]
  if (raw === undefined) throw new Error(`${CONFIG_ENV} is not set: start this file from bench/run.ts`)
  return JSON.parse(raw) as ServerConfig
}
