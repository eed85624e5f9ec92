import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { connect, createServer as createNetServer, type Socket } from 'node:net'
import type { Test } from 'tap'
import { buildStripeSimulator, type StripeSimulatorOptions } from '../../lib/sandbox/index.ts'

/** PSPs that misbehave on real loopback sockets, for the fault matrix. */

export const TLS_CERT = readFileSync(new URL('../fixtures/tls/self-signed-cert.pem', import.meta.url), 'utf8')
const TLS_KEY = readFileSync(new URL('../fixtures/tls/self-signed-key.pem', import.meta.url), 'utf8')

export interface FaultyPsp {
  url: string
  /** Requests that reached the server. */
  readonly requests: number
}

async function serve (t: Test, server: Server, scheme = 'http'): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const { port } = server.address() as { port: number }
  return `${scheme}://127.0.0.1:${port}`
}

/** An HTTP server whose every answer is `handler`'s (which may hang, stall, reset...). */
export async function startFaultyPsp (t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<FaultyPsp> {
  let requests = 0
  const server = createHttpServer((req, res) => {
    requests++
    req.resume()
    req.on('end', () => handler(req, res))
  })
  const url = await serve(t, server)
  return { url, get requests () { return requests } }
}

/** A TCP server that answers every connection with bytes that are not HTTP. */
export async function startNotHttpPsp (t: Test): Promise<FaultyPsp> {
  let requests = 0
  const server = createNetServer(socket => {
    socket.once('data', () => {
      requests++
      socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => server.close(resolve)))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, get requests () { return requests } }
}

/** A loopback port nothing listens on: connecting is refused. */
export async function refusedUrl (): Promise<string> {
  const server = createNetServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

/**
 * A loopback port whose accept queue is full: a child process listens with a backlog of 1 and
 * never accepts (its event loop is blocked); two connections fill the queue, so the kernel drops
 * every further SYN and a connect can only time out.
 */
export async function blackholeUrl (t: Test): Promise<string> {
  const code = `
    const s = require('node:net').createServer()
    s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
      process.send(s.address().port, () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0))
    })`
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const port = await new Promise<number>(resolve => child.once('message', port => resolve(port as number)))
  const fillers: Socket[] = []
  for (let i = 0; i < 2; i++) {
    const socket = connect(port, '127.0.0.1')
    await new Promise(resolve => socket.once('connect', resolve))
    fillers.push(socket)
  }
  t.teardown(() => { for (const s of fillers) s.destroy() })
  return `http://127.0.0.1:${port}`
}

/** The Stripe simulator served over https with a self-signed certificate no client trusts. */
export async function startHttpsStripeSimulator (t: Test, options: StripeSimulatorOptions): Promise<FaultyPsp> {
  const app = buildStripeSimulator(options)
  await app.ready()
  t.teardown(() => app.close())
  let requests = 0
  const server = createHttpsServer({ key: TLS_KEY, cert: TLS_CERT }, (req, res) => {
    requests++
    app.routing(req, res)
  })
  const url = await serve(t, server as unknown as Server, 'https')
  return { url, get requests () { return requests } }
}

/** A getaddrinfo failure, raised by the lookup itself: the name never leaves the process. */
export function failingLookup (hostname: string, _options: unknown, callback: (err: Error) => void): void {
  const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname })
  process.nextTick(callback, err)
}

/** The harness's ORDER_67890 Stripe card with its billing address in the vault: the one PSP call is the forward itself. */
export const VAULTED_WITH_BILLING = Object.freeze({
  psp: 'psp',
  paymentMethod: 'pm_card_visa',
  billingAddress: { country: 'US' },
  customerIdentifiers: { email: 'jenny.rosen@example.com' }
})
