// A vault resolver backed by a real database: SQLite through better-sqlite3 (v12 runs on Node 20).
// Run: npx tsx examples/sqlite-vault.ts [path/to/vault.db]   (default: an in-memory database)
import Database from 'better-sqlite3'
import Fastify from 'fastify'
import cardForwarding, { stripe, type VaultedPaymentMethod } from '../index.ts'
import { startStripeSimulator, STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { auth, callAsRokt, destination } from './demo.ts'

const db = new Database(process.argv[2] ?? ':memory:')
db.exec(`
  CREATE TABLE IF NOT EXISTS vaulted_payment_methods (
    reference       TEXT PRIMARY KEY,   -- the partnerPaymentReference given to Rokt's SDK
    psp             TEXT NOT NULL,      -- a key of the plugin's psps option
    handle          TEXT NOT NULL,      -- JSON: the PSP's own handle, e.g. {"paymentMethod":"pm_..."}
    email           TEXT,
    customer_id     TEXT,
    billing_address TEXT,               -- JSON BillingAddress, or NULL
    expires_at      INTEGER NOT NULL    -- unix seconds: a reference is shareable for a short time only
  )`)
db.prepare('INSERT OR REPLACE INTO vaulted_payment_methods VALUES (?, ?, ?, ?, ?, ?, ?)').run(
  'ORDER_67890', 'stripe', JSON.stringify({ paymentMethod: 'pm_card_visa' }), 'john.smith@example.com', 'cus_1',
  JSON.stringify({ line1: '1 Rokt Way', city: 'New York', state: 'NY', postalCode: '10001', country: 'US' }),
  Math.floor(Date.now() / 1000) + 3600
)

// Prepared once; each request is one indexed lookup. Expired references are simply not found (404).
const findByReference = db.prepare<[string, number], { psp: string, handle: string, email: string | null, customer_id: string | null, billing_address: string | null }>(
  'SELECT psp, handle, email, customer_id, billing_address FROM vaulted_payment_methods WHERE reference = ? AND expires_at > ?'
)

const simulator = await startStripeSimulator({ destinations: [{ url: destination.url }] })
const psps = { stripe: stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: simulator.url }) }

async function resolvePaymentMethod ({ partnerPaymentReference }: { partnerPaymentReference: string }): Promise<VaultedPaymentMethod<typeof psps> | null> {
  const row = findByReference.get(partnerPaymentReference, Math.floor(Date.now() / 1000))
  if (row === undefined) return null
  return {
    psp: row.psp as 'stripe',
    ...JSON.parse(row.handle),
    customerIdentifiers: { email: row.email ?? undefined, customerId: row.customer_id ?? undefined },
    billingAddress: row.billing_address === null ? undefined : JSON.parse(row.billing_address)
  }
}

const app = Fastify()
app.addHook('onClose', async () => { await simulator.close(); db.close() })
await app.register(cardForwarding, {
  allowedIps: ['127.0.0.1'],
  auth,
  psps,
  resolvePaymentMethod,
  destinations: { 'COM.ROKT.CATALOG': { url: destination.url } },
  allowInsecureUrls: true
})
await callAsRokt(app, 'ORDER_67890')
