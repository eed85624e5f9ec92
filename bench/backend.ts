import { randomBytes } from 'node:crypto'
import { startFakeDestination } from '../lib/sandbox/destination.ts'
import { listen } from '../lib/sandbox/server.ts'
import { buildStripeSimulator, startStripeSimulator, STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { mintToken } from '../lib/sandbox/tokens.ts'
import { serveCommands, serverProbe } from './child.ts'
import { buildPluginApp } from './plugin-app.ts'
import { AUDIENCE, FORWARD_PATH, ISSUER, REQUEST_BODIES, ROKT_API_KEY, ROUTE, SCOPE } from './shared.ts'

/**
 * The third process: the Stripe simulator and the fake Rokt destination (answering at once).
 * It counts the TCP connections and requests the simulator received.
 */

// The destination and the simulator keep a bounded number of requests and ids (lib/sandbox/recorder.ts,
// lib/sandbox/bounded-map.ts): their memory stays flat in long runs without help.
const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_API_KEY } })
const stripeForm = await captureStripeForm(destination.url)

const simulator = buildStripeSimulator({ destinations: [{ url: destination.url }] })
let connections = 0
let requests = 0
simulator.server.on('connection', () => { connections++ })
simulator.server.on('request', () => { requests++ })
const { url: simUrl } = await listen(simulator)

serveCommands({ simUrl, destinationUrl: destination.url, stripeForm, stripeApiKey: STRIPE_SANDBOX_API_KEY }, {
  ...serverProbe(),
  stats: () => ({ connections, requests })
}, async () => {
  await simulator.close()
  await destination.close()
})

/** The form body the plugin's Stripe adapter sends for the bench's request, taken from a real forward. */
async function captureStripeForm (destinationUrl: string): Promise<string> {
  const capture = await startStripeSimulator({ destinations: [{ url: destinationUrl }] })
  const secret = randomBytes(32).toString('hex')
  const app = await buildPluginApp({ simUrl: capture.url, destinationUrl, stripeApiKey: STRIPE_SANDBOX_API_KEY, allowedIps: ['127.0.0.1'], key: { secret } })
  try {
    const token = mintToken({ secret, issuer: ISSUER, audience: AUDIENCE, scope: SCOPE, subject: 'rokt', clientId: 'rokt' })
    const res = await app.inject({ method: 'POST', url: ROUTE, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: REQUEST_BODIES[0] })
    const form = capture.requests.find(r => r.method === 'POST' && r.path === FORWARD_PATH)?.body
    if (res.statusCode !== 200 || form === undefined) throw new Error(`could not capture the Stripe form: ${res.statusCode} ${res.body}`)
    return form
  } finally {
    await app.close()
    await capture.close()
  }
}
