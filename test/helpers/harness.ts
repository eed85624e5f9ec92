import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { appendFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { Test } from 'tap'
import cardForwarding, { type AuditEvent, type CardForwardingOptions } from '../../index.ts'
import { startFakeDestination, type FakeDestination } from '../../lib/sandbox/destination.ts'
import { PSP_KITS, type PspKit, type RunningSimulator } from './psp-kits.ts'
import { generateTestKeys, mintToken, type MintTokenOptions, type TestKeyPair } from '../../lib/sandbox/tokens.ts'
import { LOG_CAPTURE_DIR } from './secrets.ts'

export const ISSUER = 'https://idp.rokt.example/'
export const AUDIENCE = 'rokt-payment-sharing'
export const ROKT_IP = '203.0.113.7'
export const DESTINATION = 'COM.ROKT.CATALOG'
export const EMAIL = 'Jenny.Rosen@example.com'
export const ROKT_API_KEY = 'rokt_dest_key_0123456789'

/**
 * Every log line any harness app wrote during the whole test file (scanned for secrets by tests),
 * also appended to LOG_CAPTURE_DIR so that the suite-wide scan (tap's `after`) sees every process.
 */
export const logLines: string[] = []
mkdirSync(LOG_CAPTURE_DIR, { recursive: true })
const captureFile = join(LOG_CAPTURE_DIR, `${process.pid}.ndjson`)
appendFileSync(captureFile, '')
export const logStream = new Writable({
  write (chunk, _enc, done) {
    logLines.push(chunk.toString())
    appendFileSync(captureFile, chunk)
    done()
  }
})

/**
 * The logger every test app uses: everything down to trace, into logStream. ISO timestamps, so
 * that no epoch-millisecond number looks like a card number to the scan.
 */
export const testLogger = {
  level: 'trace',
  stream: logStream,
  timestamp: () => `,"time":"${new Date().toISOString()}"`
}

export const rsaKeys: TestKeyPair = generateTestKeys('RS256', 'rokt-rsa-1')

const CLAIM_OF = { issuer: 'iss', audience: 'aud', clientId: 'client_id', subject: 'sub' } as const

/** A valid token of the harness; an option overridden with `undefined` leaves its claim out (mintToken asks that be said). */
export function token (overrides: Partial<MintTokenOptions> = {}): string {
  const absent = Object.entries(CLAIM_OF).filter(([option]) => Object.hasOwn(overrides, option) && overrides[option as keyof typeof CLAIM_OF] === undefined)
  const claims = { ...Object.fromEntries(absent.map(([, claim]) => [claim, undefined])), ...overrides.claims }
  return mintToken({ privateKey: rsaKeys.privateKey, issuer: ISSUER, audience: AUDIENCE, clientId: 'rokt', subject: 'rokt', scope: 'payment-sharing', kid: 'rokt-rsa-1', ...overrides, claims })
}

export interface Harness {
  app: FastifyInstance
  simulator: RunningSimulator
  destination: FakeDestination
  /** The vault: ORDER_67890 holds the kit's test card; ORDER_BILLING has a billing address too */
  vault: Map<string, any>
  kit: PspKit
  audits: AuditEvent[]
  post: (body: unknown, opts?: { token?: string | null, ip?: string, headers?: Record<string, string>, raw?: string }) => Promise<{ statusCode: number, headers: Record<string, unknown>, json: any }>
}

export interface HarnessOptions {
  plugin?: Partial<CardForwardingOptions<any>>
  server?: FastifyServerOptions
  /** Which PSP (default Stripe) */
  kit?: PspKit
  /** Register things on the host before the plugin (a host's own @fastify/jwt, say). */
  before?: (app: FastifyInstance) => Promise<void> | void
}

/** A host app with the plugin, a PSP simulator and a fake Rokt destination, all on loopback. */
export async function buildHarness (t: Test, options: HarnessOptions = {}): Promise<Harness> {
  const kit = options.kit ?? PSP_KITS[0]
  const destination = await startFakeDestination({ requiredHeaders: { 'x-rokt-api-key': ROKT_API_KEY } })
  t.teardown(() => destination.close())
  const simulator = await kit.start(destination.url)
  t.teardown(() => simulator.close())
  const vault = new Map<string, any>([
    ['ORDER_67890', { psp: 'psp', ...kit.record, customerIdentifiers: { email: 'jenny.rosen@example.com', customerId: 'cus_1' } }],
    ['ORDER_BILLING', { psp: 'psp', ...kit.record, billingAddress: { line1: '1 Vault St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' } }]
  ])
  const audits: Harness['audits'] = []
  const app = Fastify({ logger: testLogger, ...options.server })
  t.teardown(() => app.close())
  await options.before?.(app)
  await app.register(cardForwarding, {
    allowedIps: ['203.0.113.0/24', '2001:db8::/32'],
    auth: { publicKey: rsaKeys.publicKey, issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing' },
    resolvePaymentMethod: async ({ partnerPaymentReference }) => vault.get(partnerPaymentReference) ?? null,
    psps: { psp: kit.adapter(simulator.url) },
    destinations: { [DESTINATION]: { url: destination.url, headers: { 'x-rokt-api-key': ROKT_API_KEY } } },
    allowInsecureUrls: true,
    onAudit: (event) => { audits.push(event) },
    // A test process stalled for a second on a busy machine must not be shed; load-shedding.test.ts turns it on.
    loadShedding: false,
    ...options.plugin
  })
  await app.ready()

  async function post (body: unknown, opts: { token?: string | null, ip?: string, headers?: Record<string, string>, raw?: string } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers }
    const bearer = opts.token === undefined ? token() : opts.token
    if (bearer !== null) headers.authorization = `Bearer ${bearer}`
    const res = await app.inject({
      method: 'POST',
      url: '/v1/initiate-payment-sharing',
      remoteAddress: opts.ip ?? ROKT_IP,
      headers,
      payload: opts.raw ?? JSON.stringify(body)
    })
    let json: any
    try { json = res.json() } catch { json = res.body }
    return { statusCode: res.statusCode, headers: res.headers, json }
  }

  return { app, simulator, destination, vault, audits, post, kit }
}

export const validBody = { customerIdentifiers: { email: EMAIL }, partnerPaymentReference: 'ORDER_67890', destination: DESTINATION }
