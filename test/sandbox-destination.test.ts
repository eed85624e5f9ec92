import t from 'tap'
import { request } from 'undici'
import { startFakeDestination, tokenizedResponse } from '../lib/sandbox/destination.ts'

const card = { card: { number: '4242424242424242', exp_month: '12', exp_year: '2034', name: 'Jenny Rosen', cvc: '' } }

t.test('default answer: a PCI token with the last four digits; the request is recorded', async (t) => {
  const dest = await startFakeDestination()
  t.teardown(() => dest.close())
  t.match(dest.url, /^http:\/\/127\.0\.0\.1:\d+\/v1\/cards\/tokenize$/)
  t.equal(dest.url, `${dest.baseUrl}/v1/cards/tokenize`)

  const res = await request(dest.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Rokt-Api-Key': 'k1' },
    body: JSON.stringify(card)
  })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/json/)
  const body = await res.body.json() as Record<string, unknown>
  t.match(body, { token: /^rokt_tok_[0-9a-f]{24}$/, status: 'tokenized', last4: '4242' })

  t.equal(dest.received.length, 1)
  const [got] = dest.received
  t.equal(got.method, 'POST')
  t.equal(got.path, '/v1/cards/tokenize')
  t.equal(got.headers['x-rokt-api-key'], 'k1', 'header names are lower-cased')
  t.equal(got.headers['content-type'], 'application/json')
  t.same(got.body, card, 'JSON bodies are parsed')
})

t.test('non-JSON, empty and card-less bodies: recorded as they came, no last4', async (t) => {
  const dest = await startFakeDestination({ path: '/tokens' })
  t.teardown(() => dest.close())
  t.equal(dest.url, `${dest.baseUrl}/tokens`)

  const raw = await request(`${dest.baseUrl}/other?x=1`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'number=4242' })
  const rawBody = await raw.body.json() as Record<string, unknown>
  t.equal(raw.statusCode, 200)
  t.notOk('last4' in rawBody)
  t.equal(dest.received[0].body, 'number=4242')
  t.equal(dest.received[0].path, '/other?x=1')

  const get = await request(dest.url)
  t.equal(get.statusCode, 200)
  await get.body.dump()
  t.equal(dest.received[1].method, 'GET')
  t.equal(dest.received[1].body, '')

  for (const body of ['null', '{"card":{"number":""}}', '{"card":{"number":4242}}', '{"card":null}']) {
    const res = await request(dest.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    t.notOk('last4' in (await res.body.json() as Record<string, unknown>), body)
  }
  t.same(dest.received[2].body, null)
})

t.test('requiredHeaders: 401 JSON without them (case-insensitive names), recorded anyway', async (t) => {
  const dest = await startFakeDestination({ requiredHeaders: { 'X-Rokt-Api-Key': 'secret-key' } })
  t.teardown(() => dest.close())

  const missing = await request(dest.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(card) })
  t.equal(missing.statusCode, 401)
  t.same(await missing.body.json(), { error: 'unauthorized', message: 'Missing or invalid credentials.' })

  const wrong = await request(dest.url, { method: 'POST', headers: { 'x-rokt-api-key': 'nope' }, body: '{}' })
  t.equal(wrong.statusCode, 401)
  await wrong.body.dump()

  const ok = await request(dest.url, { method: 'POST', headers: { 'X-ROKT-API-KEY': 'secret-key', 'content-type': 'application/json' }, body: JSON.stringify(card) })
  t.equal(ok.statusCode, 200)
  t.equal((await ok.body.json() as { last4: string }).last4, '4242')
  t.equal(dest.received.length, 3)
})

t.test('setResponse: a fixed answer, a function, then back to the default', async (t) => {
  const dest = await startFakeDestination({ response: { status: 422, body: { error: 'invalid_card' } } })
  t.teardown(() => dest.close())

  const first = await request(dest.url, { method: 'POST', body: '{}' })
  t.equal(first.statusCode, 422)
  t.same(await first.body.json(), { error: 'invalid_card' })

  dest.setResponse({ status: 503, headers: { 'content-type': 'text/plain', 'retry-after': '5' }, body: 'down for maintenance' })
  const second = await request(dest.url, { method: 'POST', body: '{}' })
  t.equal(second.statusCode, 503)
  t.equal(second.headers['retry-after'], '5')
  t.equal(await second.body.text(), 'down for maintenance')

  dest.setResponse(async (received) => ({ status: 201, body: { echoed: received.body, path: received.path } }))
  const third = await request(`${dest.baseUrl}/x`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
  t.equal(third.statusCode, 201)
  t.same(await third.body.json(), { echoed: { a: 1 }, path: '/x' })

  dest.setResponse(null)
  const fourth = await request(dest.url, { method: 'POST', body: JSON.stringify(card) })
  t.equal(fourth.statusCode, 200)
  t.equal((await fourth.body.json() as { status: string }).status, 'tokenized')
})

t.test('tokenizedResponse is usable on its own', async (t) => {
  const answer = tokenizedResponse({ method: 'POST', path: '/', headers: {}, body: { card: { number: '5555555555554444' } } })
  t.equal(answer.status, 200)
  t.match(answer.body, { status: 'tokenized', last4: '4444' })
})

t.test('delay: answers late; a caller that gives up ends the wait', async (t) => {
  const dest = await startFakeDestination({ delayMs: 80 })
  t.teardown(() => dest.close())

  const started = performance.now()
  const late = await request(dest.url, { method: 'POST', body: JSON.stringify(card) })
  t.equal(late.statusCode, 200)
  await late.body.dump()
  t.ok(performance.now() - started >= 70, 'answered after the delay')

  dest.setDelay(10_000)
  await t.rejects(request(dest.url, { method: 'POST', body: '{}', headersTimeout: 100 }), { code: 'UND_ERR_HEADERS_TIMEOUT' })
  t.equal(dest.received.length, 2, 'the request arrived before the caller gave up')

  dest.setDelay(0)
  const quick = await request(dest.url, { method: 'POST', body: '{}' })
  t.equal(quick.statusCode, 200)
  await quick.body.dump()
})

t.test('close() does not wait for a pending delay', async (t) => {
  const dest = await startFakeDestination({ delayMs: 30_000 })
  const pending = request(dest.url, { method: 'POST', body: '{}' })
  while (dest.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  const started = performance.now()
  await dest.close()
  t.ok(performance.now() - started < 2000, 'closed promptly')
  await t.rejects(pending, 'the pending request is cut off')
})
