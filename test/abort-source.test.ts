import t, { type Test } from 'tap'
import { Agent, type Dispatcher } from 'undici'
import { stripe, type ForwardInput, type PspAdapter } from '../index.ts'
import { STRIPE_SANDBOX_API_KEY } from '../lib/sandbox/index.ts'
import { abortHandleOf, AbortSource, withSource } from '../lib/psp/abort-source.ts'
import { startDeadline } from '../lib/route/deadline.ts'
import { buildHarness, validBody } from './helpers/harness.ts'
import { startFaultyPsp, VAULTED_WITH_BILLING } from './helpers/faulty-psp.ts'

// The route aborts a built-in adapter's PSP call through an AbortSource (an EventEmitter undici
// accepts as its signal); an AbortSignal is made only for code that reads `signal`.

const DEADLINE = 5000

/** A Stripe that answers its Forward API at once with a relayed 200. */
async function answeringStripe (t: Test) {
  return await startFaultyPsp(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ id: 'fwdreq_1', response_details: { status: 200, headers: [{ name: 'content-type', value: 'application/json' }], body: '{"ok":true}' } }))
  })
}

/** A Stripe that never answers. */
async function silentStripe (t: Test) {
  return await startFaultyPsp(t, () => {})
}

/** A partner's adapter that wraps the built-in Stripe adapter, changing its input with `wrap`. */
function wrapping (inner: PspAdapter<any>, wrap: (input: ForwardInput<any>) => Promise<unknown>): PspAdapter<any> {
  return {
    name: 'wrapped',
    isRecord: (record): record is any => inner.isRecord(record),
    prepareDestination: destination => inner.prepareDestination?.(destination),
    forward: async input => await wrap(input) as any,
    close: async () => await inner.close?.()
  }
}

async function harness (t: Test, psp: PspAdapter<any>) {
  const h = await buildHarness(t, { plugin: { psps: { psp }, forwardTimeoutMs: DEADLINE } })
  h.vault.set('ORDER_67890', { ...VAULTED_WITH_BILLING, psp: 'psp' })
  return h
}

t.test('a wrapper that copies its input with a signal of its own: that signal aborts the PSP call', async t => {
  const psp = await silentStripe(t)
  const inner = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: psp.url, circuitBreaker: false })
  const h = await harness(t, wrapping(inner, async input => await inner.forward({ ...input, signal: AbortSignal.timeout(200) })))
  const started = Date.now()
  const res = await h.post(validBody)
  t.ok(Date.now() - started < DEADLINE - 1000, 'answered when the wrapper\'s signal fired, not at the deadline')
  t.equal(res.statusCode, 502)
  t.match(h.audits.at(-1), { reason: 'aborted' })
})

t.test('a wrapper that assigns its input\'s signal: allowed, and that signal aborts the PSP call', async t => {
  const psp = await silentStripe(t)
  const inner = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: psp.url, circuitBreaker: false })
  const h = await harness(t, wrapping(inner, async input => {
    input.signal = AbortSignal.timeout(200)
    return await inner.forward(input)
  }))
  const started = Date.now()
  const res = await h.post(validBody)
  t.ok(Date.now() - started < DEADLINE - 1000)
  t.equal(res.statusCode, 502)
  t.match(h.audits.at(-1), { reason: 'aborted' })
})

t.test('through the built-in adapter, the route\'s source carries the abort and keeps no listener once the call is over', async t => {
  const psp = await answeringStripe(t)
  const inner = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: psp.url, circuitBreaker: false })
  const handles: unknown[] = []
  const h = await harness(t, wrapping(inner, async input => {
    handles.push(abortHandleOf(input))
    return await inner.forward(input)
  }))
  const res = await h.post(validBody)
  t.equal(res.statusCode, 200)
  t.same(res.json.body, { ok: true })
  const source = handles[0] as AbortSource
  t.ok(source instanceof AbortSource, 'the route\'s source, not an AbortSignal')
  t.equal(source.listenerCount('abort'), 0, 'undici removed its listener')
})

t.test('a partner\'s dispatcher is given an AbortSignal, never the route\'s source', async t => {
  const psp = await answeringStripe(t)
  const seen: unknown[] = []
  class Recording extends Agent {
    override dispatch (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      seen.push((options as { signal?: unknown }).signal)
      return super.dispatch(options, handler)
    }
  }
  const dispatcher = new Recording()
  t.teardown(() => dispatcher.close())
  const h = await harness(t, stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: psp.url, circuitBreaker: false, dispatcher }))
  const res = await h.post(validBody)
  t.equal(res.statusCode, 200)
  t.equal(seen.length, 1)
  t.ok(seen[0] instanceof AbortSignal)
})

t.test('AbortSource: its AbortSignal, made before or after the abort, carries the same reason; a second abort changes nothing', async t => {
  const early = new AbortSource()
  const before = early.signal
  const reason = new Error('first')
  early.abort(reason)
  early.abort(new Error('second'))
  t.equal(before.aborted, true)
  t.equal(before.reason, reason)
  t.equal(early.reason, reason)

  const late = new AbortSource()
  let emitted = 0
  late.on('abort', () => { emitted++ })
  late.abort()
  late.abort()
  t.equal(emitted, 1, 'abort is emitted once')
  t.match(late.reason, { name: 'AbortError' }, 'a reason by default')
  t.equal(late.signal.aborted, true, 'made after the abort: already aborted')
  t.equal(late.signal.reason, late.reason)
  t.equal(late.signal, late.signal, 'one AbortSignal per source')
})

t.test('a deadline\'s run that starts after the forward was aborted starts nothing and rejects with the reason', async t => {
  const deadline = startDeadline(60_000)
  t.teardown(() => deadline.clear())
  const reason = new Error('closing')
  deadline.abort(reason)
  let started = false
  await t.rejects(deadline.run(async () => { started = true }, () => new Error('late')), reason)
  t.equal(started, false)
  t.equal(deadline.source.signal.reason, reason, 'its AbortSignal, made now, says why')
})

t.test('a resolver may assign its context\'s signal like a plain property', async t => {
  const psp = await answeringStripe(t)
  let assigned: AbortSignal | undefined
  const h = await buildHarness(t, {
    plugin: {
      psps: { psp: stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: psp.url, circuitBreaker: false }) },
      resolvePaymentMethod: async (_body, _request, context) => {
        const own = new AbortController().signal
        context.signal = own
        assigned = context.signal === own ? own : undefined
        return { ...VAULTED_WITH_BILLING, psp: 'psp' }
      }
    }
  })
  const res = await h.post(validBody)
  t.equal(res.statusCode, 200)
  t.ok(assigned instanceof AbortSignal, 'the assignment held')
})

t.test('withSource: an own, enumerable signal made on first read, the same for an object that inherits from the target', async t => {
  const source = new AbortSource()
  const target = withSource({ id: 1 }, source)
  t.same(Object.keys(target), ['id', 'signal'])
  t.equal(Object.create(target).signal, source.signal)
  t.equal(target.signal, source.signal)
  t.equal({ ...target }.signal, source.signal, 'a copy by spread reads it')
  t.equal(new Proxy(target, {}).signal, source.signal, 'so does a Proxy of it')
  t.equal(Object.create(Object.prototype, Object.getOwnPropertyDescriptors(target)).signal, source.signal, 'and a copy of its descriptors')
  t.equal(Reflect.get(target, 'signal', {}), undefined, 'read for an object the route did not make: none')
})

t.test('a wrapper that hands the built-in adapter a Proxy of its input: the route\'s abort still reaches the PSP call', async t => {
  const psp = await silentStripe(t)
  const inner = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: psp.url, circuitBreaker: false })
  const handles: unknown[] = []
  const h = await harness(t, wrapping(inner, async input => {
    const proxy = new Proxy(input, {})
    handles.push(abortHandleOf(proxy))
    return await inner.forward(proxy)
  }))
  const res = await h.post(validBody)
  t.equal(res.statusCode, 504, 'cut off at the deadline')
  t.ok(handles[0] instanceof AbortSignal, 'the adapter was given the forward\'s AbortSignal')
  t.equal((handles[0] as AbortSignal).aborted, true, 'aborted by the deadline')
})

t.test('the objects the route gives partner code share one signal accessor, and the deadline has no getter', async t => {
  // A getter written in an object literal is a new closure per request, which V8 keeps alive with
  // all it reaches until a full GC (BENCHMARKS.md, "Young-generation GC").
  const psp = await answeringStripe(t)
  const inner = stripe({ apiKey: STRIPE_SANDBOX_API_KEY, baseUrl: psp.url, circuitBreaker: false })
  const accessors: Array<PropertyDescriptor | undefined> = []
  const h = await buildHarness(t, {
    plugin: {
      psps: {
        psp: wrapping(inner, async input => {
          accessors.push(Object.getOwnPropertyDescriptor(input, 'signal'))
          return await inner.forward(input)
        })
      },
      resolvePaymentMethod: async (_body, _request, context) => {
        accessors.push(Object.getOwnPropertyDescriptor(context, 'signal'))
        return { ...VAULTED_WITH_BILLING, psp: 'psp' }
      }
    }
  })
  t.equal((await h.post(validBody)).statusCode, 200)
  t.equal((await h.post(validBody)).statusCode, 200)
  t.equal(accessors.length, 4)
  t.ok(accessors.every(a => typeof a?.get === 'function' && a.get === accessors[0]?.get && a.set === accessors[0]?.set && a.enumerable === true))
  const deadline = startDeadline(60_000)
  t.teardown(() => deadline.clear())
  t.match(Object.getOwnPropertyDescriptor(deadline, 'expired'), { value: false, get: undefined })
})
