import { randomUUID } from 'node:crypto'
import { createSigner, createVerifier } from 'fast-jwt'
import { request } from 'undici'
import { generateTestKeys } from '../lib/sandbox/tokens.ts'
import { startChild } from './processes.ts'
import { AUDIENCE, EMAIL, FORWARD_PATH, ISSUER, REQUEST_BODIES, SCOPE, VAULT_RECORD } from './shared.ts'

/**
 * `npm run bench:steps`: what the steps a forward cannot skip cost measured alone, in a loop, on
 * the build (dist/esm), with the bench's own data: the Stripe simulator's real envelope, the
 * bench's request body and vault record. The figures are a floor: inside a loaded server each step
 * also pays for colder caches and the garbage it leaves. The loop runs in this one process; the
 * backend (simulator and destination) answers one request to give the envelope, then stops.
 */

const BUILD = new URL('../dist/esm/lib/', import.meta.url).href
const { relayedAnswer } = await import(`${BUILD}route/answer.js`) as typeof import('../lib/route/answer.ts')
const { forwardResult } = await import(`${BUILD}psp/relay.js`) as typeof import('../lib/psp/relay.ts')
const { identifiersMatch } = await import(`${BUILD}route/identifiers.js`) as typeof import('../lib/route/identifiers.ts')
const { digestOf } = await import(`${BUILD}hash.js`) as typeof import('../lib/hash.ts')
const { correlationIdOf } = await import(`${BUILD}route/correlation.js`) as typeof import('../lib/route/correlation.ts')
const { memoryIdempotencyStore } = await import(`${BUILD}stores/memory.js`) as typeof import('../lib/stores/memory.ts')
const { AbortSource } = await import(`${BUILD}psp/abort-source.js`) as typeof import('../lib/psp/abort-source.ts')
const { redactUrl } = await import(`${BUILD}redact.js`) as typeof import('../lib/redact.ts')

/** ns per call of `step`, after a warm-up: the best of three timed batches (the least disturbed). */
async function measure (step: () => unknown, iterations = 20_000): Promise<number> {
  // Awaited only when the step is asynchronous: a synchronous one pays no microtask.
  for (let i = 0; i < Math.min(2000, iterations); i++) { const r = step(); if (r instanceof Promise) await r }
  let best = Infinity
  for (let batch = 0; batch < 3; batch++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) { const r = step(); if (r instanceof Promise) await r }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations)
  }
  return best
}

const backend = await startChild('backend.ts')
let envelopeText: string
try {
  const res = await request(backend.info.simUrl + FORWARD_PATH, {
    method: 'POST',
    headers: { authorization: `Bearer ${backend.info.stripeApiKey}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: backend.info.stripeForm
  })
  envelopeText = await res.body.text()
  if (res.statusCode !== 200) throw new Error(`the simulator answered ${res.statusCode}`)
} finally {
  await backend.stop()
}

const keys = generateTestKeys('RS256', 'rokt-rsa-1')
const sign = createSigner({ key: keys.privateKey, algorithm: 'RS256', kid: 'rokt-rsa-1', header: { alg: 'RS256', typ: 'at+jwt' } })
const claims = () => {
  const iat = Math.floor(Date.now() / 1000)
  return { iss: ISSUER, aud: AUDIENCE, scope: SCOPE, client_id: 'rokt', sub: 'rokt', jti: randomUUID(), iat, exp: iat + 900 }
}
const verifierOptions = { key: keys.publicKey, algorithms: ['RS256' as const], allowedIss: ISSUER, allowedAud: AUDIENCE, requiredClaims: ['iss', 'exp', 'iat', 'aud'], maxAge: 900_000 }
const cachedVerify = createVerifier({ ...verifierOptions, cache: 100 })
const uncachedVerify = createVerifier(verifierOptions)
const token = sign(claims())
const freshTokens = Array.from({ length: 500 }, () => sign(claims()))
let fresh = 0

const envelope = JSON.parse(envelopeText)
const result = forwardResult(envelope.response_details, envelope, envelope.request_context?.destination_duration ?? 1)
const body = JSON.parse(REQUEST_BODIES[0])
const store = memoryIdempotencyStore()
const noop = () => {}
const LONG_PATHS = ['/' + 'a'.repeat(16_000), '/' + 'b'.repeat(16_000)]
let long = 0

const steps: Array<[string, () => unknown, number?]> = [
  ['abort: the deadline\'s AbortSource, one listener added and removed (undici\'s EventEmitter path)', () => {
    const source = new AbortSource()
    source.once('abort', noop)
    source.removeListener('abort', noop)
  }],
  ['(only for partner code that reads `signal`) an AbortSignal, one listener added and removed', () => {
    const signal = new AbortController().signal
    signal.addEventListener('abort', noop, { once: true })
    signal.removeEventListener('abort', noop)
  }],
  ['deadline timer: setTimeout and clearTimeout', () => clearTimeout(setTimeout(noop, 60_000))],
  ['JWT: fast-jwt verify of a cached token (its SHA-256 cache key included)', () => cachedVerify(token)],
  ['JWT: fast-jwt verify of a token never seen (RSA-2048)', () => uncachedVerify(freshTokens[fresh++ % freshTokens.length])],
  [`Stripe envelope: JSON.parse (${Buffer.byteLength(envelopeText)} bytes)`, () => JSON.parse(envelopeText)],
  ['answer: forwardResult (headers, inner body parsed)', () => forwardResult(envelope.response_details, envelope, 1)],
  ['answer: relayedAnswer (card numbers masked at any depth, checked, serialised)', () => relayedAnswer(result, 'destination', 'stripe')],
  ['request: JSON.parse of the route body', () => JSON.parse(REQUEST_BODIES[0])],
  ['identifiers: email prepared, compared in constant time (two SHA-256)', () => identifiersMatch(body.customerIdentifiers, VAULT_RECORD.customerIdentifiers)],
  ['idempotency: reference lock id (SHA-256) and the in-memory store\'s begin + release', async () => {
    const id = 'ref:' + digestOf([body.partnerPaymentReference], 'hex')
    const claim = await store.begin(id, '', 120_000)
    if (claim.state === 'claimed') await store.release(id, claim.owner)
  }],
  ['correlation id: random (a pooled random fill)', () => correlationIdOf(undefined)],
  // Not a step of every forward: the worst a caller's URL can make the request log line's redaction cost.
  // Two paths in turn: redactUrl remembers the last clean URL, and a caller can vary its own.
  ['(worst case, in the request log line) a 16 KB path of word characters, redacted', () => redactUrl(LONG_PATHS[long++ % 2]), 500]
]

console.log(`Node ${process.version}; each step alone, best of three batches of 20,000 after 2,000 warm-up calls (${EMAIL.length}-character email)\n`)
console.log('| step | µs per forward |')
console.log('|---|---|')
let total = 0
for (const [name, step, iterations] of steps) {
  const micros = await measure(step, iterations) / 1000
  if (!name.includes('never seen') && !name.startsWith('(')) total += micros
  console.log(`| ${name} | ${micros.toFixed(2)} |`)
}
console.log(`| total with a cached token | ${total.toFixed(1)} |`)
