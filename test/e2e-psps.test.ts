import t from 'tap'
import type { ForwardMetric } from '../index.ts'
import { PSP_KITS } from './helpers/psp-kits.ts'
import { buildHarness, DESTINATION, ROKT_API_KEY, token, validBody } from './helpers/harness.ts'

// One suite, four PSPs: a partner changes only its `psps` entry and its vault records.
for (const kit of PSP_KITS) {
  t.test(`${kit.name}: end to end`, async t => {
    t.test('happy path: the destination receives the real test card; the plugin relays its answer', async t => {
      const metrics: ForwardMetric[] = []
      const h = await buildHarness(t, { kit, plugin: { onForward: metric => { metrics.push(metric) } } })
      const res = await h.post(validBody)
      t.equal(res.statusCode, 200)
      t.equal(h.simulator.calls, 1)
      t.equal(h.destination.received.length, 1)
      const sent = h.destination.received[0] as { headers: Record<string, string>, body: any }
      t.equal(sent.headers['x-rokt-api-key'], ROKT_API_KEY, 'Rokt\'s destination header travels through the PSP')
      t.equal(sent.body.card.number, kit.card.number)
      t.equal(sent.body.card.exp_month, kit.card.expMonth)
      t.equal(sent.body.card.exp_year, kit.card.expYear)
      t.equal(sent.body.card.name, kit.card.holderName)
      t.equal(res.json.status, 200)
      t.same(res.json.body, { token: res.json.body.token, status: 'tokenized', last4: kit.card.number.slice(-4) })
      t.type(res.json['request-time'], 'number')
      t.notMatch(JSON.stringify(res.json), new RegExp(kit.card.number), 'no PAN in the response')
      t.same(h.audits.map(a => a.event), ['accepted', 'forward_ok'])
      t.equal(h.audits[1].psp, kit.name)
      const correlationId = h.audits[1].correlationId as string
      t.match(correlationId, /^rcf_[0-9a-f]{32}$/)
      t.match(JSON.stringify(h.simulator.requests.at(-1)), correlationId, 'the PSP got it in its own field (metadata, merchantReference, reference, Trace-Id)')
      t.match(metrics, [{ psp: kit.name, outcome: 'ok', correlationId }], 'and onForward')
    })

    t.test('the billing address reaches the destination', async t => {
      const h = await buildHarness(t, { kit })
      const res = await h.post({ partnerPaymentReference: 'ORDER_BILLING', destination: DESTINATION })
      t.equal(res.statusCode, 200)
      const billing = (h.destination.received[0] as { body: any }).body.billing_address
      t.equal(billing.line1, '1 Vault St', "the vault record's address, for every PSP")
      t.equal(billing.country, 'GB')
    })

    t.test('a destination 4xx is relayed as 200 with its status', async t => {
      const h = await buildHarness(t, { kit })
      h.destination.setResponse({ status: 422, body: { error: 'card_rejected' } })
      const res = await h.post(validBody)
      t.equal(res.statusCode, 200)
      t.equal(res.json.status, 422)
      t.same(res.json.body, { error: 'card_rejected' })
    })

    t.test('a handle the PSP does not know is a 502 naming the PSP', async t => {
      const h = await buildHarness(t, { kit })
      h.vault.set('ORDER_UNKNOWN', { psp: 'psp', ...kit.unknownRecord, billingAddress: {} })
      const res = await h.post({ partnerPaymentReference: 'ORDER_UNKNOWN', destination: DESTINATION })
      t.equal(res.statusCode, 502)
      t.equal(res.json.code, 'CARD_FORWARDING_PSP_ERROR')
      t.match(res.json.message, new RegExp(`^${kit.name.replace('.', '\\.')} forward failed: [\\w.-]+$`))
      t.equal(h.destination.received.length, 0)
    })

    const rows: Array<[string, Parameters<Awaited<ReturnType<typeof buildHarness>>['post']>, number, string]> = [
      ['disallowed IP', [validBody, { ip: '198.51.100.9' }], 403, 'CARD_FORWARDING_IP_NOT_ALLOWED'],
      ['no token', [validBody, { token: null }], 401, 'CARD_FORWARDING_UNAUTHORIZED'],
      ['bad token', [validBody, { token: token({ audience: 'someone-else' }) }], 401, 'CARD_FORWARDING_UNAUTHORIZED'],
      ['token without the scope', [validBody, { token: token({ scope: 'read' }) }], 403, 'CARD_FORWARDING_INSUFFICIENT_SCOPE'],
      ['bad body', [{ ...validBody, customerIdentifiers: { email: 'not-an-email' } }], 400, 'FST_ERR_VALIDATION'],
      ['unknown reference', [{ ...validBody, partnerPaymentReference: 'ORDER_NOPE' }], 404, 'CARD_FORWARDING_PAYMENT_METHOD_NOT_FOUND'],
      ['identifier mismatch', [{ ...validBody, customerIdentifiers: { customerId: 'cus_2' } }], 404, 'CARD_FORWARDING_PAYMENT_METHOD_NOT_FOUND'],
      ['unknown destination', [{ ...validBody, destination: 'COM.ROKT.OTHER' }], 422, 'CARD_FORWARDING_UNKNOWN_DESTINATION']
    ]
    for (const [name, args, status, code] of rows) {
      t.test(`${name} -> ${status} ${code}; nothing reaches the simulator`, async t => {
        const h = await buildHarness(t, { kit })
        const res = await h.post(...args)
        t.equal(res.statusCode, status)
        t.equal(res.json.code, code)
        t.equal(h.simulator.requests.length, 0)
        t.equal(h.destination.received.length, 0)
      })
    }
  })
}
