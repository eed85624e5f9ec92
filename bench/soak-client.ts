/**
 * The soak's clients, each bound to its own loopback address with undici's `localAddress`:
 * Rokt (allowlisted) sending purchases and retrying them by Rokt's rules, and an attacker (not
 * allowlisted) with a stolen token and a forged X-Forwarded-For naming Rokt's address.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import { DESTINATION, ROUTE } from './shared.ts'

/** Rokt retries a purchase on a 5xx, 408 or 429, or a network error; nothing else. */
export const isRetryable = (status: number | 'network'): boolean => status === 'network' || status >= 500 || status === 408 || status === 429
const MAX_ATTEMPTS = 8
const CLIENT_TIMEOUT_MS = 20_000

export interface Purchase {
  reference: string
  key: string
  /** Every attempt's status, in order ('network': reset, refused or timed out). */
  attempts: Array<number | 'network'>
  /** The last attempt's: 200, a final refusal, or a retryable failure once the attempts ran out. */
  final?: number | 'network'
  /** From the first attempt to the final answer. */
  ms: number
}

export interface Client {
  agent: Agent
  url: string
  headers: Record<string, string>
}

export function client (url: string, localAddress: string, token: string, extraHeaders: Record<string, string> = {}): Client {
  return {
    agent: new Agent({ localAddress, connections: 64, keepAliveTimeout: 10_000 }),
    url: url + ROUTE,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...extraHeaders }
  }
}

async function send (c: Client, body: string, key: string): Promise<{ status: number | 'network', retryAfter: number }> {
  try {
    const res = await request(c.url, {
      method: 'POST',
      dispatcher: c.agent,
      headers: { ...c.headers, 'idempotency-key': key },
      body,
      headersTimeout: CLIENT_TIMEOUT_MS,
      bodyTimeout: CLIENT_TIMEOUT_MS
    })
    await res.body.dump()
    return { status: res.statusCode, retryAfter: Number(res.headers['retry-after'] ?? 0) }
  } catch {
    return { status: 'network', retryAfter: 0 }
  }
}

/** One purchase, as Rokt sends it: one Idempotency-Key for all its attempts, backoff with jitter, Retry-After honoured (capped). */
export async function purchase (c: Client, reference: string): Promise<Purchase> {
  const started = performance.now()
  const p: Purchase = { reference, key: randomUUID(), attempts: [], ms: 0 }
  const body = JSON.stringify({ partnerPaymentReference: reference, destination: DESTINATION })
  for (let attempt = 1; ; attempt++) {
    const { status, retryAfter } = await send(c, body, p.key)
    p.attempts.push(status)
    if (status === 200 || !isRetryable(status) || attempt === MAX_ATTEMPTS) {
      p.final = status
      p.ms = performance.now() - started
      return p
    }
    const backoff = Math.min(5000, 200 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
    await sleep(Math.max(backoff, Math.min(retryAfter, 5) * 1000))
  }
}

/** `concurrency` purchases at a time, each a new order, until `until` (ms since the epoch); then waits for the last ones. */
export async function purchases (c: Client, concurrency: number, until: number, prefix: string): Promise<Purchase[]> {
  const done: Purchase[] = []
  let sequence = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < until) done.push(await purchase(c, `${prefix}_${++sequence}`))
  }))
  return done
}

/** The attacker: one request every `everyMs` until `until`, each for a new order; the statuses it got. */
export async function attack (c: Client, everyMs: number, until: number): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {}
  let sequence = 0
  while (Date.now() < until) {
    const { status } = await send(c, JSON.stringify({ partnerPaymentReference: `ATTACK_${++sequence}`, destination: DESTINATION }), randomUUID())
    statuses[status] = (statuses[status] ?? 0) + 1
    await sleep(everyMs)
  }
  return statuses
}
