/**
 * The soak's backend process (started with bench/processes.ts): the fake Rokt destination, the
 * Stripe simulator, and a proxy in front of the simulator that injects a fault into about one PSP
 * call in five. The plugin's Stripe adapter points at the proxy. Commands: `faults-on`,
 * `faults-off`, `report` (the faults injected, and the forwards the destination saw per reference).
 */
import { createServer, type IncomingMessage } from 'node:http'
import { Agent, request } from 'undici'
import { startFakeDestination } from '../lib/sandbox/destination.ts'
import { startStripeSimulator } from '../lib/sandbox/index.ts'
import { serveCommands } from './child.ts'
import { ROKT_API_KEY } from './shared.ts'

/** What the proxy does to a PSP call; the weights are out of 100. */
export const FAULTS = {
  none: 80,
  // Nothing reaches the PSP:
  reset_before_forward: 3,
  psp_500_envelope: 3,
  proxy_502_page: 2,
  headers_timeout: 1,
  // The PSP forwarded the card, but its answer is lost or spoiled on the way back:
  forwarded_then_reset: 4,
  forwarded_then_502_page: 3,
  forwarded_then_truncated_json: 4
} as const
export type Fault = keyof typeof FAULTS

const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_API_KEY } })
const simulator = await startStripeSimulator({ destinations: [{ url: destination.url }] })
const upstream = new Agent({ connections: 256 })
const counts = Object.fromEntries(Object.keys(FAULTS).map(f => [f, 0])) as Record<Fault, number>
const table = Object.entries(FAULTS).flatMap(([fault, weight]) => Array<Fault>(weight).fill(fault as Fault))
let faultsOn = true

async function read (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk)
  return Buffer.concat(chunks).toString()
}

const proxy = createServer((req, res) => {
  (async () => {
    const body = await read(req)
    const fault: Fault = faultsOn ? table[Math.floor(Math.random() * table.length)] : 'none'
    counts[fault]++
    const json = { 'content-type': 'application/json' }
    if (fault === 'reset_before_forward') return req.socket.resetAndDestroy()
    if (fault === 'psp_500_envelope') return res.writeHead(500, json).end('{"error":{"type":"api_error","message":"An unknown error occurred"}}')
    if (fault === 'proxy_502_page') return res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>')
    if (fault === 'headers_timeout') return setTimeout(() => req.socket.destroy(), 3000)
    const headers: Record<string, string> = {}
    for (const name of ['authorization', 'content-type', 'idempotency-key']) {
      if (typeof req.headers[name] === 'string') headers[name] = req.headers[name]
    }
    const answer = await request(simulator.url + (req.url as string), { method: req.method as 'POST', headers, body, dispatcher: upstream })
    const text = await answer.body.text()
    if (fault === 'forwarded_then_reset') {
      res.writeHead(answer.statusCode, { ...json, 'content-length': Buffer.byteLength(text) })
      return res.write(text.slice(0, 20), () => req.socket.resetAndDestroy())
    }
    if (fault === 'forwarded_then_502_page') return res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>')
    if (fault === 'forwarded_then_truncated_json') return res.writeHead(answer.statusCode, json).end(text.slice(0, text.length >> 1))
    res.writeHead(answer.statusCode, json).end(text)
  })().catch(() => { req.socket.destroy() })
})
await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
const { port } = proxy.address() as { port: number }

serveCommands({ url: `http://127.0.0.1:${port}`, destinationUrl: destination.url }, {
  'faults-on': () => { faultsOn = true; return {} },
  'faults-off': () => { faultsOn = false; return {} },
  report: () => {
    // Each vault record carries its reference as the billing address: the destination's bodies say which order each forward was for.
    const forwards: Record<string, number> = {}
    for (const received of destination.received) {
      const reference = String((received.body as any)?.billing_address?.line1)
      forwards[reference] = (forwards[reference] ?? 0) + 1
    }
    return { faults: counts, forwards }
  }
}, async () => {
  proxy.closeAllConnections()
  proxy.close()
  await upstream.close()
  await simulator.close()
  await destination.close()
})
