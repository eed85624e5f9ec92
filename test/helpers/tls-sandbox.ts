// The sandbox a production config can point at: the Stripe simulator (plain http on loopback, which
// an adapter's baseUrl accepts) and the fake Rokt destination behind https, since a production
// config has no allowInsecureUrls. Run as a child process with NODE_EXTRA_CA_CERTS set to the test
// certificate, so that the simulated Stripe trusts the destination; prints its URLs as one JSON
// line and runs until stdin closes.
import { request } from 'node:http'
import { createServer } from 'node:https'
import { readFileSync } from 'node:fs'
import { startFakeDestination, startStripeSimulator } from '../../lib/sandbox/index.ts'

const tls = (file: string) => readFileSync(new URL(`../fixtures/tls/${file}`, import.meta.url), 'utf8')
const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': String(process.env.ROKT_DESTINATION_KEY) } })

// TLS in front of the destination: each request is passed on as it came.
const front = createServer({ key: tls('self-signed-key.pem'), cert: tls('self-signed-cert.pem') }, (req, res) => {
  const upstream = request(destination.baseUrl + req.url, { method: req.method, headers: req.headers }, answer => {
    res.writeHead(answer.statusCode ?? 502, answer.headers)
    answer.pipe(res)
  })
  upstream.on('error', () => { res.destroy() })
  req.pipe(upstream)
})
await new Promise<void>(resolve => front.listen(0, '127.0.0.1', resolve))
const destinationUrl = `https://127.0.0.1:${(front.address() as { port: number }).port}/v1/cards/tokenize`
const stripe = await startStripeSimulator({ destinations: [{ url: destinationUrl }] })

process.stdout.write(JSON.stringify({ stripeUrl: stripe.url, destinationUrl }) + '\n')
process.stdin.resume()
process.stdin.on('end', () => {
  front.close()
  Promise.all([stripe.close(), destination.close()]).then(() => process.exit(0), () => process.exit(1))
})
