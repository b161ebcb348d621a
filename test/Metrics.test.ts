import { CacheOptionsError } from '../src/errors.js'
import { keyError, connectionError } from '../src/CacheError.js'
import { InMemoryMetrics, combineMetrics } from '../src/Metrics.js'
import type { CacheMetrics } from '../src/Metrics.js'

describe('InMemoryMetrics', () => {
  it('counts and averages exactly', () => {
    const metrics = new InMemoryMetrics()
    metrics.recordHit('a', 2)
    metrics.recordHit('a', 4, { name: 'f', store: 's', tier: 'l1' })
    metrics.recordMiss('b', 10)
    metrics.recordWrite('b', 100)
    metrics.recordError('b', connectionError('down'))
    metrics.recordError(undefined, keyError('bad'))
    metrics.recordCoalesced('a')
    metrics.recordStale('b')
    metrics.recordNegativeHit('b')
    metrics.recordTagInvalidation('user:1', 100)
    metrics.recordTagInvalidation('user:1', 20)
    expect(metrics.getStats()).toEqual({
      hits: 2,
      l1Hits: 1,
      misses: 1,
      writes: 1,
      errors: 2,
      coalesced: 1,
      stale: 1,
      negativeHits: 1,
      bytesWritten: 100,
      totalHitLatencyMs: 6,
      totalMissLatencyMs: 10,
      totalOperations: 3,
      hitRatio: 2 / 3,
      avgHitLatencyMs: 3,
      avgMissLatencyMs: 10,
      errorsByCode: { E_CACHE_CONNECTION: 1, E_CACHE_KEY: 1 },
      tagKeysDeleted: { 'user:1': 120 },
      batches: 0,
      batchedKeys: 0,
      batchSizes: {},
    })
    expect(metrics.getKeyStats('a')).toMatchObject({ hits: 2, l1Hits: 1, coalesced: 1, hitRatio: 1, avgHitLatencyMs: 3 })
    expect(metrics.getKeyStats('b')).toMatchObject({ misses: 1, writes: 1, errors: 1, stale: 1, negativeHits: 1, bytesWritten: 100, hitRatio: 0 })
    expect(metrics.getKeyStats('never')).toBeUndefined()
  })

  it('keeps the batch sizes as a histogram: each read in the first power-of-two bucket it fits, "inf" past 1024', () => {
    const metrics = new InMemoryMetrics()
    for (const keys of [1, 1, 2, 3, 100, 1024, 1025]) metrics.recordBatch(keys)
    expect(metrics.getStats()).toMatchObject({ batches: 7, batchedKeys: 2156, batchSizes: { '1': 2, '2': 1, '4': 1, '128': 1, '1024': 1, inf: 1 } })
    metrics.reset()
    expect(metrics.getStats()).toMatchObject({ batches: 0, batchedKeys: 0, batchSizes: {} })
  })

  it('reports zero ratios and averages when nothing happened', () => {
    expect(new InMemoryMetrics().getStats()).toMatchObject({ totalOperations: 0, hitRatio: 0, avgHitLatencyMs: 0, avgMissLatencyMs: 0 })
  })

  it('ranks top keys in descending order by any figure', () => {
    const metrics = new InMemoryMetrics()
    for (const [key, hits] of [['x', 1], ['y', 5], ['z', 3]] as const) {
      for (let index = 0; index < hits; index++) metrics.recordHit(key, 1)
    }
    metrics.recordWrite('x', 500)
    expect(metrics.getTopKeys()).toEqual([['y', 5], ['z', 3], ['x', 1]])
    expect(metrics.getTopKeys({ by: 'hits', limit: 2 })).toEqual([['y', 5], ['z', 3]])
    expect(metrics.getTopKeys({ by: 'bytesWritten', limit: 1 })).toEqual([['x', 500]])
  })

  it('stays bounded: per-key figures for at most maxKeys keys, totals exact', () => {
    const metrics = new InMemoryMetrics({ maxKeys: 100 })
    for (let index = 0; index < 10_000; index++) metrics.recordMiss(`k${index}`, 1)
    metrics.recordHit('k9999', 1)
    expect(metrics.getStats().misses).toBe(10_000)
    expect(metrics.getTopKeys({ by: 'misses', limit: 1_000 })).toHaveLength(100)
    expect(metrics.getKeyStats('k0')).toBeUndefined()
    expect(metrics.getKeyStats('k9999')).toMatchObject({ hits: 1, misses: 1 })
  })

  it('resets everything', () => {
    const metrics = new InMemoryMetrics()
    metrics.recordHit('a', 1)
    metrics.recordError('a', keyError('x'))
    metrics.reset()
    expect(metrics.getStats()).toMatchObject({ hits: 0, errors: 0, errorsByCode: {} })
    expect(metrics.getKeyStats('a')).toBeUndefined()
  })

  it('refuses a bad maxKeys, an unknown option, and getTopKeys by a figure it does not keep, naming them', () => {
    expect(() => new InMemoryMetrics({ maxKeys: -1 })).toThrow(CacheOptionsError)
    expect(() => new InMemoryMetrics({ maxKeys: -1 })).toThrow(/maxKeys/)
    expect(() => new InMemoryMetrics({ maxkeys: 5 } as never)).toThrow(/maxkeys.*did you mean `maxKeys`/)
    const metrics = new InMemoryMetrics({ maxKeys: 0 })
    expect(() => metrics.getTopKeys({ by: 'bogus' as never })).toThrow(/getTopKeys\.by/)
    expect(() => metrics.getTopKeys({ limit: Number.NaN })).toThrow(/getTopKeys\.limit/)
    expect(() => metrics.getTopKeys({ limit: '3' as never })).toThrow(/getTopKeys\.limit/)
    expect(metrics.getTopKeys({ limit: Number.POSITIVE_INFINITY })).toEqual([])
    expect(metrics.getTopKeys({ limit: -1 })).toEqual([])
    expect(metrics.getTopKeys({ by: 'misses', limit: 3 })).toEqual([])
  })
})

describe('combineMetrics', () => {
  it('forwards to every sink, and a throwing sink neither throws nor stops the others', () => {
    const throwing: CacheMetrics = {
      recordHit: () => {
        throw new Error('sink down')
      },
      recordMiss: () => {
        throw new Error('sink down')
      },
      recordWrite: () => undefined,
      recordError: () => undefined,
    }
    const kept = new InMemoryMetrics()
    const both = combineMetrics([throwing, kept])
    expect(() => {
      both.recordHit('a', 1)
      both.recordMiss('a', 1)
      both.recordCoalesced?.('a')
    }).not.toThrow()
    expect(kept.getStats()).toMatchObject({ hits: 1, misses: 1, coalesced: 1 })
  })
})
