/**
 * What the engine reports, and the in-memory sink that keeps it.
 *
 * `CacheMetrics` is the extension point (the Python library's protocol, camel-cased). The engine
 * calls it with these meanings:
 * - `recordHit`: a value was found and decoded; latency covers the store read and the decode.
 * - `recordMiss`: the store answered that it had nothing (or had an expired entry); latency covers the read.
 *   A read that failed is an error, not a miss.
 * - `recordWrite`: a value was written; `sizeBytes` is its serialized size. Recorded after the store
 *   accepted it (unlike the Python library, which counted refused writes too); its context says how
 *   long the write took.
 * - `recordError`: any cache-side failure (key, read, decode, validation, write, delete).
 * - `recordCoalesced` (optional): a call joined a lookup already in flight for its key and did not
 *   touch the store itself.
 * - `recordStale` (optional): a stale value stood in for the function's failure or slowness
 *   (fail-safe, timeouts).
 * - `recordNegativeHit` (optional): a miss answered from a negative entry (`withNegativeCache`): the
 *   function's remembered failure, returned without running it. A hit of its own kind: the call is
 *   not also counted as a miss (nor as a hit of a value).
 * - `recordBatch` (optional): a read the Dapr store sent for `keys` distinct keys at once (a bulk
 *   read of a batch or of `many`; 1 for a read that went alone): the batch sizes' histogram. Given
 *   to the store (`daprStore({ metrics })`), which batches reads for every function.
 *
 * Every record also gets a `MetricsContext` (the function's name and the store's), for sinks that
 * label by them. Sinks never break a call: one that throws is ignored for that record. `InMemoryMetrics` keeps
 * exact totals and per-key figures for at most `maxKeys` keys (least recently updated dropped first),
 * so it stays bounded under any key cardinality. OpenTelemetry is a separate sink.
 *
 * @since 0.1.0
 */
import * as t from 'io-ts'
import type { CacheError } from './CacheError.js'
import { checkOption, group, nonNegativeInteger, optional, withMethods } from './internal/options.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * Which cached function and which store a record is about: the same object for every record of one
 * pipeline, so a sink can cache what it derives from it.
 *
 * @category model
 * @since 0.1.0
 */
export interface MetricsContext {
  /** The cached function's name (the middle part of its keys), when it has one. */
  readonly name: string | undefined
  /** The store's name. */
  readonly store: string
  /** Set on hits the in-process tier served (`'l1'`); absent for everything the store answered. */
  readonly tier?: 'l1' | undefined
}

/**
 * A write's context, with how long the write took.
 *
 * @category model
 * @since 0.1.0
 */
export interface WriteContext extends MetricsContext {
  readonly latencyMs: number
}

/**
 * @category model
 * @since 0.1.0
 */
export interface CacheMetrics {
  /** A value served from the cache (the store, or the in-process tier: `context.tier`), with the read's latency. */
  recordHit(key: string, latencyMs: number, context?: MetricsContext): void
  /** A read that found nothing, with its latency; the function runs next. */
  recordMiss(key: string, latencyMs: number, context?: MetricsContext): void
  /** A value the store took, with its serialized size (and, in `context`, the write's latency). */
  recordWrite(key: string, sizeBytes: number, context?: WriteContext): void
  /** `key` is undefined when the failure was in building the key itself. */
  recordError(key: string | undefined, error: CacheError, context?: MetricsContext): void
  /** A call that joined one already in flight for its key: neither a hit nor a miss. */
  recordCoalesced?(key: string, context?: MetricsContext): void
  /** A stale value served instead of the function's failure or past its timeout (fail-safe). */
  recordStale?(key: string, context?: MetricsContext): void
  /** A miss answered with a remembered failure of the function, without running it (`withNegativeCache`). */
  recordNegativeHit?(key: string, context?: MetricsContext): void
  /** Value keys a tag invalidation deleted, told chunk by chunk while it runs (`invalidateTag`): its progress. */
  recordTagInvalidation?(tag: string, keysDeleted: number, context?: MetricsContext): void
  /** A read sent for `keys` distinct keys at once (1: a read that went alone); see `daprStore`'s `batch`. */
  recordBatch?(keys: number, context?: MetricsContext): void
}

/**
 * Figures for one key.
 *
 * @category model
 * @since 0.1.0
 */
export interface KeyStats {
  /** Every hit, from the store or from the in-process tier. */
  readonly hits: number
  /** The hits the in-process tier (`l1`) served, with no round trip. */
  readonly l1Hits: number
  readonly misses: number
  readonly writes: number
  readonly errors: number
  readonly coalesced: number
  /** Stale values served in place of a failure or past a timeout (fail-safe). */
  readonly stale: number
  /** Misses answered with a remembered failure of the function (`withNegativeCache`). */
  readonly negativeHits: number
  readonly bytesWritten: number
  readonly totalHitLatencyMs: number
  readonly totalMissLatencyMs: number
  /** `hits + misses`. */
  readonly totalOperations: number
  /** `hits / (hits + misses)`, 0 when there were none. */
  readonly hitRatio: number
  readonly avgHitLatencyMs: number
  readonly avgMissLatencyMs: number
}

/**
 * Figures for everything a sink has seen since it was made or reset.
 *
 * @category model
 * @since 0.1.0
 */
export interface CacheStats extends KeyStats {
  /** Errors by stable code (`E_CACHE_CONNECTION`, ...). */
  readonly errorsByCode: Readonly<Record<string, number>>
  /** Value keys deleted by tag invalidations, by tag (the most recent 1,000 tags). */
  readonly tagKeysDeleted: Readonly<Record<string, number>>
  /** Reads the store sent (`recordBatch`), alone or in bulk, and the keys they read. */
  readonly batches: number
  readonly batchedKeys: number
  /**
   * How many of those reads had how many keys: by the bucket's upper bound (`"1"`, `"2"`, `"4"`, ...
   * `"512"`, `"1024"`, and `"inf"` above), each read in the first bucket its size fits.
   */
  readonly batchSizes: Readonly<Record<string, number>>
}

/**
 * @category model
 * @since 0.1.0
 */
export type KeyStatsField = {
  [K in keyof KeyStats]: KeyStats[K] extends number ? K : never
}[keyof KeyStats]

// -------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------

/**
 * A sink that records nothing.
 *
 * @category instances
 * @since 0.1.0
 */
export const noMetrics: CacheMetrics = {
  recordHit: () => undefined,
  recordMiss: () => undefined,
  recordWrite: () => undefined,
  recordError: () => undefined,
}

/** `record`, made never to throw: a metrics sink must never be the reason a call fails. */
const safely =
  <Args extends ReadonlyArray<unknown>>(record: (...args: Args) => void) =>
  (...args: Args): void => {
    try {
      record(...args)
    } catch {
      // Ignored for this record; the sink keeps getting the next ones.
    }
  }

/** One sink, each record guarded. */
const guarded = (sink: CacheMetrics): CacheMetrics => ({
  recordHit: safely((key: string, latencyMs: number, context?: MetricsContext) => sink.recordHit(key, latencyMs, context)),
  recordMiss: safely((key: string, latencyMs: number, context?: MetricsContext) => sink.recordMiss(key, latencyMs, context)),
  recordWrite: safely((key: string, sizeBytes: number, context?: WriteContext) => sink.recordWrite(key, sizeBytes, context)),
  recordError: safely((key: string | undefined, error: CacheError, context?: MetricsContext) => sink.recordError(key, error, context)),
  ...(sink.recordCoalesced === undefined
    ? {}
    : { recordCoalesced: safely((key: string, context?: MetricsContext) => sink.recordCoalesced?.(key, context)) }),
  ...(sink.recordStale === undefined ? {} : { recordStale: safely((key: string, context?: MetricsContext) => sink.recordStale?.(key, context)) }),
  ...(sink.recordNegativeHit === undefined
    ? {}
    : { recordNegativeHit: safely((key: string, context?: MetricsContext) => sink.recordNegativeHit?.(key, context)) }),
  ...(sink.recordTagInvalidation === undefined
    ? {}
    : { recordTagInvalidation: safely((tag: string, keysDeleted: number, context?: MetricsContext) => sink.recordTagInvalidation?.(tag, keysDeleted, context)) }),
  ...(sink.recordBatch === undefined ? {} : { recordBatch: safely((keys: number, context?: MetricsContext) => sink.recordBatch?.(keys, context)) }),
})

/**
 * One sink that forwards to several, each guarded so that a throwing sink neither breaks the call
 * nor keeps the others from recording.
 *
 * @category combinators
 * @since 0.1.0
 */
export const combineMetrics = (sinks: ReadonlyArray<CacheMetrics>): CacheMetrics => {
  if (sinks.length === 0) return noMetrics
  const each = sinks.map(guarded)
  if (each.length === 1) return each[0] as CacheMetrics
  return {
    recordHit: (key, latencyMs, context) => each.forEach((sink) => sink.recordHit(key, latencyMs, context)),
    recordMiss: (key, latencyMs, context) => each.forEach((sink) => sink.recordMiss(key, latencyMs, context)),
    recordWrite: (key, sizeBytes, context) => each.forEach((sink) => sink.recordWrite(key, sizeBytes, context)),
    recordError: (key, error, context) => each.forEach((sink) => sink.recordError(key, error, context)),
    recordCoalesced: (key, context) => each.forEach((sink) => sink.recordCoalesced?.(key, context)),
    recordStale: (key, context) => each.forEach((sink) => sink.recordStale?.(key, context)),
    recordNegativeHit: (key, context) => each.forEach((sink) => sink.recordNegativeHit?.(key, context)),
    recordTagInvalidation: (tag, keysDeleted, context) => each.forEach((sink) => sink.recordTagInvalidation?.(tag, keysDeleted, context)),
    recordBatch: (keys, context) => each.forEach((sink) => sink.recordBatch?.(keys, context)),
  }
}

// -------------------------------------------------------------------------------------
// InMemoryMetrics
// -------------------------------------------------------------------------------------

/** The upper bounds of the batch sizes' buckets (powers of two), here and in OpenTelemetry. */
export const BATCH_BUCKETS: ReadonlyArray<number> = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

interface Counters {
  hits: number
  l1Hits: number
  misses: number
  writes: number
  errors: number
  coalesced: number
  stale: number
  negativeHits: number
  bytesWritten: number
  totalHitLatencyMs: number
  totalMissLatencyMs: number
}

const zero = (): Counters => ({
  hits: 0,
  l1Hits: 0,
  misses: 0,
  writes: 0,
  errors: 0,
  coalesced: 0,
  stale: 0,
  negativeHits: 0,
  bytesWritten: 0,
  totalHitLatencyMs: 0,
  totalMissLatencyMs: 0,
})

const snapshot = (counters: Counters): KeyStats => {
  const totalOperations = counters.hits + counters.misses
  return {
    ...counters,
    totalOperations,
    hitRatio: totalOperations === 0 ? 0 : counters.hits / totalOperations,
    avgHitLatencyMs: counters.hits === 0 ? 0 : counters.totalHitLatencyMs / counters.hits,
    avgMissLatencyMs: counters.misses === 0 ? 0 : counters.totalMissLatencyMs / counters.misses,
  }
}

/**
 * @category model
 * @since 0.1.0
 */
export interface InMemoryMetricsOptions {
  /** Per-key figures are kept for at most this many keys (default 1,000). Totals are always exact. */
  readonly maxKeys?: number | undefined
}

/** Whether a value is a `CacheMetrics` sink, for the options that take one. */
export const metricsSinkCodec = withMethods<CacheMetrics>('a CacheMetrics sink (recordHit, recordMiss, recordWrite, recordError)', [
  'recordHit',
  'recordMiss',
  'recordWrite',
  'recordError',
])

const metricsOptionsCodec = group('InMemoryMetrics options', { maxKeys: optional(nonNegativeInteger('a non-negative integer')) })

/** Every figure of `KeyStats` a key can be ranked by. */
const KEY_STATS_FIELDS: { readonly [K in KeyStatsField]: null } = {
  hits: null,
  l1Hits: null,
  misses: null,
  writes: null,
  errors: null,
  coalesced: null,
  stale: null,
  negativeHits: null,
  bytesWritten: null,
  totalHitLatencyMs: null,
  totalMissLatencyMs: null,
  totalOperations: null,
  hitRatio: null,
  avgHitLatencyMs: null,
  avgMissLatencyMs: null,
}

const limit = new t.Type<number, number, unknown>(
  'a number (of keys; below 0 counts as 0)',
  (u): u is number => typeof u === 'number' && !Number.isNaN(u),
  (u, c) => (typeof u === 'number' && !Number.isNaN(u) ? t.success(u) : t.failure(u, c)),
  t.identity,
)

const topKeysCodec = group('getTopKeys options', { by: optional(t.keyof(KEY_STATS_FIELDS, 'a figure of KeyStats')), limit: optional(limit) })

/**
 * Keeps counts and latencies in memory, for tests, the quick start and small services.
 *
 * @category constructors
 * @since 0.1.0
 */
export class InMemoryMetrics implements CacheMetrics {
  private readonly maxKeys: number
  private totals: Counters = zero()
  private errorsByCode: Record<string, number> = {}
  private tagKeys = new Map<string, number>()
  private batches = { reads: 0, keys: 0, sizes: new Map<string, number>() }
  private readonly perKey = new Map<string, Counters>()

  constructor(options: InMemoryMetricsOptions = {}) {
    this.maxKeys = checkOption('InMemoryMetrics', metricsOptionsCodec, options).maxKeys ?? 1000
  }

  /** Counts a hit (and an `l1Hits` when the in-process tier served it) with its latency. */
  recordHit(key: string, latencyMs: number, context?: MetricsContext): void {
    const l1 = context?.tier === 'l1' ? 1 : 0
    this.totals.hits++
    this.totals.l1Hits += l1
    this.totals.totalHitLatencyMs += latencyMs
    const forKey = this.forKey(key)
    if (forKey !== undefined) {
      forKey.hits++
      forKey.l1Hits += l1
      forKey.totalHitLatencyMs += latencyMs
    }
  }

  /** Counts a miss with its latency. */
  recordMiss(key: string, latencyMs: number): void {
    this.totals.misses++
    this.totals.totalMissLatencyMs += latencyMs
    const forKey = this.forKey(key)
    if (forKey !== undefined) {
      forKey.misses++
      forKey.totalMissLatencyMs += latencyMs
    }
  }

  /** Counts a write and its size. */
  recordWrite(key: string, sizeBytes: number): void {
    this.totals.writes++
    this.totals.bytesWritten += sizeBytes
    const forKey = this.forKey(key)
    if (forKey !== undefined) {
      forKey.writes++
      forKey.bytesWritten += sizeBytes
    }
  }

  recordError(key: string | undefined, error: CacheError): void {
    this.totals.errors++
    this.errorsByCode[error.code] = (this.errorsByCode[error.code] ?? 0) + 1
    const forKey = key === undefined ? undefined : this.forKey(key)
    if (forKey !== undefined) forKey.errors++
  }

  /** Counts a call that joined one in flight. */
  recordCoalesced(key: string): void {
    this.totals.coalesced++
    const forKey = this.forKey(key)
    if (forKey !== undefined) forKey.coalesced++
  }

  /** Counts a stale value served in place of a failure or past a timeout. */
  recordStale(key: string): void {
    this.totals.stale++
    const forKey = this.forKey(key)
    if (forKey !== undefined) forKey.stale++
  }

  /** Counts a miss answered with a remembered failure of the function (`withNegativeCache`). */
  recordNegativeHit(key: string): void {
    this.totals.negativeHits++
    const forKey = this.forKey(key)
    if (forKey !== undefined) forKey.negativeHits++
  }

  /** Totals since construction or the last `reset()`. */
  getStats(): CacheStats {
    return {
      ...snapshot(this.totals),
      errorsByCode: { ...this.errorsByCode },
      tagKeysDeleted: Object.fromEntries(this.tagKeys),
      batches: this.batches.reads,
      batchedKeys: this.batches.keys,
      batchSizes: Object.fromEntries(this.batches.sizes),
    }
  }

  /** Counts a read of `keys` keys in the batch sizes' histogram. */
  recordBatch(keys: number): void {
    this.batches.reads++
    this.batches.keys += keys
    const bucket = BATCH_BUCKETS.find((bound) => keys <= bound)
    const name = bucket === undefined ? 'inf' : String(bucket)
    this.batches.sizes.set(name, (this.batches.sizes.get(name) ?? 0) + 1)
  }

  /** Adds to the keys deleted for `tag`. */
  recordTagInvalidation(tag: string, keysDeleted: number): void {
    const before = this.tagKeys.get(tag) ?? 0
    this.tagKeys.delete(tag)
    this.tagKeys.set(tag, before + keysDeleted)
    if (this.tagKeys.size > 1000) this.tagKeys.delete(this.tagKeys.keys().next().value as string)
  }

  /** Figures for one key, or undefined when it was never seen (or was dropped past `maxKeys`). */
  getKeyStats(key: string): KeyStats | undefined {
    const counters = this.perKey.get(key)
    return counters === undefined ? undefined : snapshot(counters)
  }

  /** The keys with the largest `by` figure, largest first; ties keep least-recently-updated first. */
  getTopKeys(options: { readonly by?: KeyStatsField; readonly limit?: number } = {}): Array<readonly [string, number]> {
    const checked = checkOption('getTopKeys', topKeysCodec, options)
    const by = checked.by ?? 'hits'
    const limit = checked.limit ?? 10
    return Array.from(this.perKey, ([key, counters]) => [key, snapshot(counters)[by]] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, Math.max(0, limit))
  }

  /** Forgets every figure, totals and per key. */
  reset(): void {
    this.totals = zero()
    this.tagKeys = new Map()
    this.batches = { reads: 0, keys: 0, sizes: new Map() }
    this.errorsByCode = {}
    this.perKey.clear()
  }

  private forKey(key: string): Counters | undefined {
    if (this.maxKeys === 0) return undefined
    let counters = this.perKey.get(key)
    if (counters === undefined) {
      if (this.perKey.size >= this.maxKeys) {
        const oldest = this.perKey.keys().next()
        if (oldest.done !== true) this.perKey.delete(oldest.value)
      }
      counters = zero()
    } else {
      this.perKey.delete(key)
    }
    this.perKey.set(key, counters)
    return counters
  }
}
