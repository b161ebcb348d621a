/**
 * A `CacheMetrics` sink that reports to OpenTelemetry, through `@opentelemetry/api` only: the
 * application brings (or does not bring) the SDK and its exporters.
 *
 * Instruments, made once per sink:
 * - counters `cache.hits`, `cache.misses`, `cache.writes`, `cache.errors`;
 * - histogram `cache.latency` in seconds, with `cache.operation` = `hit`, `miss` or `write`;
 * - histogram `cache.size` in bytes, one point per write;
 * - histogram `cache.batch.size` in keys, one point per read the Dapr store sent (`recordBatch`).
 *
 * Attributes are low-cardinality by default: `cache.function` (the cached function's name),
 * `cache.store` (the store's name), and `error.type` (the stable error code) on errors. The full key
 * is added as `cache.key` only with `recordKeys: true`: a key per data point makes one time series
 * per key, which most metrics back ends bill for and some refuse. The Python library put the key on
 * every point; this is the one deliberate difference.
 *
 * @since 0.1.0
 */
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api'
import { metrics as otelMetrics } from '@opentelemetry/api'
import type { CacheError } from './CacheError.js'
import type { CacheMetrics, MetricsContext, WriteContext } from './Metrics.js'
import { BATCH_BUCKETS } from './Metrics.js'

/**
 * @category model
 * @since 0.1.0
 */
export interface OpenTelemetryMetricsOptions {
  /** The meter to make instruments with (default: the global meter provider's `meterName`). */
  readonly meter?: Meter | undefined
  /** The meter's name when no meter is given (default `"dapr_state_cache"`, as the Python library). */
  readonly meterName?: string | undefined
  /** Adds the full key as `cache.key` to every data point. Off by default: see the module's notes. */
  readonly recordKeys?: boolean | undefined
}

const LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const SIZE_BUCKETS_BYTES = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]

const NO_CONTEXT: MetricsContext = { name: undefined, store: 'unknown' }

/**
 * @category constructors
 * @since 0.1.0
 */
export class OpenTelemetryMetrics implements CacheMetrics {
  private readonly hits: Counter
  private readonly misses: Counter
  private readonly writes: Counter
  private readonly errors: Counter
  private readonly stale: Counter
  private readonly negativeHits: Counter
  private readonly tagKeysDeleted: Counter
  private readonly latency: Histogram
  private readonly size: Histogram
  private readonly batchSize: Histogram
  private readonly recordKeys: boolean
  // One attributes object per pipeline (contexts are per pipeline), so records allocate nothing.
  private readonly attributes = new WeakMap<MetricsContext, { base: Attributes; hit: Attributes; miss: Attributes; write: Attributes }>()

  constructor(options: OpenTelemetryMetricsOptions = {}) {
    const meter = options.meter ?? otelMetrics.getMeter(options.meterName ?? 'dapr_state_cache')
    this.recordKeys = options.recordKeys ?? false
    this.hits = meter.createCounter('cache.hits', { description: 'Cached values found and served', unit: '{hit}' })
    this.misses = meter.createCounter('cache.misses', { description: 'Lookups that found nothing, so the function ran', unit: '{miss}' })
    this.writes = meter.createCounter('cache.writes', { description: 'Values the store accepted', unit: '{write}' })
    this.errors = meter.createCounter('cache.errors', {
      description: 'Cache-side failures; each call that had one ran uncached',
      unit: '{error}',
    })
    this.stale = meter.createCounter('cache.stale', {
      description: 'Stale values served in place of a failure of the function or past its timeout (fail-safe)',
      unit: '{value}',
    })
    this.negativeHits = meter.createCounter('cache.negative_hits', {
      description: 'Calls answered with a remembered failure of the function, without running it (negative caching); not counted as misses',
      unit: '{hit}',
    })
    this.tagKeysDeleted = meter.createCounter('cache.tag_keys_deleted', {
      description: 'Value keys deleted by tag invalidations, added chunk by chunk while one runs (its progress); attribute cache.tag',
      unit: '{key}',
    })
    this.latency = meter.createHistogram('cache.latency', {
      description: 'Time spent in the cache: store read (and decode) for hits and misses, store write for writes',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    })
    this.size = meter.createHistogram('cache.size', {
      description: 'Serialized size of each value written',
      unit: 'By',
      advice: { explicitBucketBoundaries: SIZE_BUCKETS_BYTES },
    })
    this.batchSize = meter.createHistogram('cache.batch.size', {
      description: 'Keys in each read the Dapr store sent: a bulk read of a batch or of many, or 1 for a read that went alone',
      unit: '{key}',
      advice: { explicitBucketBoundaries: [...BATCH_BUCKETS] },
    })
  }

  /** Records the batch's size in `cache.batch.size`, with `cache.store`. */
  recordBatch(keys: number, context: MetricsContext = NO_CONTEXT): void {
    this.batchSize.record(keys, this.for(context).base)
  }

  /** Adds to `cache.hits` and records the latency in `cache.latency` (`cache.operation` = hit). */
  recordHit(key: string, latencyMs: number, context: MetricsContext = NO_CONTEXT): void {
    const attributes = this.for(context)
    this.hits.add(1, this.withKey(attributes.base, key))
    this.latency.record(latencyMs / 1000, this.withKey(attributes.hit, key))
  }

  /** Adds to `cache.misses` and records the latency in `cache.latency` (`cache.operation` = miss). */
  recordMiss(key: string, latencyMs: number, context: MetricsContext = NO_CONTEXT): void {
    const attributes = this.for(context)
    this.misses.add(1, this.withKey(attributes.base, key))
    this.latency.record(latencyMs / 1000, this.withKey(attributes.miss, key))
  }

  /** Adds to `cache.writes`, records the size in `cache.size` and the latency in `cache.latency`. */
  recordWrite(key: string, sizeBytes: number, context?: WriteContext): void {
    const attributes = this.for(context ?? NO_CONTEXT)
    this.writes.add(1, this.withKey(attributes.base, key))
    this.size.record(sizeBytes, this.withKey(attributes.base, key))
    if (context !== undefined) this.latency.record(context.latencyMs / 1000, this.withKey(attributes.write, key))
  }

  recordError(key: string | undefined, error: CacheError, context: MetricsContext = NO_CONTEXT): void {
    const attributes: Attributes = { ...this.for(context).base, 'error.type': error.code }
    this.errors.add(1, key === undefined ? attributes : this.withKey(attributes, key))
  }

  /** Adds to `cache.tag_keys_deleted`, with the tag as `cache.tag`. */
  recordTagInvalidation(tag: string, keysDeleted: number, context: MetricsContext = NO_CONTEXT): void {
    this.tagKeysDeleted.add(keysDeleted, { ...this.for(context).base, 'cache.tag': tag })
  }

  /** Adds to `cache.negative_hits`. */
  recordNegativeHit(key: string, context: MetricsContext = NO_CONTEXT): void {
    this.negativeHits.add(1, this.withKey(this.for(context).base, key))
  }

  /** Adds to `cache.stale`. */
  recordStale(key: string, context: MetricsContext = NO_CONTEXT): void {
    this.stale.add(1, this.withKey(this.for(context).base, key))
  }

  private for(context: MetricsContext) {
    let attributes = this.attributes.get(context)
    if (attributes === undefined) {
      const base: Attributes = {
        'cache.store': context.store,
        ...(context.name === undefined ? {} : { 'cache.function': context.name }),
        ...(context.tier === undefined ? {} : { 'cache.tier': context.tier }),
      }
      attributes = {
        base,
        hit: { ...base, 'cache.operation': 'hit' },
        miss: { ...base, 'cache.operation': 'miss' },
        write: { ...base, 'cache.operation': 'write' },
      }
      this.attributes.set(context, attributes)
    }
    return attributes
  }

  private withKey(attributes: Attributes, key: string): Attributes {
    return this.recordKeys ? { ...attributes, 'cache.key': key } : attributes
  }
}
