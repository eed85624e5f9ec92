// A partner whose PSP is none of the four writes its own adapter against the exported PspAdapter
// type, with the exported toolkit only: this test is that partner. "Acme Vault" is a made-up PSP
// with a Spreedly-like deliver API: placeholders {{pan}}, {{exp_mm}}, {{exp_yyyy}}, {{name}}, and a
// response envelope { transaction: { succeeded, response: { status, headers: "CRLF string", body } } }.
import t from 'tap'
import Fastify from 'fastify'
import { Agent } from 'undici'
import {
  PspError, createPspClient, billingValue, forwardResult, isCardToken, isDestinationAnswer, renderTemplate,
  type CanonicalToken, type ForwardInput, type ForwardResult, type PspAdapter
} from '../index.ts'
import { listen, startFakeDestination, TEST_CARDS } from '../lib/sandbox/index.ts'
import { buildHarness, validBody } from './helpers/harness.ts'
import type { PspKit } from './helpers/psp-kits.ts'

interface AcmeRecord { acmeToken: string }

const ACME_PLACEHOLDER: Partial<Record<CanonicalToken, string>> = {
  'card.number': '{{pan}}', 'card.expMonth': '{{exp_mm}}', 'card.expYear': '{{exp_yyyy}}', 'card.holderName': '{{name}}'
}

function acmeVault (options: { apiKey: string, baseUrl: string }): PspAdapter<AcmeRecord> {
  const client = createPspClient({ psp: 'acme', baseUrl: options.baseUrl })
  return {
    name: 'acme',
    prepareDestination (destination) {
      for (const slot of destination.slots) {
        if (slot.token === 'card.cvc') throw new Error(`acme: cannot fill {{card.cvc}} for destination ${destination.id}`)
      }
    },
    isRecord: (record): record is any => typeof record.acmeToken === 'string' && /^acme_\w{1,32}$/.test(record.acmeToken),
    async forward ({ record, destination }: ForwardInput<AcmeRecord>): Promise<ForwardResult> {
      const body = renderTemplate(destination.template, destination.slots, token =>
        isCardToken(token) ? ACME_PLACEHOLDER[token] : billingValue(token, record.billingAddress))
      const res = await client.post('/deliver', {
        headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ token: record.acmeToken, url: destination.url, headers: destination.headers, body: JSON.stringify(body) })
      })
      const tx = (res.body as any).transaction
      if (res.statusCode !== 200 || tx?.succeeded !== true) throw new PspError('acme', String(tx?.error ?? 'failed'))
      if (!isDestinationAnswer(tx.response)) throw new PspError('acme', 'invalid_response')
      const headers = Object.fromEntries(String(tx.response.headers).split('\r\n').filter(Boolean).map(line => {
        const i = line.indexOf(':')
        return [line.slice(0, i).trim(), line.slice(i + 1).trim()]
      }))
      return forwardResult({ ...tx.response, headers }, res.body, res.durationMs)
    },
    close: () => client.close()
  }
}

/** Acme's side: fills its placeholders with the vaulted test card and calls the destination. */
async function startAcmeSimulator () {
  const requests: Array<{ path: string }> = []
  const app = Fastify()
  app.post('/deliver', async (request, reply) => {
    requests.push({ path: request.url })
    const input = request.body as { token: string, url: string, headers: Record<string, string>, body: string }
    if (request.headers.authorization !== 'Bearer acme_key' || input.token !== 'acme_visa') {
      return reply.code(200).send({ transaction: { succeeded: false, error: 'invalid_token' } })
    }
    const card = TEST_CARDS.visa
    const filled = input.body.replaceAll('{{pan}}', card.number).replaceAll('{{exp_mm}}', card.expMonth)
      .replaceAll('{{exp_yyyy}}', card.expYear).replaceAll('{{name}}', card.holderName)
    const res = await fetch(input.url, { method: 'POST', headers: { ...input.headers, 'content-type': 'application/json' }, body: filled })
    const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\r\n')
    return { transaction: { succeeded: true, response: { status: res.status, headers, body: await res.text() } } }
  })
  const server = await listen(app)
  return { ...server, requests, get calls () { return requests.length } }
}

const acmeKit: PspKit = {
  name: 'acme',
  start: () => startAcmeSimulator(),
  adapter: url => acmeVault({ apiKey: 'acme_key', baseUrl: url }),
  record: { acmeToken: 'acme_visa' },
  unknownRecord: { acmeToken: 'acme_nope' },
  card: TEST_CARDS.visa
}

t.test('a custom adapter plugs in: the card reaches the destination, the answer is relayed', async t => {
  const h = await buildHarness(t, { kit: acmeKit }).catch(err => err as Error)
  t.match(h, { message: /acme: cannot fill \{\{card.cvc\}\} for destination COM.ROKT.CATALOG/ }, 'registration refuses a template the PSP cannot fill, naming token and PSP')

  const destination = await startFakeDestination()
  t.teardown(() => destination.close())
  const ok = await buildHarness(t, {
    kit: acmeKit,
    plugin: { destinations: { 'COM.ROKT.CATALOG': { url: destination.url, body: { card: { number: '{{card.number}}', exp_month: '{{card.expMonth}}', exp_year: '{{card.expYear}}', name: '{{card.holderName}}' }, zip: '{{billing.postalCode}}' } } } }
  })
  ok.vault.get('ORDER_67890').billingAddress = { postalCode: '94103' }
  const res = await ok.post(validBody)
  t.equal(res.statusCode, 200)
  t.same(destination.received[0].body, { card: { number: '4242424242424242', exp_month: '12', exp_year: '2034', name: 'Jenny Rosen' }, zip: '94103' })
  t.equal(res.json.body.last4, '4242')
  t.match(res.json.headers['content-type'], /application\/json/)

  ok.vault.set('ORDER_X', { psp: 'psp', acmeToken: 'acme_nope' })
  const failed = await ok.post({ ...validBody, partnerPaymentReference: 'ORDER_X', customerIdentifiers: undefined })
  t.equal(failed.statusCode, 502)
  t.equal(failed.json.message, 'acme forward failed: invalid_token')
})

t.test('createPspClient sends a path as the URL parser writes it, through any dispatcher that has dispatch()', async t => {
  const seen: string[] = []
  const app = Fastify()
  app.all('*', async request => {
    seen.push(request.raw.url as string)
    return { ok: true }
  })
  const server = await listen(app)
  t.teardown(() => server.close())
  const client = createPspClient({ psp: 'acme', baseUrl: server.url })
  t.teardown(() => client.close())
  const paths = ['/v1/forwarding/requests?created%5Bgte%5D=1&limit=100', '/a b/é/./x/../c?q=1 2&r="x"#fragment', '/v1/payment_methods/pm_card_visa', '/v1/x/%2e%2E/y/.%2e/z', '/empty-query?']
  for (const path of paths) t.equal((await client.get(path, { headers: {} })).statusCode, 200, path)
  const parsed = (path: string) => { const url = new URL(server.url + path); return url.pathname + url.search }
  t.same(seen, paths.map(parsed), 'percent-encoded and dot segments resolved as undici\'s top-level request() did; plain paths as given')
  t.same([seen[0], seen[2]], [paths[0], paths[2]], 'the built-in adapters\' kind of path goes out as written')
  t.same(seen.slice(3), ['/v1/z', '/empty-query'], 'encoded dot segments resolved, an empty query dropped')
  t.equal((await client.get('no-slash?x=1', { headers: {} })).statusCode, 200)
  t.equal(seen.at(-1), '/no-slash?x=1', 'a path without its leading slash gets one')

  // A partner's dispatcher is driven through dispatch() alone, as undici's request() drives it.
  const agent = new Agent()
  t.teardown(() => agent.close())
  const dispatchOnly = { dispatch: agent.dispatch.bind(agent) }
  const viaPartner = createPspClient({ psp: 'acme', baseUrl: server.url, dispatcher: dispatchOnly as unknown as Agent })
  t.equal((await viaPartner.post('/deliver', { headers: { 'content-type': 'application/json' }, body: '{}' })).statusCode, 200)
  t.equal(seen.at(-1), '/deliver')
})
