/**
 * The OpenTelemetry sink with the real SDK (`@opentelemetry/sdk-metrics`) and an in-memory exporter:
 * after a scripted sequence of calls, the exported instruments, units, attributes and values are
 * exactly the expected ones.
 */
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import * as CE from '../src/CacheError.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { OpenTelemetryMetrics } from '../src/OpenTelemetryMetrics.js'
import { cache } from '../src/Cached.js'
import { orElseUncached, withKey, withMetrics } from '../src/Pipeline.js'
import { cacheable } from '../src/cacheable.js'
import { withL1 } from '../src/stores/L1.js'
import { msgpackSerializer } from '../src/Serializer.js'
import { probeStore } from './helpers.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { startTestSidecar } from '../src/testing/index.js'

const setup = (options: { recordKeys?: boolean } = {}) => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  const sink = new OpenTelemetryMetrics({ meter: provider.getMeter('test'), ...options })
  const collect = async (): Promise<Map<string, MetricData>> => {
    await reader.forceFlush()
    const exported = exporter.getMetrics().at(-1)
    const all = exported?.scopeMetrics.flatMap((scope) => scope.metrics) ?? []
    return new Map(all.map((metric) => [metric.descriptor.name, metric]))
  }
  return { sink, collect, shutdown: () => provider.shutdown() }
}

const points = (metric: MetricData | undefined) =>
  (metric?.dataPoints as ReadonlyArray<DataPoint<number | Histogram>> | undefined)?.map((point) => ({
    attributes: point.attributes,
    value: typeof point.value === 'number' ? point.value : { count: point.value.count, sum: point.value.sum },
  })) ?? []

describe('OpenTelemetryMetrics with the real SDK', () => {
  it('tells hits the in-process tier served from store hits with cache.tier = l1', async () => {
    const { sink, collect, shutdown } = setup()
    const getUser = pipe((id: number) => TE.right({ id }), cache(memoryStore()), withKey('users.get'), withL1(), withMetrics(sink), orElseUncached())
    await getUser(1)() // miss, write, fill
    await getUser(1)() // from the tier
    await getUser(1)() // from the tier
    const hits = points((await collect()).get('cache.hits'))
    expect(hits).toEqual([{ attributes: { 'cache.store': 'memory', 'cache.function': 'users.get', 'cache.tier': 'l1' }, value: 2 }])
    await shutdown()
  })

  it('exports the expected instruments, units, attributes and values after a scripted sequence', async () => {
    const { sink, collect, shutdown } = setup()
    const store = probeStore(memoryStore())
    const stats = new InMemoryMetrics()
    const getUser = pipe(
      (id: number) => TE.right({ id }),
      cache(store),
      withKey('users.get'),
      withMetrics(sink),
      withMetrics(stats), // two sinks at once; the engine does not know how many
      orElseUncached({ onError: () => undefined }),
    )
    await getUser(1)() // miss, write
    await getUser(1)() // hit
    await getUser(2)() // miss, write
    store.failWith.get = CE.connectionError('refused')
    await getUser(3)() // error
    try {
      const metrics = await collect()
      const base = { 'cache.store': 'probe(memory)', 'cache.function': 'users.get' }
      expect([...metrics.keys()].sort()).toEqual(['cache.errors', 'cache.hits', 'cache.latency', 'cache.misses', 'cache.size', 'cache.writes'])
      expect(
        Object.fromEntries([...metrics].map(([name, metric]) => [name, [metric.descriptor.unit, metric.descriptor.description.length > 0]])),
      ).toEqual({
        'cache.hits': ['{hit}', true],
        'cache.misses': ['{miss}', true],
        'cache.writes': ['{write}', true],
        'cache.errors': ['{error}', true],
        'cache.latency': ['s', true],
        'cache.size': ['By', true],
      })
      expect(points(metrics.get('cache.hits'))).toEqual([{ attributes: base, value: 1 }])
      expect(points(metrics.get('cache.misses'))).toEqual([{ attributes: base, value: 2 }])
      expect(points(metrics.get('cache.writes'))).toEqual([{ attributes: base, value: 2 }])
      expect(points(metrics.get('cache.errors'))).toEqual([{ attributes: { ...base, 'error.type': 'E_CACHE_CONNECTION' }, value: 1 }])
      const written = msgpackSerializer().serialize({ id: 1 }).byteLength + msgpackSerializer().serialize({ id: 2 }).byteLength
      expect(points(metrics.get('cache.size'))).toEqual([{ attributes: base, value: { count: 2, sum: written } }])
      const latency = points(metrics.get('cache.latency'))
      expect(latency.map((point) => [point.attributes['cache.operation'], (point.value as { count: number }).count]).sort()).toEqual([
        ['hit', 1],
        ['miss', 2],
        ['write', 2],
      ])
      for (const point of latency) expect((point.value as { sum: number }).sum).toBeLessThan(1) // seconds, not milliseconds
      expect(stats.getStats()).toMatchObject({ hits: 1, misses: 2, writes: 2, errors: 1 })
    } finally {
      await shutdown()
    }
  })

  it('counts the keys a tag invalidation deleted, chunk by chunk, with the tag as cache.tag', async () => {
    const { sink, collect, shutdown } = setup()
    const store = memoryStore()
    const fn = cacheable({ store, name: 'tagged', tags: () => ['team:red'], metrics: sink, logger: { warn: () => undefined } })(async (id: number) => id)
    for (let id = 0; id < 150; id++) await fn(id)
    expect((await fn.invalidateTag('team:red')).deleted).toBe(150)
    try {
      const metrics = await collect()
      expect(points(metrics.get('cache.tag_keys_deleted'))).toEqual([
        { attributes: { 'cache.store': 'memory', 'cache.function': 'tagged', 'cache.tag': 'team:red' }, value: 150 },
      ])
    } finally {
      await shutdown()
    }
  })

  it('records the size of every read the Dapr store sent in cache.batch.size, with the store as cache.store', async () => {
    const { sink, collect, shutdown } = setup()
    const sidecar = await startTestSidecar()
    const store = daprStore({ daprUrl: sidecar.url, env: {}, metrics: sink })
    try {
      await Promise.all(Array.from({ length: 40 }, (_, i) => store.get(`k${i}`)()))
      await store.get('alone')()
      await store.getMany?.(['a', 'b', 'c'])()
      const metrics = await collect()
      const batch = metrics.get('cache.batch.size')
      expect(batch?.descriptor.unit).toBe('{key}')
      expect(points(batch)).toEqual([{ attributes: { 'cache.store': 'cache' }, value: { count: 3, sum: 44 } }])
      const buckets = (batch?.dataPoints[0]?.value as Histogram | undefined)?.buckets
      expect(buckets?.boundaries).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
      expect(buckets?.counts.slice(0, 7)).toEqual([1, 0, 1, 0, 0, 0, 1])
    } finally {
      await store.close()
      await sidecar.close()
      await shutdown()
    }
  })

  it('puts the key on data points only when asked to', async () => {
    const { sink, collect, shutdown } = setup({ recordKeys: true })
    try {
      sink.recordHit('cache:f:0123456789abcdef', 2, { name: 'f', store: 'cache' })
      sink.recordError(undefined, CE.keyError('unkeyable'), { name: 'f', store: 'cache' })
      const metrics = await collect()
      expect(points(metrics.get('cache.hits'))).toEqual([
        { attributes: { 'cache.store': 'cache', 'cache.function': 'f', 'cache.key': 'cache:f:0123456789abcdef' }, value: 1 },
      ])
      expect(points(metrics.get('cache.errors'))[0]?.attributes).toEqual({ 'cache.store': 'cache', 'cache.function': 'f', 'error.type': 'E_CACHE_KEY' })
    } finally {
      await shutdown()
    }
  })

  it('creates its instruments once, not per record', async () => {
    const created: Array<string> = []
    const provider = new MeterProvider()
    const meter = provider.getMeter('count')
    const counting = new Proxy(meter, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver)
        if (typeof value !== 'function') return value
        return (...args: Array<unknown>) => {
          if (String(property).startsWith('create')) created.push(String(args[0]))
          return (value as (...a: Array<unknown>) => unknown).apply(target, args)
        }
      },
    })
    const sink = new OpenTelemetryMetrics({ meter: counting })
    for (let i = 0; i < 100; i++) sink.recordHit(`k${i}`, 1, { name: 'f', store: 's' })
    expect(created.sort()).toEqual(['cache.errors', 'cache.hits', 'cache.latency', 'cache.misses', 'cache.negative_hits', 'cache.size', 'cache.stale', 'cache.tag_keys_deleted', 'cache.writes'].concat('cache.batch.size').sort())
    await provider.shutdown()
  })

  it('without an SDK, records to the no-op global meter without failing', () => {
    const sink = new OpenTelemetryMetrics()
    expect(() => {
      sink.recordHit('k', 1)
      sink.recordMiss('k', 1)
      sink.recordWrite('k', 10)
      sink.recordError('k', CE.timeoutError(5, 'slow'))
    }).not.toThrow()
  })
})
