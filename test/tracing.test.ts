/**
 * Traces with the real SDK (`@opentelemetry/sdk-trace-base`) and an in-memory span exporter: after a
 * scripted sequence, the spans, their parents, attributes, events and statuses are exactly the
 * expected ones; and without `withTracing` no span is made at all.
 */
import { SpanStatusCode, trace } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import * as CE from '../src/CacheError.js'
import { cacheable } from '../src/cacheable.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import { cache } from '../src/Cached.js'
import { orElseUncached, withDedup, withKey, withTracing } from '../src/Pipeline.js'
import { startTestSidecar } from '../src/testing/index.js'
import { manualClock } from '../src/Clock.js'
import { settled } from './freshnessScenarios.js'
import { collectingLogger, deferred, probeStore } from './helpers.js'

const setup = () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return { exporter, provider, tracer: provider.getTracer('test') }
}

/** The spans of one call: the call's span and its children, by name. */
const tree = (spans: ReadonlyArray<ReadableSpan>) => {
  const roots = spans.filter((span) => span.name.startsWith('cache ') && span.name !== 'cache.get')
  return roots.map((root) => ({
    name: root.name,
    attributes: root.attributes,
    status: root.status.code,
    events: root.events.map((event) => event.name),
    children: spans
      .filter((span) => span.parentSpanContext?.spanId === root.spanContext().spanId)
      .map((span) => [span.name, span.status.code] as const),
  }))
}

describe('tracing', () => {
  it('a span per call with its result, child spans for the store and the computation, failures recorded', async () => {
    const { exporter, provider, tracer } = setup()
    const store = probeStore(memoryStore())
    const failure = new Error('not found')
    const getUser = pipe(
      (id: number) => (id < 0 ? TE.left(failure) : TE.right({ id })),
      cache(store),
      withKey('users.get'),
      withTracing(tracer),
      orElseUncached({ onError: () => undefined }),
    )
    await getUser(1)() // miss
    await getUser(1)() // hit
    await getUser(-1)() // the function fails
    store.failWith.get = CE.connectionError('refused')
    await getUser(2)() // fallback
    const calls = tree(exporter.getFinishedSpans())
    const base = { 'cache.store': 'probe(memory)', 'cache.function': 'users.get' }
    expect(calls.map(({ name, attributes, status, events, children }) => ({ name, result: attributes['cache.result'], status, events, children }))).toEqual([
      {
        name: 'cache users.get',
        result: 'miss',
        status: SpanStatusCode.UNSET,
        events: [],
        children: [
          ['cache.get', SpanStatusCode.UNSET],
          ['cache.compute', SpanStatusCode.UNSET],
          ['cache.set', SpanStatusCode.UNSET],
        ],
      },
      { name: 'cache users.get', result: 'hit', status: SpanStatusCode.UNSET, events: [], children: [['cache.get', SpanStatusCode.UNSET]] },
      {
        name: 'cache users.get',
        result: 'error',
        status: SpanStatusCode.ERROR,
        events: ['exception'],
        children: [
          ['cache.get', SpanStatusCode.UNSET],
          ['cache.compute', SpanStatusCode.UNSET],
        ],
      },
      {
        name: 'cache users.get',
        result: 'fallback',
        status: SpanStatusCode.UNSET,
        events: ['exception'],
        children: [
          ['cache.get', SpanStatusCode.ERROR],
          ['cache.compute', SpanStatusCode.UNSET],
        ],
      },
    ])
    for (const call of calls) expect(call.attributes).toMatchObject({ ...base, 'cache.key': expect.stringMatching(/^cache:users\.get:/) as unknown })
    expect(calls[3]?.attributes['error.type']).toBe('E_CACHE_CONNECTION')
    await provider.shutdown()
  })

  it('a hit the in-process tier served says so (cache.tier = l1), with no store span', async () => {
    const { exporter, provider, tracer } = setup()
    const f = cacheable({ store: memoryStore(), tracer, l1: true, name: 'tiered', logger: collectingLogger() })(async (n: number) => n)
    await f(1)
    await f(1)
    const [first, second] = tree(exporter.getFinishedSpans())
    expect([first?.attributes['cache.result'], first?.attributes['cache.tier']]).toEqual(['miss', undefined])
    expect([second?.attributes['cache.result'], second?.attributes['cache.tier'], second?.children]).toEqual(['hit', 'l1', []])
    await provider.shutdown()
  })

  it('calls that join a single flight say so', async () => {
    const { exporter, provider, tracer } = setup()
    const gate = deferred()
    const f = pipe(
      async (n: number) => {
        await gate.promise
        return n
      },
      cache(memoryStore()),
      withKey('burst'),
      withDedup(),
      withTracing(tracer),
      orElseUncached(),
    )
    const calls = [f(1)(), f(1)(), f(1)()]
    gate.resolve()
    await Promise.all(calls)
    const results = tree(exporter.getFinishedSpans()).map((call) => call.attributes['cache.result'])
    expect(results.sort()).toEqual(['coalesced', 'coalesced', 'miss'])
    await provider.shutdown()
  })

  it('a stale value served for a failure says so (cache.result = stale, status OK), the failure kept as an event', async () => {
    const { exporter, provider, tracer } = setup()
    const clock = manualClock(0)
    let failing = false
    const f = cacheable({ store: memoryStore({ clock }), clock, tracer, ttlSeconds: 1, failSafe: true, name: 'stale.traced', logger: collectingLogger() })(
      async (n: number) => {
        if (failing) throw new Error('down')
        return n
      },
    )
    await f(1)
    failing = true
    clock.advance(1000)
    expect(await f(1)).toBe(1)
    const [, stale] = tree(exporter.getFinishedSpans())
    expect([stale?.attributes['cache.result'], stale?.status, stale?.events]).toEqual(['stale', SpanStatusCode.OK, ['exception']])
    await provider.shutdown()
  })

  it('a refresh ahead has a span of its own, in its own trace, linked to the call that started it', async () => {
    const { exporter, provider, tracer } = setup()
    const clock = manualClock(0)
    const f = cacheable({ store: memoryStore({ clock }), clock, tracer, ttlSeconds: 10, refreshAhead: { threshold: 0.5 }, name: 'refreshed', logger: collectingLogger() })(
      async (n: number) => n,
    )
    await f(1)
    clock.advance(6000)
    await f(1)
    await settled(f)
    const spans = exporter.getFinishedSpans().filter((span) => span.name === 'cache refreshed')
    const hit = spans.find((span) => span.attributes['cache.result'] === 'hit')
    const refresh = spans.find((span) => span.attributes['cache.refresh'] === true)
    expect(refresh).toBeDefined()
    expect(refresh?.parentSpanContext).toBeUndefined()
    expect(refresh?.spanContext().traceId).not.toBe(hit?.spanContext().traceId)
    expect(refresh?.links.map((link) => link.context.spanId)).toEqual([hit?.spanContext().spanId])
    const children = exporter.getFinishedSpans().filter((span) => span.parentSpanContext?.spanId === refresh?.spanContext().spanId)
    expect(children.map((span) => span.name).sort()).toEqual(['cache.compute', 'cache.set'])
    await provider.shutdown()
  })

  it('without withTracing, no span is made, even with a tracer provider registered globally', async () => {
    const { exporter, provider } = setup()
    trace.setGlobalTracerProvider(provider)
    try {
      const f = pipe((n: number) => TE.right(n), cache(memoryStore()), withKey('quiet'), orElseUncached())
      await f(1)()
      await f(1)()
      expect(exporter.getFinishedSpans()).toEqual([])
      const traced = cacheable({ store: memoryStore(), tracer: true })(async function traced(n: number) {
        return n
      })
      await traced(1)
      expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['cache.get', 'cache.compute', 'cache.set', 'cache traced'])
    } finally {
      trace.disable()
      await provider.shutdown()
    }
  })

  it('puts no API token into any span', async () => {
    const { exporter, provider, tracer } = setup()
    const token = 'span-secret-token'
    const sidecar = await startTestSidecar({ apiToken: token })
    const store = daprStore({ daprUrl: sidecar.url, env: {}, apiToken: token })
    const wrong = daprStore({ daprUrl: sidecar.url, env: {}, apiToken: `${token}-wrong` })
    try {
      const f = cacheable({ store, tracer, logger: collectingLogger() })(async function f(n: number) {
        return n
      })
      const g = cacheable({ store: wrong, tracer, logger: collectingLogger() })(async function g(n: number) {
        return n
      })
      await f(1)
      sidecar.fault({ kind: 'status', status: 500 })
      await f(2)
      await g(3)
      const text = JSON.stringify(
        exporter.getFinishedSpans().map((span) => ({ name: span.name, attributes: span.attributes, events: span.events, status: span.status })),
      )
      expect(text).toContain('E_CACHE_STORE_REJECTED')
      expect(text).not.toContain(token)
    } finally {
      await store.close()
      await wrong.close()
      await sidecar.close()
      await provider.shutdown()
    }
  })
})
