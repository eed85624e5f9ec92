import t from 'tap'
import { createHash, createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Writable } from 'node:stream'
import { join } from 'node:path'
import fc from 'fast-check'
import * as oauth from 'openid-client'
import { generateClientSecret, hashClientSecret, type AuditEvent } from '../index.ts'
import { isoNow } from '../lib/audit.ts'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { generateTestKeys } from '../lib/sandbox/tokens.ts'
import { AUDIENCE, buildHarness, DESTINATION, EMAIL, ISSUER, logLines, ROKT_API_KEY, token, validBody } from './helpers/harness.ts'
import { findSecrets, LOG_CAPTURE_DIR, luhn } from './helpers/secrets.ts'

// docs/THREAT-MODEL.md section D: what is logged and audited.

t.test('D37 no PAN, CVC, bearer token, API key or email in any log line of this file\'s traffic (the whole suite is scanned by tap\'s after script)', async t => {
  const secret = generateClientSecret()
  const h = await buildHarness(t, {
    plugin: {
      tokenEndpoint: { privateKey: generateTestKeys('ES256').privateKey, clients: [{ clientId: 'rokt', secretHash: hashClientSecret(secret) }], allowedIps: ['127.0.0.1'] },
      auth: { issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing' }
    }
  })
  const url = await h.app.listen({ host: '127.0.0.1', port: 0 })
  const config = new oauth.Configuration({ issuer: ISSUER, token_endpoint: `${url}/oauth/token` }, 'rokt', undefined, oauth.ClientSecretPost(secret))
  oauth.allowInsecureRequests(config)
  const issued = (await oauth.clientCredentialsGrant(config)).access_token
  const used = [issued, token()]
  t.equal((await h.post(validBody, { token: issued })).statusCode, 200, 'a card was forwarded: the PAN went through the PSP')
  t.equal((h.destination.received[0].body as any).card.number, '4242424242424242')
  await h.post(validBody, { token: used[1] })
  await h.post(validBody, { token: issued, headers: { 'x-card': '4242 4242 4242 4242', 'x-cvc': '123' } })
  await h.post({ ...validBody, customerIdentifiers: { email: 'leak@example.com' } }, { token: issued })
  await h.post({ ...validBody, cvc: '123', card: '4000056655665556' }, { token: issued })
  await h.post({ ...validBody, partnerPaymentReference: 'bad ref 4242424242424242' }, { token: issued })
  await h.post(validBody, { token: `${issued}x` })
  await h.post(validBody, { ip: '198.51.100.9', token: issued })
  await h.app.inject({ method: 'POST', url: `/v1/initiate-payment-sharing?access_token=${issued}&email=${EMAIL}`, remoteAddress: '203.0.113.7', headers: { authorization: `Bearer ${issued}`, 'content-type': 'application/json' }, payload: validBody })
  await h.app.inject({ method: 'POST', url: `/oauth/token?client_secret=${secret}`, remoteAddress: '127.0.0.1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&client_id=rokt&client_secret=${secret}x` })
  h.vault.set('ORDER_GONE', { psp: 'psp', paymentMethod: 'pm_does_not_exist', billingAddress: {} })
  await h.post({ partnerPaymentReference: 'ORDER_GONE', destination: DESTINATION }, { token: issued })

  t.ok(logLines.length > 20, `${logLines.length} lines captured at trace level`)
  const literals = [secret, ...used, EMAIL, EMAIL.toLowerCase(), 'leak@example.com', ROKT_API_KEY, STRIPE_SANDBOX_API_KEY, 'ORDER_67890']
  t.same(findSecrets(logLines, literals), [], 'no secret, token, email, key, card number or raw reference in any line')
  const captured = readFileSync(join(LOG_CAPTURE_DIR, `${process.pid}.ndjson`), 'utf8')
  t.ok(logLines.every(line => captured.includes(line)), 'every line also went to the suite-wide capture')
})

t.test('D37 the scanner itself finds what it must', async t => {
  t.ok(luhn('4242424242424242'))
  t.notOk(luhn('4242424242424241'))
  const rules = (line: string) => findSecrets([line]).map(f => f.rule)
  t.same(rules('{"msg":"card 4242424242424242"}'), ['PAN'])
  t.same(rules('{"msg":"card 4242 4242 4242 4242"}'), ['PAN'])
  t.same(rules('{"responseTime":0.4242424242424242}'), [], 'decimals are not card numbers')
  t.same(rules('{"id":"req4242424242424242"}'), [], 'nor are parts of identifiers')
  t.same(rules('{"card":{"cvc":"123"}}'), ['CVC key'])
  t.same(rules('authorization: Bearer abc'), ['bearer credential'])
  t.same(rules('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyb2t0In0.sig'), ['JWT'])
  t.same(rules('key sk_live_abc123'), ['API key'])
  t.same(rules('to jenny@example.com'), ['email address'])
  t.same(findSecrets(['a s3cret b'], ['s3cret']).map(f => f.rule), ['known secret'])
  t.same(rules('adyen key sandbox_adyen_api_key'), ['known secret'], 'the sandbox PSP credentials are always looked for')
})

t.test('D38 one structured audit event per outcome, to onAudit and to the log, with PCI DSS 10.2.2 fields', async t => {
  const h = await buildHarness(t)
  h.vault.set('ORDER_GONE', { psp: 'psp', paymentMethod: 'pm_does_not_exist', billingAddress: {} })
  const outcomes: Array<[string, () => Promise<unknown>, string[], number]> = [
    ['forwarded', () => h.post(validBody), ['accepted', 'forward_ok'], 200],
    ['IP denied', () => h.post(validBody, { ip: '198.51.100.9' }), ['ip_denied'], 403],
    ['bad token', () => h.post(validBody, { token: 'x.y.z' }), ['auth_failed'], 401],
    ['no scope', () => h.post(validBody, { token: token({ scope: 'other' }) }), ['scope_denied'], 403],
    ['bad body', () => h.post({ ...validBody, destination: 1 }), ['validation_failed'], 400],
    ['not JSON', () => h.post(null, { raw: 'x', headers: { 'content-type': 'text/plain' } }), ['validation_failed'], 415],
    ['unknown destination', () => h.post({ ...validBody, destination: 'COM.NOPE' }), ['validation_failed'], 422],
    ['unknown reference', () => h.post({ ...validBody, partnerPaymentReference: 'ORDER_NOPE' }), ['not_found'], 404],
    ['PSP refused', () => h.post({ partnerPaymentReference: 'ORDER_GONE', destination: DESTINATION }), ['accepted', 'forward_failed'], 502]
  ]
  for (const [name, send, events, statusCode] of outcomes) {
    const before = h.audits.length
    const logged = logLines.length
    await send()
    const emitted = h.audits.slice(before)
    t.same(emitted.map(e => e.event), events, name)
    t.equal(emitted.at(-1)?.statusCode, statusCode, `${name}: status`)
    const auditLines = logLines.slice(logged).filter(line => line.includes('"audit"')).map(line => JSON.parse(line).audit)
    t.same(auditLines, emitted, `${name}: the same events, and only those, in the log`)
  }
  for (const event of h.audits) {
    t.match(event.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'UTC ISO-8601 time')
    t.ok(Math.abs(Date.parse(event.time) - Date.now()) < 60_000, 'the time of the event')
    t.ok(event.requestId.length > 0 && event.ip.length > 0, 'request id and source IP')
    t.equal(event.outcome, ['accepted', 'forward_ok'].includes(event.event) ? 'success' : 'failure')
  }
  const byEvent = (name: string) => h.audits.find(e => e.event === name) as AuditEvent
  t.match(byEvent('accepted'), { actor: 'rokt', destination: DESTINATION, referenceHash: /^[0-9a-f]{16}$/, psp: 'stripe' }, 'actor (client_id), resource and destination')
  t.match(byEvent('forward_failed'), { code: 'CARD_FORWARDING_PSP_ERROR', actor: 'rokt' })
  t.match(byEvent('auth_failed'), { code: 'CARD_FORWARDING_UNAUTHORIZED', reason: /\w+/ })
  t.equal(byEvent('ip_denied').actor, undefined, 'an IP denial knows only the IP')
  t.notOk(JSON.stringify(h.audits).includes('ORDER_'), 'references only as hashes')
})

t.test('every log line of a request carries its request id (reqId), the same one its audit events carry', async t => {
  const h = await buildHarness(t, { server: { requestIdHeader: 'x-request-id' } })
  h.vault.set('ORDER_GONE', { psp: 'psp', paymentMethod: 'pm_does_not_exist', billingAddress: {} })
  for (const [id, body, events] of [
    ['trace-forward-1', validBody, ['accepted', 'forward_ok']],
    ['trace-refused-2', { partnerPaymentReference: 'ORDER_GONE', destination: DESTINATION }, ['accepted', 'forward_failed']]
  ] as const) {
    const logged = logLines.length
    await h.post(body, { headers: { 'x-request-id': id } })
    const lines = logLines.slice(logged).map(line => JSON.parse(line))
    t.ok(lines.length >= 4, `${id}: incoming, audit events, completed`)
    t.same(lines.filter(line => line.reqId !== id), [], `${id}: no line without its reqId`)
    t.same(lines.filter(line => line.audit !== undefined).map(line => [line.audit.event, line.audit.requestId]), events.map(event => [event, id]))
    t.ok(lines.some(line => line.msg === 'request completed' && line.res?.statusCode !== undefined))
  }
})

t.test('D38 a resolver that throws (whatever status its error claims): a generic 500 and one internal_error event', async t => {
  for (const statusCode of [undefined, 302, 600]) {
    const h = await buildHarness(t, { plugin: { resolvePaymentMethod: async () => { throw Object.assign(new Error('db down'), { statusCode }) } } })
    const res = await h.post(validBody)
    t.equal(res.statusCode, 500)
    t.same(res.json, { statusCode: 500, code: 'CARD_FORWARDING_INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal Server Error' })
    t.match(h.audits, [{ event: 'internal_error', outcome: 'failure', statusCode: 500, code: 'CARD_FORWARDING_INTERNAL_ERROR', actor: 'rokt' }])
  }
})

t.test('D38 CR/LF, ANSI codes and JSON metacharacters in audited values appear escaped', async t => {
  const h = await buildHarness(t, { server: { trustProxy: '127.0.0.1' }, plugin: { allowedIps: ['203.0.113.0/24'] } })
  const hostile = 'evil\r\n\u001b[31m{"event":"forward_ok"}\u2028'
  const logged = logLines.length
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/initiate-payment-sharing',
    remoteAddress: '127.0.0.1',
    headers: { 'x-forwarded-for': '203.0.113.7', authorization: `Bearer ${token({ clientId: hostile })}`, 'content-type': 'application/json' },
    payload: { ...validBody, partnerPaymentReference: 'ORDER_NOPE' }
  })
  t.equal(res.statusCode, 404)
  const event = h.audits[0]
  t.equal(event.actor, 'evil\\u000d\\u000a\\u001b[31m{"event":"forward_ok"}\\u2028', 'control characters escaped in the onAudit record')
  const line = logLines.slice(logged).find(l => l.includes('"not_found"')) as string
  t.equal(line.trimEnd().split('\n').length, 1, 'one log line')
  t.equal(JSON.parse(line).audit.actor, event.actor, 'valid JSON holding the escaped value')
  t.notOk(['\r', '\u001b', '\u2028'].some(c => line.includes(c)), 'no raw control character in the log line')
  const long = await buildHarness(t)
  await long.post(validBody, { token: token({ clientId: 'c'.repeat(500) }) })
  t.equal(long.audits[0].actor?.length, 128, 'actors are bounded')
})

t.test('D54 the audited referenceHash is keyed (HMAC-SHA-256): it cannot be recomputed from a guessed reference without the secret', async t => {
  const reference = validBody.partnerPaymentReference
  const unkeyed = createHash('sha256').update(reference).digest('hex').slice(0, 16)
  const hashes: string[] = []
  for (let i = 0; i < 2; i++) {
    const h = await buildHarness(t)
    await h.post(validBody)
    hashes.push(h.audits[0].referenceHash as string)
  }
  t.match(hashes, [/^[0-9a-f]{16}$/, /^[0-9a-f]{16}$/])
  t.not(hashes[0], unkeyed, 'not the plain SHA-256 an enumeration would try')
  t.not(hashes[0], hashes[1], 'without a configured secret, each instance generates its own')
  const secret = 'shared-reference-hash-secret-0123456789'
  const shared = []
  for (let i = 0; i < 2; i++) {
    const h = await buildHarness(t, { plugin: { referenceHashSecret: secret } })
    await h.post(validBody)
    shared.push(h.audits[0].referenceHash)
  }
  const expected = createHmac('sha256', secret).update(reference).digest('hex').slice(0, 16)
  t.same(shared, [expected, expected], 'the same secret on every instance: the same hash, HMAC-SHA-256(secret, reference), to correlate')
  t.notOk(JSON.stringify(logLines).includes(secret), 'the secret is never logged')
  await t.rejects(buildHarness(t, { plugin: { referenceHashSecret: 'short' } }), /^referenceHashSecret: must be a string of at least 32 bytes/)
})

t.test('D56 every answer of the route and of the token endpoint says Cache-Control: no-store', async t => {
  const secret = generateClientSecret()
  const h = await buildHarness(t, {
    plugin: {
      tokenEndpoint: { privateKey: generateTestKeys('ES256').privateKey, clients: [{ clientId: 'rokt', secretHash: hashClientSecret(secret) }], allowedIps: ['203.0.113.0/24'], rateLimit: { max: 3 } },
      auth: { issuer: ISSUER, audience: AUDIENCE, requiredScope: 'payment-sharing' }
    }
  })
  const form = (body: string) => h.app.inject({ method: 'POST', url: '/oauth/token', remoteAddress: '203.0.113.7', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: body })
  const issued = (await form(`grant_type=client_credentials&client_id=rokt&client_secret=${secret}`)).json().access_token
  h.vault.set('ORDER_GONE', { psp: 'psp', paymentMethod: 'pm_does_not_exist', billingAddress: {} })
  const answers: Array<[string, () => Promise<{ statusCode: number, headers: Record<string, unknown> }>]> = [
    ['200', () => h.post(validBody, { token: issued, headers: { 'idempotency-key': 'cache-1' } })],
    ['a replay', () => h.post(validBody, { token: issued, headers: { 'idempotency-key': 'cache-1' } })],
    ['401', () => h.post(validBody, { token: 'x.y.z' })],
    ['403', () => h.post(validBody, { ip: '198.51.100.9', token: issued })],
    ['400', () => h.post({ ...validBody, destination: 1 }, { token: issued })],
    ['404', () => h.post({ ...validBody, partnerPaymentReference: 'ORDER_NOPE' }, { token: issued })],
    ['413', () => h.post(null, { token: issued, raw: JSON.stringify({ ...validBody, pad: 'x'.repeat(9000) }) })],
    ['415', () => h.post(null, { token: issued, raw: 'x', headers: { 'content-type': 'text/plain' } })],
    ['502', () => h.post({ partnerPaymentReference: 'ORDER_GONE', destination: DESTINATION }, { token: issued })],
    ['token 200', () => form(`grant_type=client_credentials&client_id=rokt&client_secret=${secret}`)],
    ['token 401', () => form('grant_type=client_credentials&client_id=rokt&client_secret=wrong')],
    ['token 415', () => h.app.inject({ method: 'POST', url: '/oauth/token', remoteAddress: '203.0.113.7', headers: { 'content-type': 'text/plain' }, payload: 'x' })],
    ['token 429', () => form('grant_type=client_credentials')]
  ]
  for (const [name, send] of answers) {
    const res = await send()
    t.equal(res.headers['cache-control'], 'no-store', `${name} (${res.statusCode})`)
  }
})

t.test('D57 the cause of an adapter_error is logged, with card numbers, keys and tokens redacted', async t => {
  const failing = { name: 'custom', isRecord: (record: unknown): record is any => record !== null, forward: async () => { throw new TypeError('boom near sk_live_abcdef123456 and 4242424242424242 for jenny@example.com') } }
  const h = await buildHarness(t, { plugin: { psps: { psp: failing } } })
  const logged = logLines.length
  const res = await h.post(validBody)
  t.same([res.statusCode, res.json.message], [502, 'custom forward failed: adapter_error'])
  const line = logLines.slice(logged).map(l => JSON.parse(l)).find(l => l.msg?.includes('adapter failed'))
  t.match(line, { level: 50, psp: 'custom', error: { type: 'TypeError', message: 'boom near [key] and ************4242 for [email]' } }, 'the cause, its secrets redacted')
  t.same(findSecrets(logLines.slice(logged)), [])
})

t.test('an audit event is built for whoever hears it: a logger at info, a custom logger, or onAudit; no one hearing changes no answer', async t => {
  const audited = (lines: string[]) => lines.map(line => JSON.parse(line)).filter(entry => entry.msg === 'card-forwarding audit').map(entry => entry.audit)
  const pinoAt = (level: string, lines: string[]) => ({ level, stream: new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } }) })

  const quietLines: string[] = []
  const quiet = await buildHarness(t, { server: { logger: pinoAt('warn', quietLines) }, plugin: { onAudit: undefined } })
  t.equal((await quiet.post(validBody)).statusCode, 200, 'a logger above info and no onAudit: the forward is the same')
  t.equal((await quiet.post(validBody, { token: 'a.b.c' })).statusCode, 401)
  t.same(audited(quietLines), [], 'and nothing is audited')

  const infoLines: string[] = []
  const info = await buildHarness(t, { server: { logger: pinoAt('info', infoLines) }, plugin: { onAudit: undefined } })
  t.equal((await info.post(validBody)).statusCode, 200)
  t.match(audited(infoLines), [{ event: 'accepted', referenceHash: /^[0-9a-f]{16}$/ }, { event: 'forward_ok', correlationId: /^rcf_/ }], 'a logger at info gets every event')

  const custom: unknown[] = []
  const loggerInstance = { info (entry: any) { if (entry?.audit !== undefined) custom.push(entry.audit) }, error () {}, debug () {}, fatal () {}, warn () {}, trace () {}, child () { return loggerInstance } }
  const own = await buildHarness(t, { server: { logger: undefined, loggerInstance: loggerInstance as any }, plugin: { onAudit: undefined } })
  t.equal((await own.post(validBody, { ip: '198.51.100.9' })).statusCode, 403)
  t.match(custom, [{ event: 'ip_denied' }], 'a custom logger without isLevelEnabled is taken to log info')

  const silent = await buildHarness(t, { server: { logger: false } })
  t.equal((await silent.post(validBody)).statusCode, 200)
  t.match(silent.audits, [{ event: 'accepted', referenceHash: /^[0-9a-f]{16}$/ }, { event: 'forward_ok' }], 'no logger: onAudit still gets every event')
})

t.test('D38 the audit time, formatted once per second, is the clock\'s ISO 8601 time to the millisecond', async t => {
  /** What Date gives for a time, or the error it throws (past its range). */
  const formatted = (format: () => string) => {
    try {
      return format()
    } catch (err) {
      return (err as Error).name
    }
  }
  const MAX = 8.64e15
  // Times in runs (the same second, the next millisecond, a second back), anywhere in Date's range
  // and a little past it, before 1970, and fractions: isoNow is Date's answer in every order.
  const instant = fc.oneof(fc.integer({ min: 0, max: 253402300799999 }), fc.integer({ min: MAX - 5000, max: MAX + 5000 }), fc.integer({ min: -MAX, max: 0 }), fc.double({ min: -1e13, max: 1e13, noNaN: true }))
  const runs = fc.array(fc.tuple(instant, fc.array(fc.integer({ min: -1500, max: 1500 }), { maxLength: 8 })), { minLength: 1, maxLength: 20 })
  fc.assert(fc.property(runs, list => {
    for (const [start, steps] of list) {
      let time = start
      for (const step of [0, ...steps]) {
        time += step
        if (formatted(() => isoNow(time)) !== formatted(() => new Date(time).toISOString())) return false
      }
    }
    return true
  }), { seed: 38, numRuns: 2000 })
  for (const time of [0, 999, 1000, 1001, 1_796_296_568_009, 1_796_296_568_099, 1_796_296_568_100, 253402300799999, -1, -1000, 1.5, MAX, -MAX]) t.equal(isoNow(time), new Date(time).toISOString(), `${time}`)
  isoNow(1000)
  t.throws(() => isoNow(MAX + 1000), RangeError, 'past Date\'s range: its RangeError')
  t.throws(() => isoNow(MAX + 1), RangeError, 'a millisecond past it, in the range\'s last second')
  t.equal(isoNow(1001), '1970-01-01T00:00:01.001Z')
  t.equal(Date.parse(isoNow()) <= Date.now(), true, 'by default, now')
})
