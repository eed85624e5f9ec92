import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis, type RedisOptions } from 'ioredis'

/** Debian's redis-server (scripts/check-test-services.ts stops `npm test` with the install command when it is missing). */
export const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server'

/** The client options the README recommends: fail at once while disconnected, keep reconnecting. */
export const RECOMMENDED_CLIENT: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: (times: number) => Math.min(times * 100, 1000)
}

/** A port the kernel just handed out (closed again; redis-server binds it a moment later). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

/** A throwaway redis-server on 127.0.0.1: no RDB, no AOF, its files in a temp dir; start, kill, pause it at will. */
export class RedisServer {
  port = 0
  child: ChildProcess | undefined
  readonly dir = mkdtempSync(join(tmpdir(), 'redis-test-'))

  async start (port?: number): Promise<this> {
    this.port = port ?? (this.port !== 0 ? this.port : await freePort())
    const child = spawn(REDIS_SERVER, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--dir', this.dir, '--logfile', '', '--loglevel', 'notice'
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('redis-server did not start: ' + out)) }, 10_000)
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('Ready to accept connections')) { clearTimeout(timer); resolve() }
      })
      child.once('exit', code => { clearTimeout(timer); reject(new Error(`redis-server exited (${code}): ${out}`)) })
      child.once('error', err => { clearTimeout(timer); reject(err) })
    })
    child.removeAllListeners('exit')
    child.stdout!.removeAllListeners('data').resume()
    child.stderr!.resume()
    return this
  }

  /** SIGKILL: connections drop at once, as with a crashed server. */
  async kill (): Promise<void> {
    const child = this.child
    this.child = undefined
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGCONT')
    child.kill('SIGKILL')
    await exited
  }

  /** SIGSTOP: the socket stays open and nothing answers, as with a network black hole. */
  pause (): void { this.child?.kill('SIGSTOP') }
  resume (): void { this.child?.kill('SIGCONT') }

  async stop (): Promise<void> {
    await this.kill()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** An ioredis client of `server`, connected, with an error listener (ioredis logs every failed reconnect without one). */
export async function connectClient (server: RedisServer, options: RedisOptions = RECOMMENDED_CLIENT): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true, ...options })
  client.on('error', () => {})
  await client.connect()
  return client
}

/** Waits until `client` answers again (after a restart). */
export async function untilReady (client: Redis, timeoutMs = 5000): Promise<void> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    if (client.status === 'ready' && await client.ping().then(() => true, () => false)) return
    await sleep(20)
  }
  throw new Error('the Redis client did not reconnect')
}
