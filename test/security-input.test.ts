import t, { type Test } from 'tap'
import { buildHarness, DESTINATION, EMAIL, logLines, ROKT_IP, token, validBody, type Harness } from './helpers/harness.ts'
import { expectDenied } from './helpers/security.ts'
import { PSP_KITS } from './helpers/psp-kits.ts'

// docs/THREAT-MODEL.md section C: input handling. A resolver that counts its calls shows the handler never ran.
const PATH = '/v1/initiate-payment-sharing'

async function counting (t: Test, plugin: Record<string, unknown> = {}, server: Record<string, unknown> = {}) {
  const resolver = { calls: 0 }
  const h: Harness = await buildHarness(t, {
    server,
    plugin: {
      resolvePaymentMethod: async ({ partnerPaymentReference }) => {
        resolver.calls++
        return h.vault.get(partnerPaymentReference) ?? null
      },
      ...plugin
    }
  })
  const raw = (payload: string, headers: Record<string, string> = {}) => h.app.inject({
    method: 'POST', url: PATH, remoteAddress: ROKT_IP, payload, headers: { authorization: `Bearer ${token()}`, ...headers }
  }).then(res => ({ statusCode: res.statusCode, headers: res.headers, json: res.json() }))
  return { h, resolver, raw }
}

t.test('C29 every Content-Type variant but application/json -> 415, the handler never runs', async t => {
  const { h, resolver, raw } = await counting(t)
  const invalidBody = JSON.stringify({ ...validBody, customerIdentifiers: { email: EMAIL, extra: 1 } })
  const variants: Array<[string, string | undefined]> = [
    ['text/plain', 'text/plain'],
    ['form', 'application/x-www-form-urlencoded'],
    ['tab before ;', 'application/json\t; charset=utf-8'],
    ['leading space (as a raw header value; Node strips it on the wire)', ' application/json'],
    ['upper case with a parameter', 'APPLICATION/JSON ;x=1'],
    ['trailing ;', 'application/json;'],
    ['suffix', 'application/jsonx'],
    ['another charset', 'application/json; charset=latin1'],
    ['a JSON suffix type', 'application/vnd.api+json'],
    ['missing', undefined]
  ]
  for (const [name, type] of variants) {
    await expectDenied(t, h, () => raw(invalidBody, type === undefined ? {} : { 'content-type': type }), 415, 'CARD_FORWARDING_UNSUPPORTED_MEDIA_TYPE', name)
  }
  t.equal(resolver.calls, 0, 'the handler never ran')
  t.ok(h.audits.every(a => a.event === 'validation_failed' && a.statusCode === 415 && a.actor === 'rokt'))
  for (const type of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"']) {
    t.equal((await raw(JSON.stringify(validBody), { 'content-type': type })).statusCode, 200, type)
  }
})

t.test('C30 one byte over bodyLimit -> 413; a Content-Length mismatch -> 400; neither parsed nor forwarded', async t => {
  const { h, resolver, raw } = await counting(t, { bodyLimit: 256 })
  const json = { 'content-type': 'application/json' }
  const padded = (size: number) => {
    const body = JSON.stringify({ ...validBody, pad: '' })
    return body.replace('"pad":""', `"pad":"${'x'.repeat(size - body.length)}"`)
  }
  t.equal(padded(256).length, 256)
  t.equal((await raw(padded(256), json)).statusCode, 200, 'exactly the limit is read (the unknown pad field ignored)')
  await expectDenied(t, h, () => raw(padded(257), json), 413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'one byte over')
  await expectDenied(t, h, () => raw(JSON.stringify(validBody), { ...json, 'content-length': '20' }), 400, 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', 'Content-Length too small')
  await expectDenied(t, h, () => raw(JSON.stringify(validBody), { ...json, 'content-length': '200' }), 400, 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', 'Content-Length too large')
  t.equal(resolver.calls, 1, 'only the request within the limit reached the handler')
  const defaults = await counting(t)
  await expectDenied(t, defaults.h, () => defaults.raw(padded(8193), json), 413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'the default limit is 8 KiB')
})

t.test('C31 __proto__ or constructor.prototype at any depth -> 400, even when the host disables Fastify\'s own guard', async t => {
  const payloads = [
    '{"__proto__":{"isAdmin":true},"partnerPaymentReference":"ORDER_67890","destination":"COM.ROKT.CATALOG"}',
    '{"partnerPaymentReference":"ORDER_67890","destination":"COM.ROKT.CATALOG","customerIdentifiers":{"email":"a@b.c","__proto__":{"isAdmin":true}}}',
    '{"constructor":{"prototype":{"isAdmin":true}},"partnerPaymentReference":"ORDER_67890","destination":"COM.ROKT.CATALOG"}',
    '{"partnerPaymentReference":"ORDER_67890","destination":"COM.ROKT.CATALOG","x":[{"y":{"constructor":{"prototype":{"isAdmin":true}}}}]}'
  ]
  for (const onProtoPoisoning of ['error', 'remove', 'ignore']) {
    const { h, resolver, raw } = await counting(t, {}, { onProtoPoisoning, onConstructorPoisoning: onProtoPoisoning })
    for (const payload of payloads) {
      await expectDenied(t, h, () => raw(payload, { 'content-type': 'application/json' }), 400, 'FST_ERR_CTP_INVALID_JSON_BODY', `${onProtoPoisoning}: ${payload.slice(0, 40)}`)
    }
    t.equal(resolver.calls, 0)
    t.equal(({} as any).isAdmin, undefined, 'Object.prototype untouched')
    t.equal((await raw('{"constructor":{"name":"x"},"partnerPaymentReference":"ORDER_67890","destination":"COM.ROKT.CATALOG","customerIdentifiers":{"email":"jenny.rosen@example.com"}}', { 'content-type': 'application/json' })).statusCode, 200, 'a plain "constructor" field is just an ignored field')
    await expectDenied(t, h, () => raw('{"partnerPaymentReference":', { 'content-type': 'application/json' }), 400, 'FST_ERR_CTP_INVALID_JSON_BODY', 'truncated JSON')
    await expectDenied(t, h, () => raw('', { 'content-type': 'application/json' }), 400, 'FST_ERR_CTP_INVALID_JSON_BODY', 'empty body')
  }
})

t.test('C32 unknown nested fields and wrong types -> 400, no coercion; an unknown top-level field is ignored (Rokt may add fields: docs/THREAT-MODEL.md C32)', async t => {
  const { h, resolver } = await counting(t)
  const bad: Array<[string, unknown]> = [
    ['unknown nested field', { ...validBody, customerIdentifiers: { email: EMAIL, isAdmin: true } }],
    ['destination a number', { ...validBody, destination: 123 }],
    ['reference an array', { ...validBody, partnerPaymentReference: ['ORDER_67890'] }],
    ['reference a number (never coerced to "67890")', { ...validBody, partnerPaymentReference: 67890 }],
    ['customerIdentifiers a string', { ...validBody, customerIdentifiers: 'a@b.c' }],
    ['customerIdentifiers empty', { ...validBody, customerIdentifiers: {} }],
    ['customerIdentifiers null', { ...validBody, customerIdentifiers: null }],
    ['email a boolean', { ...validBody, customerIdentifiers: { email: true } }],
    ['no destination', { partnerPaymentReference: 'ORDER_67890' }],
    ['an array body', [validBody]],
    ['a string body', 'ORDER_67890'],
    ['null', null]
  ]
  for (const [name, body] of bad) {
    await expectDenied(t, h, () => h.post(body), 400, 'FST_ERR_VALIDATION', name)
  }
  t.equal(resolver.calls, 0)
  const extra = await h.post({ ...validBody, isAdmin: true, destinationUrl: 'https://evil.example/' })
  t.equal(extra.statusCode, 200, 'unknown top-level fields are ignored')
  t.notMatch(JSON.stringify(h.destination.received[0].body), /isAdmin|evil/, 'and never used or forwarded')
})

t.test('C33 field limits -> 400, the value echoed neither in the response nor in the logs', async t => {
  const { h, resolver } = await counting(t)
  const marker = 'zq7marker'
  const bad: Array<[string, unknown]> = [
    ['email over 254 characters', { ...validBody, customerIdentifiers: { email: `${marker}${'a'.repeat(60)}@${'b'.repeat(200)}.example` } }],
    ['email without @', { ...validBody, customerIdentifiers: { email: `${marker}.example.com` } }],
    ['email with CR/LF', { ...validBody, customerIdentifiers: { email: `${marker}@example.com\r\nX-Injected: 1` } }],
    ['empty customerId', { ...validBody, customerIdentifiers: { customerId: '' } }],
    ['customerId over 64', { ...validBody, customerIdentifiers: { customerId: `${marker}${'c'.repeat(60)}` } }],
    ['reference with CR/LF', { ...validBody, partnerPaymentReference: `${marker}\r\nX: 1` }],
    ['reference non-ASCII', { ...validBody, partnerPaymentReference: `${marker}é` }],
    ['reference with a space', { ...validBody, partnerPaymentReference: `${marker} 1` }],
    ['reference over 128', { ...validBody, partnerPaymentReference: `${marker}${'r'.repeat(128)}` }],
    ['empty reference', { ...validBody, partnerPaymentReference: '' }],
    // An unknown key is the caller's own text too: an email or a PAN sent as a key is not echoed either.
    ['an email as a key', { ...validBody, customerIdentifiers: { [`${marker}@example.com`]: 1 } }],
    ['a PAN as a key', { ...validBody, customerIdentifiers: { email: EMAIL, [`4242424242424242${marker}`]: 'x' } }]
  ]
  for (const [name, body] of bad) {
    const res = await expectDenied(t, h, () => h.post(body), 400, 'FST_ERR_VALIDATION', name)
    t.notMatch(JSON.stringify(res), new RegExp(marker), `${name}: not echoed`)
  }
  const unknownKey = await h.post({ ...validBody, customerIdentifiers: { 4242424242424242: 1 } })
  t.equal(unknownKey.json.message, 'body/customerIdentifiers is invalid', 'an unknown key is named by its parent')
  t.equal(resolver.calls, 0)
  t.notOk(logLines.some(line => line.includes(marker)), 'no rejected value in any log line')
})

t.test('C34 destination as a URL, protocol-relative, an IP literal, unknown, another partner\'s or a case variant -> 400/422, no outbound call', async t => {
  const { h, resolver } = await counting(t)
  const cases: Array<[string, number, string]> = [
    ['https://evil.example/c', 400, 'FST_ERR_VALIDATION'],
    ['//evil.example', 400, 'FST_ERR_VALIDATION'],
    ['http:evil', 400, 'FST_ERR_VALIDATION'],
    ['10.0.0.1', 422, 'CARD_FORWARDING_UNKNOWN_DESTINATION'],
    ['COM.ROKT.OTHER', 422, 'CARD_FORWARDING_UNKNOWN_DESTINATION'],
    ['COM.OTHERPARTNER.CATALOG', 422, 'CARD_FORWARDING_UNKNOWN_DESTINATION'],
    [DESTINATION.toLowerCase(), 422, 'CARD_FORWARDING_UNKNOWN_DESTINATION'],
    ['__proto__', 422, 'CARD_FORWARDING_UNKNOWN_DESTINATION'],
    ['constructor', 422, 'CARD_FORWARDING_UNKNOWN_DESTINATION']
  ]
  for (const [destination, status, code] of cases) {
    await expectDenied(t, h, () => h.post({ ...validBody, destination }), status, code, destination)
  }
  t.equal(resolver.calls, 0, 'the vault was not even asked')
  t.equal(h.simulator.calls, 0)
})

t.test('C35 object authorisation: every mismatch gets the same 404 body, from the same code path, nothing forwarded', async t => {
  const { h, resolver } = await counting(t)
  h.vault.set('ORDER_B', { psp: 'psp', ...h.kit.record, customerIdentifiers: { email: 'b@example.com', customerId: 'cus_b' } })
  h.vault.set('ORDER_C', { psp: 'psp', ...h.kit.record, customerIdentifiers: { customerId: 'cus_c' } })
  const cases: Array<[string, unknown]> = [
    ['A\'s email with B\'s customerId', { ...validBody, customerIdentifiers: { email: EMAIL, customerId: 'cus_b' } }],
    ['a reference owned by another customer', { ...validBody, partnerPaymentReference: 'ORDER_B' }],
    ['a reference already shared or expired (the resolver says null)', { ...validBody, partnerPaymentReference: 'ORDER_SHARED' }],
    ['an unknown email', { ...validBody, customerIdentifiers: { email: 'nobody@example.com' } }],
    ['a known reference with no identifiers at all', { partnerPaymentReference: 'ORDER_67890', destination: DESTINATION }],
    ['no identifiers for a customer the vault knows by id only', { partnerPaymentReference: 'ORDER_C', destination: DESTINATION }],
    ['a known customerId with another email', { ...validBody, customerIdentifiers: { email: 'b@example.com', customerId: 'cus_1' } }]
  ]
  const bodies = new Set<string>()
  for (const [name, body] of cases) {
    const res = await expectDenied(t, h, () => h.post(body), 404, 'CARD_FORWARDING_PAYMENT_METHOD_NOT_FOUND', name)
    bodies.add(JSON.stringify(res.json))
  }
  t.equal(bodies.size, 1, 'one body for every case: no enumeration oracle')
  // The same path for every miss (the identifiers are compared in constant time, lib/route/identifiers.ts);
  // latency is a benchmark's business, never a timed test's.
  t.equal(resolver.calls, cases.length, 'every case went through the resolver and the identifier check')
  t.ok(h.audits.every(a => a.event === 'not_found' && /^[0-9a-f]{16}$/.test(a.referenceHash as string)))
  const own = await h.post({ ...validBody, partnerPaymentReference: 'ORDER_B', customerIdentifiers: { email: 'B@Example.com', customerId: 'cus_b' } })
  t.equal(own.statusCode, 200, 'the control: B\'s own identifiers open B\'s reference')
})

t.test('C36 other methods on the path -> 404; X-HTTP-Method-Override is ignored; OPTIONS exposes nothing', async t => {
  const { h } = await counting(t)
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
    const res = await h.app.inject({ method, url: PATH, remoteAddress: ROKT_IP, headers: { authorization: `Bearer ${token()}` } })
    t.equal(res.statusCode, 404, method)
    t.equal(res.headers.allow, undefined, `${method}: no Allow header`)
  }
  const overridden = await h.post(validBody, { headers: { 'x-http-method-override': 'DELETE' } })
  t.equal(overridden.statusCode, 200, 'a POST stays a POST')
  t.equal(h.simulator.calls, 1)
})

t.test('C52 a template key, a destination header value or a destination URL holding a placeholder is refused at registration, for every adapter', async t => {
  const card = { number: '{{card.number}}' }
  const configs: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a key that is Adyen\'s PAN placeholder', { body: { card, '{{number}}': 'x' } }, /^destinations.COM.ROKT.CATALOG.body: a key must not hold {{ or }}, at \/\{\{number\}\}/],
    ['a nested key that is Checkout.com\'s', { body: { card, meta: { '{{card_number}}': 1 } } }, /: a key must not hold {{ or }}, at \/meta\/\{\{card_number\}\}/],
    ['half a placeholder in a key', { body: { card, 'a{{': 1 } }, /: a key must not hold {{ or }}/],
    ['a canonical token as a key', { body: { card, '{{card.number}}': 1 } }, /: a key must not hold {{ or }}/],
    ['a header value with a placeholder', { headers: { 'x-card': '{{number}}' } }, /^destinations.COM.ROKT.CATALOG.headers: "x-card" must not hold {{ or }}/],
    ['a URL with a placeholder in its query', { url: 'https://rokt.example/cards?pan={{number}}' }, /^destinations.COM.ROKT.CATALOG.url: must not hold {{ or }}/],
    ['a URL with a placeholder in its fragment', { url: 'https://rokt.example/cards#{{card_number}}' }, /^destinations.COM.ROKT.CATALOG.url: must not hold {{ or }}/]
  ]
  for (const kit of PSP_KITS) {
    for (const [name, patch, message] of configs) {
      await t.rejects(buildHarness(t, { kit, plugin: { destinations: { [DESTINATION]: { url: 'https://rokt.example/cards', ...patch } } } }), message, `${kit.name}: ${name}`)
    }
  }
})

t.test('C51 emails compare in RFC 8265\'s prepared form: case and width folded, NFC; an address with a compatibility character (U+212A KELVIN SIGN) never matches', async t => {
  const h = await buildHarness(t)
  const vault = (email: string) => ({ psp: 'psp', ...h.kit.record, customerIdentifiers: { email } })
  h.vault.set('ORDER_KATE', vault('kate@example.com'))
  h.vault.set('ORDER_JOSE', vault('jos\u00e9@example.com'))
  h.vault.set('ORDER_KELVIN', vault('\u212Aate@example.com'))
  const cases: Array<[string, string, number]> = [
    ['ORDER_KATE', 'KATE@Example.COM', 200],
    ['ORDER_KATE', '\uFF2B\uFF41\uFF54\uFF45@example.com', 200],
    ['ORDER_KATE', '\u212Aate@example.com', 404],
    ['ORDER_KATE', 'k\u0430te@example.com', 404],
    ['ORDER_JOSE', 'jose\u0301@example.com', 200],
    ['ORDER_JOSE', 'JOS\u00c9@EXAMPLE.COM', 200],
    ['ORDER_JOSE', 'jose@example.com', 404],
    ['ORDER_KELVIN', '\u212Aate@example.com', 404],
    ['ORDER_KELVIN', 'kate@example.com', 404],
    ['ORDER_KATE', 'kate\u2603@example.com', 404],
    ['ORDER_BILLING', 'kate@example.com', 404]
  ]
  for (const [reference, email, status] of cases) {
    const res = await h.post({ ...validBody, partnerPaymentReference: reference, customerIdentifiers: { email } })
    t.equal(res.statusCode, status, `${reference} with ${JSON.stringify(email)}`)
  }
  t.equal(h.simulator.calls, 4)
})
