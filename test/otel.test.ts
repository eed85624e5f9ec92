// The README's @fastify/otel recipe, run as written: the instrumentation registered before the
// plugin, undici's instrumentation for the PSP call, spans exported in memory and read back.
import t from 'tap'
import { SpanKind } from '@opentelemetry/api'
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node'
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { buildHarness, EMAIL, token, validBody } from './helpers/harness.ts'

const exporter = new InMemorySpanExporter()
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
provider.register()
const fastifyOtel = new FastifyOtelInstrumentation()
const undiciOtel = new UndiciInstrumentation()
t.teardown(async () => {
  undiciOtel.disable()
  fastifyOtel.disable()
  await provider.shutdown()
})

t.test('one trace per forward: the route span, its hooks and handler, and the PSP call as a client span', async t => {
  const h = await buildHarness(t, { before: async app => { await app.register(fastifyOtel.plugin()) } })
  exporter.reset()
  const bearer = token()
  const res = await h.post(validBody, { token: bearer })
  t.equal(res.statusCode, 200)

  const spans = exporter.getFinishedSpans()
  const route = spans.find(s => s.attributes['http.route'] === '/v1/initiate-payment-sharing' && s.attributes['http.response.status_code'] === 200)
  t.ok(route, 'the request span names the route and its status')
  const pspCalls = spans.filter(s => s.kind === SpanKind.CLIENT && String(s.attributes['url.full']).startsWith(h.simulator.url))
  t.ok(pspCalls.length >= 1, 'the PSP call is a client span')
  t.ok(pspCalls.some(s => s.attributes['url.path'] === '/v1/forwarding/requests' && s.attributes['http.response.status_code'] === 200))
  const handler = spans.find(s => s.name === 'handler - forward')
  t.equal(handler?.parentSpanContext?.spanId, route?.spanContext().spanId, 'the handler span is the route span\'s child')
  t.ok(pspCalls.every(s => s.parentSpanContext?.spanId === handler?.spanContext().spanId), 'each PSP call is the handler\'s child')
  const hooks = spans.filter(s => s.attributes['fastify.type'] === 'route-hook').map(s => s.attributes['hook.callback.name'])
  t.same(hooks, ['refuseWhenClosing', 'checkIp', 'checkToken', 'checkMediaType'], 'the edge checks, in order, each with its span')

  const exported = JSON.stringify(spans.map(s => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })))
  for (const secret of [bearer, STRIPE_SANDBOX_API_KEY, '4242424242424242', EMAIL, 'ORDER_67890']) {
    t.notOk(exported.includes(secret), `no ${secret.slice(0, 8)}… in any span`)
  }
})

t.test('a refusal is traced with its status and no secret', async t => {
  const h = await buildHarness(t, { before: async app => { await app.register(fastifyOtel.plugin()) } })
  exporter.reset()
  const res = await h.post(validBody, { token: 'not-a-jwt' })
  t.equal(res.statusCode, 401)
  const spans = exporter.getFinishedSpans()
  t.ok(spans.some(s => s.attributes['http.route'] === '/v1/initiate-payment-sharing' && s.attributes['http.response.status_code'] === 401))
  t.notOk(spans.some(s => s.kind === SpanKind.CLIENT), 'no PSP call')
  t.notOk(JSON.stringify(spans.map(s => [s.attributes, s.events])).includes('not-a-jwt'))
})
