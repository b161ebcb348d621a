/**
 * dapr-state-cache: a transparent, composable cache for function results, stored in a Dapr State
 * Store. Two faces over one engine: the fp-ts pipeline (`cache`, `withKey`, `withTtl`, ...) and the
 * Promise facade (`cacheable`).
 *
 * The `CacheError` exported here is the `Error` class the facade throws; the tagged error values the
 * pipeline works with are in the `CE` namespace (`CE.CacheError`, `CE.connectionError(...)`, `CE.match`).
 *
 * @since 0.1.0
 */
export * as CE from './CacheError.js'
export {
  CacheConnectionError,
  CacheError,
  CacheFunctionTimeoutError,
  CacheKeyError,
  CacheOptionsError,
  CacheSerializationError,
  CacheStoreError,
  toError,
} from './errors.js'
export type { Store, StoreEntry, Versioned } from './Store.js'
export type { Clock, ManualClock } from './Clock.js'
export { manualClock, systemClock } from './Clock.js'
export type { BreakerOptions, BreakerState, BreakerStore } from './stores/Breaker.js'
export { isStoreTrouble, withBreaker } from './stores/Breaker.js'
export type { DaprStore, DaprStoreOptions } from './stores/DaprStore.js'
export type { BatchOptions } from './stores/dapr/batch.js'
export { daprStore } from './stores/DaprStore.js'
export type { MemoryStore, MemoryStoreOptions } from './stores/MemoryStore.js'
export { memoryStore } from './stores/MemoryStore.js'
export type { DefaultKeyBuilder, KeyBuilder } from './Key.js'
export { defaultKeyBuilder, hashInput, makeKey } from './Key.js'
export type { SafeSerializer, Serializer } from './Serializer.js'
export { jsonSerializer, msgpackSerializer } from './Serializer.js'
export type {
  CacheMetrics,
  CacheStats,
  InMemoryMetricsOptions,
  KeyStats,
  KeyStatsField,
  MetricsContext,
  WriteContext,
} from './Metrics.js'
export { InMemoryMetrics, combineMetrics, noMetrics } from './Metrics.js'
export type { OpenTelemetryMetricsOptions } from './OpenTelemetryMetrics.js'
export { OpenTelemetryMetrics } from './OpenTelemetryMetrics.js'
export type { ErrorReporter, Logger } from './Logger.js'
export { cacheWarnings, silentLogger } from './Logger.js'
export type { Dedup } from './Dedup.js'
export type { Around, Cached, Compute, Computation, Computed, ComputeWrapper, ErrorOf, Invocation, Plan, Step, ValueOf } from './Cached.js'
export { around, aroundCompute, cache, fromPlan, plan, planOf, step } from './Cached.js'
export type { Fallback, FallbackOptions, KeyOptions } from './Pipeline.js'
export {
  orElse,
  orElseUncached,
  uncached,
  withBackgroundWrites,
  withDecoder,
  withDedup,
  withKey,
  withMetrics,
  withSerializer,
  withClock,
  withTracing,
  withTtl,
} from './Pipeline.js'
export type { L1, L1Options } from './stores/L1.js'
export { L1OptionsCodec, withL1 } from './stores/L1.js'
export type { Generations } from './Generations.js'
export { withGenerations } from './Generations.js'
export type { Backplane, BackplaneEvent, BackplaneOptions, BackplaneStats, Bus } from './Backplane.js'
export { BACKPLANE_ROUTE, BackplaneOptionsCodec, backplane, defaultBackplane, withBackplane } from './Backplane.js'
export type { InvalidateTagsOptions, TagInvalidation, TagsOf } from './Tags.js'
export { InvalidateTagsOptionsCodec, invalidateTags, withTags } from './Tags.js'
export type { Lease, LeaseOptions } from './Lease.js'
export { LeaseOptionsCodec, withLease } from './Lease.js'
export type { FailSafe, FailSafeOptions } from './FailSafe.js'
export { FailSafeOptionsCodec, withFailSafe } from './FailSafe.js'
export type { Timeouts, TimeoutsOptions } from './Timeouts.js'
export { TimeoutsOptionsCodec, withTimeouts } from './Timeouts.js'
export type { RefreshAhead, RefreshAheadOptions } from './RefreshAhead.js'
export type { EntryMeta } from './internal/meta.js'
export { RefreshAheadOptionsCodec, withRefreshAhead } from './RefreshAhead.js'
export { JitterCodec, jittered, withJitter } from './Jitter.js'
export type { NegativeCacheOptions } from './NegativeCache.js'
export { NegativeCacheOptionsCodec, withNegativeCache } from './NegativeCache.js'
export type { Cacheable, CacheableFunction, CacheableOptions, CacheableOptionsOf } from './cacheable.js'
export { CacheableOptionsCodec, cacheable, invalidate } from './cacheable.js'
