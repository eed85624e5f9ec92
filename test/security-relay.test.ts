import t from 'tap'
import { maskPans } from '../lib/redact.ts'
import { memoryIdempotencyStore } from '../lib/stores/memory.ts'
import type { ForwardResult, IdempotencyStore, PspAdapter, StoredResponse } from '../types/index.ts'
import { buildHarness, logLines, validBody } from './helpers/harness.ts'
import { findSecrets } from './helpers/secrets.ts'

// docs/THREAT-MODEL.md D53 and E58: what the destination answered is relayed to Rokt and kept for
// replays, so it is masked and bounded before it is stored, logged or sent.

/** The default store, with every response it is asked to keep recorded. */
function recordingStore (): IdempotencyStore & { kept: StoredResponse[] } {
  const store = memoryIdempotencyStore()
  const kept: StoredResponse[] = []
  return { ...store, kept, complete: async (key, owner, response, ttlMs) => { kept.push(structuredClone(response)); return await store.complete(key, owner, response, ttlMs) } }
}

/** A made-up PSP whose relayed answer the test chooses. */
function answering (answer: () => Partial<ForwardResult>): PspAdapter<any> & { calls: number } {
  const adapter = {
    name: 'fixed',
    calls: 0,
    isRecord: (record: unknown): record is any => record !== null,
    forward: async (): Promise<ForwardResult> => {
      adapter.calls++
      return { status: 200, headers: {}, body: null, requestTime: 1, pspBody: {}, ...answer() }
    }
  }
  return adapter
}

t.test('maskPans: every Luhn-valid run of 13 to 19 digits, grouped or not, keeps only its last four digits', async t => {
  const cases: Array<[string, string]> = [
    ['card.number 4242424242424242 is not accepted', 'card.number ************4242 is not accepted'],
    ['4242 4242 4242 4242', '**** **** **** 4242'],
    ['4242-4242-4242-4242', '****-****-****-4242'],
    ['amex 3782 822463 10005.', 'amex **** ****** *0005.'],
    ['glued: card4000056655665556x', 'glued: card************5556x'],
    ['then the expiry 4242424242424242 12 34', 'then the expiry ************4242 12 34'],
    ['13 digits 4222222222222', '13 digits *********2222'],
    ['19 digits 6011000990139424000', '19 digits 6011000990139424000'],
    ['not Luhn 4242424242424241', 'not Luhn 4242424242424241'],
    ['20 digits 42424242424242424242', '20 digits 42424242424242424242'],
    ['12 digits 424242424242, a date 2024-01-15, an id 1234', '12 digits 424242424242, a date 2024-01-15, an id 1234'],
    ['two: 5555555555554444 and 4000056655665556', 'two: ************4444 and ************5556'],
    // 424242424242424 (15 digits) passes the check too: the whole number is still masked, not that run.
    ['in groups of three or fewer: 424 242 424 242 424 2', 'in groups of three or fewer: *** *** *** *** 424 2'],
    ['dashed pairs 42-42-42-42-42-42-42-42 end', 'dashed pairs **-**-**-**-**-**-42-42 end'],
    // 18 4242 4242 4242 (14 digits) passes too: masked as one with the card number after it, not alone.
    ['overlapping runs: 18 4242 4242 4242 4242', 'overlapping runs: ** **** **** **** 4242']
  ]
  for (const [text, masked] of cases) t.equal(maskPans(text), masked, text)
  t.equal(maskPans('6011000990139424'), '************9424', '(the 19-digit case above fails Luhn; its 16-digit prefix does not)')
})

t.test('a "__proto__" key in the destination\'s JSON is relayed as a key, masked like any other, at any depth', async t => {
  const h = await buildHarness(t)
  // JSON.parse makes "__proto__" an own key; an object literal would set the prototype instead.
  h.destination.setResponse({ status: 200, body: JSON.parse('{"__proto__":{"pan":"4242424242424242"},"nested":{"__proto__":[1,2]},"ok":true}') })
  const res = await h.post(validBody)
  t.equal(res.statusCode, 200)
  const own = (value: object) => Object.getOwnPropertyDescriptor(value, '__proto__')?.value
  t.same(own(res.json.body), { pan: '************4242' }, 'kept as a key, its card number masked')
  t.same(own(res.json.body.nested), [1, 2], 'and at depth')
  t.equal(res.json.body.ok, true)
})

t.test('D53 a destination that echoes the card number: masked in the answer, in the stored replay, in the PSP envelope and in the logs', async t => {
  const store = recordingStore()
  const h = await buildHarness(t, { plugin: { idempotencyStore: store } })
  h.destination.setResponse({
    status: 422,
    headers: { 'x-debug': 'pan=4242424242424242', 'content-type': 'application/json' },
    body: { error: 'card.number 4242424242424242 is not accepted', echoed: { number: 4242424242424242, spaced: '4242 4242 4242 4242', 4000056655665556: 'as a key' }, order: 1234, token: 'tok_not_a_card_4242424242424241' }
  })
  const logged = logLines.length
  const res = await h.post(validBody, { headers: { 'idempotency-key': 'echo-1' } })
  t.equal(res.statusCode, 200, 'the PSP forwarded: the destination\'s 422 is relayed')
  t.same(res.json.body, {
    error: 'card.number ************4242 is not accepted',
    echoed: { number: '************4242', spaced: '**** **** **** 4242', '************5556': 'as a key' },
    order: 1234,
    token: 'tok_not_a_card_4242424242424241'
  }, 'strings, numbers and keys masked; other values untouched')
  t.equal(res.json.headers['x-debug'], 'pan=************4242', 'header values masked')
  const replay = await h.post(validBody, { headers: { 'idempotency-key': 'echo-1' } })
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.same(replay.json, res.json, 'the replay is the masked answer')
  t.equal(store.kept.length, 1)
  t.same(findSecrets([JSON.stringify(store.kept)]), [], 'no card number was ever handed to the store')
  t.same(findSecrets(logLines.slice(logged)), [], 'nor to the log')

  const psp = await buildHarness(t, { plugin: { relay: 'psp' } })
  psp.destination.setResponse({ status: 400, body: { message: 'bad card 4000056655665556' } })
  const envelope = await psp.post(validBody)
  t.equal(envelope.statusCode, 200)
  t.same(findSecrets([JSON.stringify(envelope.json)]), [], 'relay: psp sends the whole PSP envelope, masked too')
  t.match(JSON.stringify(envelope.json.body), /\*{12}5556/)
})

t.test('E58 an answer nested deeper than 64 levels: 502 with an unknown outcome, never stored, so a retry asks the PSP again', async t => {
  const store = recordingStore()
  const h = await buildHarness(t, { plugin: { idempotencyStore: store } })
  const deep = '['.repeat(5000) + ']'.repeat(5000)
  h.destination.setResponse({ status: 200, headers: { 'content-type': 'application/json' }, body: deep })
  for (const attempt of [1, 2]) {
    const res = await h.post(validBody, { headers: { 'idempotency-key': 'deep-1' } })
    t.same([res.statusCode, res.json.code, res.json.message], [502, 'CARD_FORWARDING_PSP_ERROR', 'stripe forward failed: answer_too_deep'], `attempt ${attempt}`)
    t.match(h.audits.at(-1), { event: 'forward_unknown', reason: 'answer_too_deep' }, `attempt ${attempt}: the card may have gone: reconcile`)
    t.equal(res.headers['idempotent-replayed'], undefined, `attempt ${attempt}: never a replay`)
  }
  t.equal(h.simulator.calls, 2, 'the retry with the same key reached the PSP (with the same PSP key)')
  t.equal(store.kept.length, 0, 'nothing was stored')
  const flat = await buildHarness(t)
  flat.destination.setResponse({ status: 200, headers: { 'content-type': 'application/json' }, body: '['.repeat(63) + ']'.repeat(63) })
  t.equal((await flat.post(validBody)).statusCode, 200, '63 levels inside the body (64 with the answer) are fine')
})

t.test('E58 an answer over 1 MiB serialised, or holding what JSON cannot carry, is the same 502', async t => {
  const cases: Array<[string, () => Partial<ForwardResult>, string]> = [
    ['1 MiB of body', () => ({ body: 'x'.repeat(1024 * 1024) }), 'answer_too_large'],
    ['1.2 MB of three-byte characters in 400,000 UTF-16 units', () => ({ body: '€'.repeat(400_000) }), 'answer_too_large'],
    ['a BigInt', () => ({ body: { n: 10n } }), 'answer_invalid'],
    ['a cycle', () => { const a: any = {}; a.self = a; return { body: a } }, 'answer_too_deep'],
    ['a non-string header', () => ({ headers: { 'x-n': 1 as any } }), 'answer_invalid'],
    ['a status that is no HTTP status', () => ({ status: 2000 }), 'answer_invalid']
  ]
  for (const [name, answer, reason] of cases) {
    const adapter = answering(answer)
    const h = await buildHarness(t, { plugin: { psps: { psp: adapter } } })
    const res = await h.post(validBody)
    t.same([res.statusCode, res.json.message], [502, `fixed forward failed: ${reason}`], name)
    t.match(h.audits.at(-1), { event: 'forward_unknown', reason }, `${name}: audited forward_unknown`)
  }
  const fine = await buildHarness(t, { plugin: { psps: { psp: answering(() => ({ body: 'x'.repeat(1000 * 1000) })) } } })
  t.equal((await fine.post(validBody)).statusCode, 200, 'just under 1 MiB is relayed')
  const dated = await buildHarness(t, { plugin: { psps: { psp: answering(() => ({ body: { at: new Date(0), pan: { toJSON: () => '4242424242424242' } } })) } } })
  t.same((await dated.post(validBody)).json.body, { at: '1970-01-01T00:00:00.000Z', pan: '************4242' }, 'a value is what its toJSON gives, masked too')
})

t.test('D53 a PSP error code that is a card number is never echoed in a message, an audit event or a log', async t => {
  const { safeCode } = await import('../lib/errors.ts')
  t.equal(safeCode('card_declined'), 'card_declined')
  t.equal(safeCode('4242424242424242'), 'unknown')
  t.equal(safeCode('err-4000-0566-5566-5556'), 'unknown')
  t.equal(safeCode('1234567890123'), '1234567890123', 'a 13-digit code that fails the Luhn check is a code')
})
